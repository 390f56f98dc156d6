package app

import (
	"encoding/binary"
	"errors"
	"strconv"
)

// SlotKind names a per-viewer flag left open in a Rendered response.
type SlotKind byte

// The viewer's flags of an article: whether they favorited it, and whether
// they follow its author.
const (
	SlotFavorited SlotKind = 1 // ID is the article's
	SlotFollowing SlotKind = 2 // ID is the author's
)

// Slot is one open flag: a JSON boolean written per viewer.
type Slot struct {
	Kind SlotKind
	ID   int64
}

// Rendered is a response body encoded once for every viewer: literal JSON
// with the viewer's flags left as slots between the parts. Hot reads cache
// it as bytes and only write the flags per request, so a hit costs neither
// a decode nor an encode nor an author query (ADR 0006).
type Rendered struct {
	Parts [][]byte // len(Slots)+1 literal pieces
	Slots []Slot
}

// Lit appends literal JSON.
func (r *Rendered) Lit(b []byte) {
	if len(r.Parts) == 0 {
		r.Parts = append(r.Parts, nil)
	}
	last := len(r.Parts) - 1
	r.Parts[last] = append(r.Parts[last], b...)
}

// Slot appends an open flag.
func (r *Rendered) Slot(k SlotKind, id int64) {
	if len(r.Parts) == 0 {
		r.Parts = append(r.Parts, nil)
	}
	r.Slots = append(r.Slots, Slot{Kind: k, ID: id})
	r.Parts = append(r.Parts, nil)
}

// IDs returns the distinct IDs of the slots of kind k, in order.
func (r Rendered) IDs(k SlotKind) []int64 {
	var out []int64
	seen := map[int64]bool{}
	for _, s := range r.Slots {
		if s.Kind == k && !seen[s.ID] {
			seen[s.ID] = true
			out = append(out, s.ID)
		}
	}
	return out
}

// Bytes writes the body for a viewer whose flags are favorited (article IDs)
// and following (author IDs); nil maps mean false everywhere.
func (r Rendered) Bytes(favorited, following map[int64]bool) []byte {
	return r.BytesWith(r.Flags(favorited, following))
}

// Flags returns the value of every slot for a viewer's flags.
func (r Rendered) Flags(favorited, following map[int64]bool) []bool {
	out := make([]bool, len(r.Slots))
	for i, s := range r.Slots {
		switch s.Kind {
		case SlotFavorited:
			out[i] = favorited[s.ID]
		case SlotFollowing:
			out[i] = following[s.ID]
		}
	}
	return out
}

// BytesWith writes the body with flags[i] in slot i (false past the end).
func (r Rendered) BytesWith(flags []bool) []byte {
	n := 0
	for _, p := range r.Parts {
		n += len(p)
	}
	out := make([]byte, 0, n+5*len(r.Slots))
	for i, p := range r.Parts {
		out = append(out, p...)
		if i == len(r.Slots) {
			break
		}
		out = strconv.AppendBool(out, i < len(flags) && flags[i])
	}
	return out
}

// MarshalBinary encodes r for the cache: the slot count, then each part
// (length-prefixed) followed by its slot.
func (r Rendered) MarshalBinary() []byte {
	n := binary.MaxVarintLen64
	for _, p := range r.Parts {
		n += len(p) + binary.MaxVarintLen64
	}
	out := make([]byte, 0, n+len(r.Slots)*(1+binary.MaxVarintLen64))
	out = binary.AppendUvarint(out, uint64(len(r.Slots)))
	for i, p := range r.Parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
		if i < len(r.Slots) {
			out = append(out, byte(r.Slots[i].Kind))
			out = binary.AppendVarint(out, r.Slots[i].ID)
		}
	}
	return out
}

var errBadRendered = errors.New("malformed rendered response in cache")

// UnmarshalRendered decodes what MarshalBinary wrote. The parts alias b.
func UnmarshalRendered(b []byte) (Rendered, error) {
	slots, n := binary.Uvarint(b)
	if n <= 0 || slots > uint64(len(b)) {
		return Rendered{}, errBadRendered
	}
	b = b[n:]
	r := Rendered{Parts: make([][]byte, 0, slots+1), Slots: make([]Slot, 0, slots)}
	for i := uint64(0); i <= slots; i++ {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return Rendered{}, errBadRendered
		}
		r.Parts = append(r.Parts, b[n:n+int(l):n+int(l)])
		b = b[n+int(l):]
		if i == slots {
			break
		}
		if len(b) < 2 {
			return Rendered{}, errBadRendered
		}
		k := SlotKind(b[0])
		id, n := binary.Varint(b[1:])
		if n <= 0 {
			return Rendered{}, errBadRendered
		}
		r.Slots = append(r.Slots, Slot{Kind: k, ID: id})
		b = b[1+n:]
	}
	if len(b) != 0 {
		return Rendered{}, errBadRendered
	}
	return r, nil
}
