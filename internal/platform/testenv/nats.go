package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// The embedded NATS server of this test process: started by the first test
// that asks for NATS without TUNGSTEN_TEST_NATS_URL, shared by the rest (each
// test has its own namespace), stopped by Main.
var embedded struct {
	once sync.Once
	srv  *server.Server
	dir  string
	err  error
}

// storePrefix names the store directories of embedded servers, so that one
// left by a process that could not clean up (no Main, or killed) is found.
const storePrefix = "tungsten-test-nats-"

// embeddedNATS returns the URL of this process's embedded NATS server with
// JetStream, on a free 127.0.0.1 port, starting it on first use.
func embeddedNATS(t testing.TB) string {
	t.Helper()
	embedded.once.Do(func() {
		removeStaleStores()
		embedded.srv, embedded.dir, embedded.err = startNATS()
	})
	if embedded.err != nil {
		t.Fatalf("embedded NATS server for the tests (set %s to use another): %v", EnvNATS, embedded.err)
	}
	return embedded.srv.ClientURL()
}

func startNATS() (*server.Server, string, error) {
	dir, err := os.MkdirTemp("", storePrefix)
	if err != nil {
		return nil, "", fmt.Errorf("creating its store directory: %w", err)
	}
	srv, err := server.NewServer(&server.Options{
		ServerName: "tungsten-test",
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		JetStream:  true,
		StoreDir:   dir,
		NoSigs:     true,
		NoLog:      true,
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("configuring: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("not ready for connections within 30s")
	}
	return srv, dir, nil
}

// stopNATS stops the embedded server, if one was started, and removes its
// store.
func stopNATS() {
	if embedded.srv == nil {
		return
	}
	embedded.srv.Shutdown()
	embedded.srv.WaitForShutdown()
	_ = os.RemoveAll(embedded.dir)
}

// removeStaleStores removes the store directories that embedded servers of
// earlier test processes left (a package without Main leaves its store
// behind): those not touched for longer than any test run lasts.
func removeStaleStores() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), storePrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && time.Since(fi.ModTime()) > 6*time.Hour {
			_ = os.RemoveAll(d)
		}
	}
}

// Main runs the package's tests and then stops what testenv started for the
// whole process (the embedded NATS server). Use it as the package's TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	stopNATS()
	os.Exit(code)
}
