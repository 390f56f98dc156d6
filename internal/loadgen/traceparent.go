package loadgen

import (
	"encoding/hex"
	"math/rand/v2"
)

// Traceparent returns a W3C Trace Context header value for a new sampled
// trace ("00-<trace id>-<parent id>-01"), so every generated request is the
// root of its own trace and load shows up in the tracing backend.
func Traceparent() string {
	return formatTraceparent(rand.Uint64(), rand.Uint64(), rand.Uint64())
}

// formatTraceparent builds the header from raw ids; an all-zero id is invalid
// in the spec, so a zero part is replaced.
func formatTraceparent(hi, lo, span uint64) string {
	if hi == 0 && lo == 0 {
		lo = 1
	}
	if span == 0 {
		span = 1
	}
	var raw [24]byte
	putUint64(raw[0:8], hi)
	putUint64(raw[8:16], lo)
	putUint64(raw[16:24], span)
	var out [55]byte
	copy(out[0:3], "00-")
	hex.Encode(out[3:35], raw[0:16])
	out[35] = '-'
	hex.Encode(out[36:52], raw[16:24])
	copy(out[52:55], "-01")
	return string(out[:])
}

func putUint64(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}
