package app

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// oldEntry is a cache entry as written before entries carried their time:
// the stamp's length, the stamp, the payload.
func oldEntry(stamp string, payload []byte) []byte {
	b := binary.AppendUvarint(nil, uint64(len(stamp)))
	return append(append(b, stamp...), payload...)
}

func TestEntryFormat(t *testing.T) {
	t.Parallel()
	asOf := time.UnixMicro(1_764_650_000_123_456)
	e := appendEntry(nil, asOf, "1764650000123456", []byte("payload"))
	got, stamp, payload, ok := splitEntry(e)
	require.True(t, ok)
	require.True(t, asOf.Equal(got), "%v != %v", got, asOf)
	require.Equal(t, "1764650000123456", string(stamp))
	require.Equal(t, "payload", string(payload))

	for name, b := range map[string][]byte{
		"old format":         oldEntry("1764650000123456", []byte("payload")),
		"old, short stamp":   oldEntry("7", nil),
		"empty":              nil,
		"format byte only":   {entryFormat},
		"no stamp":           appendEntry(nil, asOf, "", []byte("x")),
		"stamp past the end": append(e[:9:9], 0x7f, '1'),
		"truncated time":     e[:5],
		"overlong length":    append(e[:9:9], 0x81, 0x00, '1'), // 1 in two bytes
	} {
		_, _, _, ok := splitEntry(b)
		require.False(t, ok, name)
	}
}

// Entries come back from Redis, which anyone with its address can write:
// no input may panic; what splits is exactly what appendEntry writes for
// its parts; and an entry in the old format never splits (it would be
// misread as a current one).
func FuzzSplitEntry(f *testing.F) {
	f.Add(appendEntry(nil, time.UnixMicro(1_764_650_000_123_456), "1764650000123456", []byte("payload")), int64(1_764_650_000_123_456), "1764650000123456", []byte("p"))
	f.Add([]byte{entryFormat}, int64(-1), "7", []byte{})
	f.Add([]byte{}, int64(0), "", []byte{entryFormat, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte, micros int64, stamp string, payload []byte) {
		if asOf, s, p, ok := splitEntry(b); ok {
			require.NotEmpty(t, s)
			require.Equal(t, b, appendEntry(nil, asOf, string(s), p), "an entry that splits is rebuilt byte for byte")
		}
		if stamp == "" {
			return
		}
		if len(stamp) < 0x80 { // generations are decimal int64s: a one-byte length
			_, _, _, ok := splitEntry(oldEntry(stamp, payload))
			require.False(t, ok, "an old-format entry must be a miss")
		}
		asOf, s, p, ok := splitEntry(appendEntry(nil, time.UnixMicro(micros), stamp, payload))
		require.True(t, ok)
		require.Equal(t, micros, asOf.UnixMicro())
		require.Equal(t, stamp, string(s))
		require.Equal(t, payload, p)
	})
}
