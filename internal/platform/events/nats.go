package events

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// EmbeddedServer runs a NATS server with JetStream inside the process, for
// the embedded default. It accepts no network connections: only this
// process's clients reach it.
type EmbeddedServer struct{ srv *server.Server }

// StartEmbedded starts the server with its store under dataDir/nats.
func StartEmbedded(dataDir string) (*EmbeddedServer, error) {
	srv, err := server.NewServer(&server.Options{
		ServerName: "tungsten-embedded",
		DontListen: true,
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "nats"),
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating embedded NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start within 10s")
	}
	return &EmbeddedServer{srv: srv}, nil
}

// Connect returns an in-process connection.
func (e *EmbeddedServer) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect("", nats.InProcessServer(e.srv), nats.Name(name))
	if err != nil {
		return nil, fmt.Errorf("connecting to embedded NATS: %w", err)
	}
	return nc, nil
}

// Shutdown stops the server and waits for it.
func (e *EmbeddedServer) Shutdown() {
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
