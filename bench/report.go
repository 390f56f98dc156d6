package main

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/tungsten-blog/tungsten/internal/loadgen"
)

// writeResults prints the Markdown tables and writes them, the JSON and the
// plot to the output directory.
func writeResults(o options, res *results, stdout io.Writer) error {
	md := markdown(res)
	if _, err := io.WriteString(stdout, md); err != nil {
		return fmt.Errorf("printing the table: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("writing results.md: %w", err)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(o.out, "results.json"), b, 0o644); err != nil {
		return fmt.Errorf("writing results.json: %w", err)
	}
	return plotLatency(res, filepath.Join(o.out, "latency.png"))
}

func markdown(res *results) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Benchmark %s\n\n", res.Started.Format(time.RFC3339))
	fmt.Fprintf(&b, "%d CPUs, load average at start %s; data set: %d users, %d articles, %d comments, %d follows and %d favorites per user.\n\n",
		res.CPUs, strings.TrimSpace(res.LoadAvg), res.Seed.Users, res.Seed.Articles, res.Seed.Comments, res.Seed.FollowsPerUser, res.Seed.FavoritesPerUser)
	fmt.Fprintf(&b, "### Closed loop: %d workers, %s per endpoint\n\n", res.Workers, res.Duration)
	b.WriteString("| endpoint |")
	sep := "|---|"
	for _, s := range res.Shapes {
		if s.Name == "ceiling" {
			b.WriteString(" ceiling req/s | p50 | p99 |")
			sep += "---:|---:|---:|"
		} else {
			fmt.Fprintf(&b, " %s req/s | p50 | p99 | of ceiling |", s.Name)
			sep += "---:|---:|---:|---:|"
		}
	}
	b.WriteString("\n" + sep + "\n")
	ceiling := res.byName["ceiling"]
	for _, e := range res.Endpoints {
		fmt.Fprintf(&b, "| %s |", e)
		for _, s := range res.Shapes {
			st := s.Closed[e]
			errs := ""
			if st.Errors > 0 {
				errs = fmt.Sprintf(" (%d err)", st.Errors)
			}
			fmt.Fprintf(&b, " %.0f%s | %s | %s |", st.Throughput, errs, st.P50, st.P99)
			if s.Name != "ceiling" {
				if ceiling != nil && ceiling.Closed[e].Throughput > 0 {
					fmt.Fprintf(&b, " %.1f%% |", 100*st.Throughput/ceiling.Closed[e].Throughput)
				} else {
					b.WriteString(" – |")
				}
			}
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n### Open loop: the 90/10 mix at constant arrival rates, %s per rate\n\n", res.SweepDuration)
	b.WriteString("| offered req/s |")
	sep = "|---:|"
	for _, s := range res.Shapes {
		fmt.Fprintf(&b, " %s achieved | p50 | p95 | p99 | errors |", s.Name)
		sep += "---:|---:|---:|---:|---:|"
	}
	b.WriteString("\n" + sep + "\n")
	for i, rate := range res.Rates {
		fmt.Fprintf(&b, "| %d |", rate)
		for _, s := range res.Shapes {
			if i >= len(s.Open) {
				b.WriteString(" skipped | | | | |")
				continue
			}
			st := s.Open[i].Stats
			fmt.Fprintf(&b, " %.0f | %s | %s | %s | %d |", st.Throughput, st.P50, st.P95, st.P99, st.Errors)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Server CPU per request (closed loop, µs; all processes of the shape)\n\n| endpoint |")
	sep = "|---|"
	for _, s := range res.Shapes {
		fmt.Fprintf(&b, " %s |", s.Name)
		sep += "---:|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, e := range res.Endpoints {
		fmt.Fprintf(&b, "| %s |", e)
		for _, s := range res.Shapes {
			total, parts := 0.0, []string{}
			for _, name := range []string{"gateway", "auth", "users", "blog", "web"} {
				if v, ok := s.CPUMicros[e][name]; ok && v > 0 {
					parts = append(parts, fmt.Sprintf("%s %.0f", name, v))
				}
			}
			for _, v := range s.CPUMicros[e] {
				total += v
			}
			detail := ""
			if len(parts) > 1 {
				detail = " (" + strings.Join(parts, ", ") + ")"
			}
			fmt.Fprintf(&b, " %.0f%s |", total, detail)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n### Start-up and machine load\n\n| shape | ready | idle RSS per process (MiB) | seeding | load average (1 min) before → after |\n|---|---:|---|---:|---|\n")
	for _, s := range res.Shapes {
		var rss []string
		for _, name := range []string{"all-in-one", "gateway", "auth", "users", "blog", "web"} {
			if v, ok := s.IdleRSSMiB[name]; ok {
				rss = append(rss, fmt.Sprintf("%s %.0f", name, v))
			}
		}
		seed := "–"
		if s.SeedSeconds > 0 {
			seed = fmt.Sprintf("%.1fs", s.SeedSeconds)
		}
		fmt.Fprintf(&b, "| %s | %.0f ms | %s | %s | %s → %s |\n", s.Name, s.ReadyMillis, strings.Join(rss, ", "), seed, s.LoadAvg[0], s.LoadAvg[1])
	}
	b.WriteString("\n")
	return b.String()
}

// plotLatency draws p50 and p99 against the offered rate, a colour per shape
// (p99 solid, p50 dashed), on a log latency axis.
func plotLatency(res *results, file string) error {
	p := plot.New()
	p.Title.Text = "Tungsten: latency of the 90/10 mix vs offered rate (open loop)"
	p.X.Label.Text = "offered rate (req/s, log scale)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = rateTicks(res.Rates)
	p.Y.Label.Text = "latency (ms, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	colors := map[string]color.Color{
		"ceiling":     color.RGBA{R: 0x55, G: 0x55, B: 0x55, A: 0xff},
		"all-in-one":  color.RGBA{R: 0x1f, G: 0x6f, B: 0xeb, A: 0xff},
		"distributed": color.RGBA{R: 0xd2, G: 0x3f, B: 0x31, A: 0xff},
	}
	for _, s := range res.Shapes {
		for _, q := range []struct {
			name  string
			value func(loadgen.Stats) loadgen.Millis
			dash  []vg.Length
		}{
			{"p99", func(st loadgen.Stats) loadgen.Millis { return st.P99 }, nil},
			{"p50", func(st loadgen.Stats) loadgen.Millis { return st.P50 }, []vg.Length{vg.Points(4), vg.Points(3)}},
		} {
			pts := make(plotter.XYs, 0, len(s.Open))
			for _, pt := range s.Open {
				ms := float64(time.Duration(q.value(pt.Stats))) / 1e6
				pts = append(pts, plotter.XY{X: float64(pt.Rate), Y: max(ms, 0.01)}) // log axis: no zero
			}
			if len(pts) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(pts)
			if err != nil {
				return fmt.Errorf("plotting %s %s: %w", s.Name, q.name, err)
			}
			line.Color, points.Color = colors[s.Name], colors[s.Name]
			line.Dashes = q.dash
			line.Width = vg.Points(1.5)
			points.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			p.Legend.Add(s.Name+" "+q.name, line)
		}
	}
	if err := p.Save(9*vg.Inch, 5.5*vg.Inch, file); err != nil {
		return fmt.Errorf("writing %s: %w", file, err)
	}
	return nil
}

// rateTicks labels exactly the offered rates.
func rateTicks(rates []int) plot.ConstantTicks {
	var t plot.ConstantTicks
	for _, r := range rates {
		t = append(t, plot.Tick{Value: float64(r), Label: fmt.Sprint(r)})
	}
	return t
}
