package loadgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Texts generates titles, bodies, tags and comments in Korean and English,
// deterministically from a seed: the same seed gives the same data set, so a
// benchmark run can be repeated on the same shape of data.
type Texts struct {
	rng *rand.Rand
}

// NewTexts returns a generator seeded with seed.
func NewTexts(seed uint64) *Texts {
	return &Texts{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// The nouns stand alone in the generated sentences (no particle attached), so
// that searching for one of them finds articles in either language.
var (
	koNouns = []string{"쿠버네티스", "프로메테우스", "그라파나", "데이터베이스", "마이크로서비스", "캐시", "트레이싱", "배포", "모니터링", "컨테이너", "성능", "로그"}
	enNouns = []string{"Kubernetes", "Prometheus", "PostgreSQL", "Redis", "NATS", "tracing", "latency", "deployment", "cache", "gateway", "benchmark", "outbox"}

	koTitles = []string{
		"프로메테우스와 그라파나로 모니터링을 구축했습니다",
		"%s 운영에서 배운 다섯 가지",
		"우리 팀의 %s 도입기",
		"%s 성능 문제를 해결한 방법",
		"처음 시작하는 %s 가이드",
		"%s 장애 회고",
	}
	enTitles = []string{
		"How we cut %s p99 in half",
		"A practical guide to %s",
		"Lessons from running %s in production",
		"Why our %s was slow, and what fixed it",
		"Notes on %s at scale",
		"Debugging %s with traces",
	}
	koSentences = []string{
		"%s 설정을 바꾸고 나서 지연 시간이 크게 줄었습니다.",
		"이번 글에서는 %s 구성 과정을 단계별로 정리합니다.",
		"운영 환경에서 %s 지표를 매일 확인하고 있습니다.",
		"작은 서버 두 대로도 %s 실험을 충분히 할 수 있었습니다.",
		"장애가 났을 때 가장 먼저 %s 대시보드를 열어 봅니다.",
		"팀원들과 함께 %s 문서를 다시 작성했습니다.",
	}
	enSentences = []string{
		"After tuning %s the tail latency dropped noticeably.",
		"This post walks through setting up %s step by step.",
		"We look at the %s dashboards every morning.",
		"Two small machines were enough to experiment with %s.",
		"When something breaks, the %s panel is the first place we look.",
		"We rewrote the %s runbook together as a team.",
	}
	koComments = []string{"좋은 글 감사합니다!", "저희도 %s 때문에 고생했는데 도움이 됐어요.", "%s 설정값도 공유해 주실 수 있나요?", "잘 읽었습니다."}
	enComments = []string{"Great write-up, thanks!", "We hit the same %s issue last month.", "Could you share your %s config?", "Bookmarked."}

	// Tags mix both languages, like a Korean tech blog's.
	tagPool = []string{"go", "kubernetes", "쿠버네티스", "모니터링", "prometheus", "데이터베이스", "postgresql", "redis", "성능", "tracing", "nats", "배포", "devops", "마이크로서비스", "캐시", "회고"}
)

// Korean reports whether the next article should be Korean (about 60%: the
// platform is Korean-first).
func (t *Texts) Korean() bool { return t.rng.IntN(10) < 6 }

// Title returns an article title in Korean or English.
func (t *Texts) Title(ko bool) string {
	if ko {
		return t.fill(koTitles, koNouns)
	}
	return t.fill(enTitles, enNouns)
}

// Body returns a Markdown body of a few paragraphs.
func (t *Texts) Body(ko bool) string {
	sentences, nouns := enSentences, enNouns
	if ko {
		sentences, nouns = koSentences, koNouns
	}
	var b strings.Builder
	paras := 2 + t.rng.IntN(3)
	for p := range paras {
		if p > 0 {
			b.WriteString("\n\n")
		}
		if p == 1 {
			b.WriteString("## ")
			b.WriteString(t.pick(nouns))
			b.WriteString("\n\n")
		}
		for s := range 2 + t.rng.IntN(3) {
			if s > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(t.fill(sentences, nouns))
		}
	}
	return b.String()
}

// Description returns a one-sentence summary.
func (t *Texts) Description(ko bool) string {
	if ko {
		return t.fill(koSentences, koNouns)
	}
	return t.fill(enSentences, enNouns)
}

// Tags returns one to four distinct tags.
func (t *Texts) Tags() []string {
	n := 1 + t.rng.IntN(4)
	idx := t.rng.Perm(len(tagPool))[:n]
	out := make([]string, n)
	for i, j := range idx {
		out[i] = tagPool[j]
	}
	return out
}

// Comment returns a short comment.
func (t *Texts) Comment(ko bool) string {
	if ko {
		return t.fill(koComments, koNouns)
	}
	return t.fill(enComments, enNouns)
}

// SearchWords are words that occur on their own in generated text, so a
// search for any of them has results.
func SearchWords() []string {
	out := make([]string, 0, len(koNouns)+len(enNouns))
	out = append(out, koNouns...)
	return append(out, enNouns...)
}

// IntN exposes the generator for choices that must stay deterministic.
func (t *Texts) IntN(n int) int { return t.rng.IntN(n) }

func (t *Texts) pick(s []string) string { return s[t.rng.IntN(len(s))] }

func (t *Texts) fill(templates, nouns []string) string {
	tpl := t.pick(templates)
	if !strings.Contains(tpl, "%s") {
		return tpl
	}
	return fmt.Sprintf(tpl, t.pick(nouns))
}
