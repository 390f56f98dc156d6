package events

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedServer runs a NATS server with JetStream inside the process, for
// the embedded default. It accepts no network connections: only this
// process's clients reach it.
type EmbeddedServer struct {
	srv      *server.Server
	storeDir string
	log      *slog.Logger
	nlog     *natsLogger
	stop     chan struct{}
	done     chan struct{}
}

// StartEmbedded starts the server with its store under dataDir/nats, and
// its JetStream watchdog (see watch); log may be nil.
func StartEmbedded(dataDir string, log *slog.Logger) (*EmbeddedServer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	storeDir := filepath.Join(dataDir, "nats")
	srv, err := server.NewServer(&server.Options{
		ServerName: "tungsten-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   storeDir,
		NoSigs:     true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating embedded NATS server: %w", err)
	}
	nlog := &natsLogger{log: log}
	srv.SetLoggerV2(nlog, false, false, false)
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start within 10s")
	}
	e := &EmbeddedServer{srv: srv, storeDir: storeDir, log: log, nlog: nlog, stop: make(chan struct{}), done: make(chan struct{})}
	go e.watch(time.Second, minFreeToRestart)
	return e, nil
}

// minFreeToRestart is the free space on the store's disk at which the
// watchdog restarts a JetStream whose store failed a write: less, and the
// first writes would fail again.
const minFreeToRestart = 4 << 20

// natsLogger passes the embedded server's warnings and errors to the
// process's log (an error's text as "error", so that the dedupe handler
// folds the one-per-message repeats of a full disk), and notes a stream
// store's failed write: nats-server then fails every later write to that
// stream, even once space is back, until JetStream restarts.
type natsLogger struct {
	log         *slog.Logger
	writeFailed atomic.Bool
}

func (l *natsLogger) Noticef(string, ...any) {}
func (l *natsLogger) Debugf(string, ...any)  {}
func (l *natsLogger) Tracef(string, ...any)  {}
func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn("embedded NATS", "error", fmt.Sprintf(format, v...))
}
func (l *natsLogger) Fatalf(format string, v ...any) { l.Errorf(format, v...) }
func (l *natsLogger) Errorf(format string, v ...any) {
	// The format is nats-server's constant for a stream store's sticky
	// write error (stream.setWriteErrLocked); the test of watch fails if it
	// changes.
	if strings.Contains(format, "critical write error") {
		l.writeFailed.Store(true)
	}
	l.log.Error("embedded NATS", "error", fmt.Sprintf(format, v...))
}

// watch keeps JetStream able to store events. The embedded default keeps
// the JetStream store on the data disk beside the SQLite files, and when a
// write to a stream's store fails (the disk is full) nats-server fails
// every later write to that stream, or turns JetStream off altogether, for
// as long as the process lives: one full disk, freed a second later, would
// stop every event until a restart, the outbox growing behind it. So once
// there is room again (minFree bytes free), watch restarts JetStream, which
// recovers its streams and durable consumers from the store; events whose
// publish failed were never acknowledged and are still in the outbox.
func (e *EmbeddedServer) watch(every time.Duration, minFree uint64) {
	defer close(e.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		}
		failed, enabled := e.nlog.writeFailed.Load(), e.srv.JetStreamEnabled()
		if !failed && enabled {
			continue
		}
		if free, err := freeBytes(e.storeDir); err != nil || free < minFree {
			continue // still full: a restart would fail the same way
		}
		e.nlog.writeFailed.Store(false)
		if enabled {
			if err := e.srv.ShutdownJetStream(); err != nil {
				e.log.Warn("restarting embedded JetStream", "error", err)
				continue
			}
		}
		if err := e.srv.EnableJetStream(&server.JetStreamConfig{StoreDir: e.storeDir}); err != nil {
			e.log.Warn("restarting embedded JetStream", "error", err)
			continue
		}
		e.log.Info("embedded JetStream restarted after its store failed a write (disk full?)")
	}
}

func freeBytes(dir string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// Connect returns an in-process connection.
func (e *EmbeddedServer) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name(name))
	if err != nil {
		return nil, fmt.Errorf("connecting to embedded NATS: %w", err)
	}
	return nc, nil
}

// Shutdown stops the watchdog and the server and waits for them.
func (e *EmbeddedServer) Shutdown() {
	close(e.stop)
	<-e.done
	e.srv.Shutdown()
	e.srv.WaitForShutdown()
}

// Dial connects to an external NATS server and keeps reconnecting for ever:
// a NATS outage delays events (they wait in the outbox) but loses none.
func Dial(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.Timeout(5*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS %s: %w", url, err)
	}
	return nc, nil
}
