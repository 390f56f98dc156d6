package events

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
)

// TestEmbeddedJetStreamComesBackAfterTheServerTurnsItOff: nats-server turns
// JetStream off for good when it runs out of storage (handleOutOfSpace
// calls ShutdownJetStream). The embedded server's watchdog turns it on
// again, with its streams and messages.
func TestEmbeddedJetStreamComesBackAfterTheServerTurnsItOff(t *testing.T) {
	t.Parallel()
	srv, js := streamWithOneMessage(t, t.TempDir())
	ctx := t.Context()

	require.NoError(t, srv.srv.ShutdownJetStream()) // what the server does when out of storage
	require.False(t, srv.srv.JetStreamEnabled())

	require.Eventually(t, func() bool {
		_, err := js.Publish(ctx, "s.after", []byte("published again"))
		return err == nil
	}, 15*time.Second, 200*time.Millisecond, "JetStream is not back")
	s, err := js.Stream(ctx, "S")
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, "s.before")
	require.NoError(t, err)
	require.Equal(t, "kept", string(msg.Data), "the stream came back from the store")
}

// TestEmbeddedJetStreamStoresAgainAfterADiskFull: a stream's store that
// failed a write for want of space fails every later one, even once space
// is back (nats-server keeps the error), until JetStream restarts, which
// the watchdog does once there is room. The data directory is a tmpfs of
// its own, filled and freed.
func TestEmbeddedJetStreamStoresAgainAfterADiskFull(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs for the data directory needs root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", dir).CombinedOutput()
	require.NoError(t, err, "mounting a tmpfs: %s", out)
	t.Cleanup(func() { _ = exec.Command("umount", dir).Run() })
	srv, js := streamWithOneMessage(t, dir)
	ctx := t.Context()

	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Close())
	publish := func(subject string) error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		_, err := js.Publish(pctx, subject, make([]byte, 4<<10))
		return err
	}
	require.Eventually(t, func() bool { return publish("s.full") != nil }, 10*time.Second, 10*time.Millisecond, "the disk never refused a write")
	require.Eventually(t, srv.nlog.writeFailed.Load, 5*time.Second, 10*time.Millisecond,
		"the store's failed write was not noticed (has nats-server's message changed?)")
	require.Error(t, publish("s.still-full"), "nothing can be stored while the disk is full")

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { return publish("s.after") == nil }, 15*time.Second, 200*time.Millisecond,
		"JetStream does not store again after space was freed")
	s, err := js.Stream(ctx, "S")
	require.NoError(t, err)
	msg, err := s.GetLastMsgForSubject(ctx, "s.before")
	require.NoError(t, err)
	require.Equal(t, "kept", string(msg.Data), "the stream came back from the store")
}

// streamWithOneMessage starts an embedded server on dir with a file-stored
// stream S holding one message on s.before ("kept").
func streamWithOneMessage(t *testing.T, dir string) (*EmbeddedServer, jetstream.JetStream) {
	t.Helper()
	srv, err := StartEmbedded(dir, nil)
	require.NoError(t, err)
	t.Cleanup(srv.Shutdown)
	nc, err := srv.Connect("t")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(t, err)
	_, err = js.CreateStream(t.Context(), jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Storage: jetstream.FileStorage})
	require.NoError(t, err)
	_, err = js.Publish(t.Context(), "s.before", []byte("kept"))
	require.NoError(t, err)
	return srv, js
}
