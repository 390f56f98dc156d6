package cache

import (
	"container/list"
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/tungsten-blog/tungsten/internal/platform/faults"
)

// Memory is an in-process LRU cache with per-entry expiry.
type Memory struct {
	mu      sync.Mutex
	max     int
	ll      *list.List
	items   map[string]*list.Element
	now     func() time.Time
	metrics *Metrics
	faults  *faults.Switch
}

type entry struct {
	key     string
	val     []byte
	expires time.Time
}

// NewMemory returns a cache holding at most maxEntries values.
func NewMemory(maxEntries int, m *Metrics) *Memory {
	if maxEntries <= 0 {
		maxEntries = 10_000
	}
	return &Memory{max: maxEntries, ll: list.New(), items: map[string]*list.Element{}, now: time.Now, metrics: m}
}

// WithFaults makes the cache fail, as an unreachable Redis would, while sw
// holds a "redis" dependency fault (ADR 0016): lookups miss, writes are
// dropped, Incr errs, and each failure is counted as a cache error. Call it
// before the cache is used.
func (c *Memory) WithFaults(sw *faults.Switch) *Memory {
	c.faults = sw
	return c
}

// failed reports whether an injected fault fails this operation.
func (c *Memory) failed(op string) error {
	err := c.faults.Fail(faults.Redis)
	if err != nil {
		c.metrics.error(op)
	}
	return err
}

// Get implements Cache.
func (c *Memory) Get(_ context.Context, key string) ([]byte, bool) {
	if c.failed("get") != nil {
		c.metrics.miss()
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok || c.now().After(el.Value.(*entry).expires) {
		if ok {
			c.remove(el)
		}
		c.metrics.miss()
		return nil, false
	}
	c.ll.MoveToFront(el)
	c.metrics.hit()
	return el.Value.(*entry).val, true
}

// GetMany implements Cache.
func (c *Memory) GetMany(ctx context.Context, keys ...string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _ = c.Get(ctx, k)
	}
	return out
}

// Set implements Cache.
func (c *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) {
	if c.failed("set") != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	exp := c.now().Add(ttl)
	if el, ok := c.items[key]; ok {
		e := el.Value.(*entry)
		e.val, e.expires = val, exp
		c.ll.MoveToFront(el)
		return
	}
	c.items[key] = c.ll.PushFront(&entry{key: key, val: val, expires: exp})
	for c.ll.Len() > c.max {
		c.remove(c.ll.Back())
	}
}

// Delete implements Cache.
func (c *Memory) Delete(_ context.Context, keys ...string) {
	if c.failed("delete") != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range keys {
		if el, ok := c.items[k]; ok {
			c.remove(el)
		}
	}
}

// Incr implements Cache. Counters never expire, but they can be evicted.
func (c *Memory) Incr(_ context.Context, key string) (int64, error) {
	if err := c.failed("incr"); err != nil {
		return 0, fmt.Errorf("incrementing %s: %w", key, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.now().UnixMicro()
	if el, ok := c.items[key]; ok {
		n, _ = strconv.ParseInt(string(el.Value.(*entry).val), 10, 64)
		c.remove(el)
	}
	n++
	c.items[key] = c.ll.PushFront(&entry{key: key, val: []byte(strconv.FormatInt(n, 10)), expires: c.now().Add(100 * 365 * 24 * time.Hour)})
	return n, nil
}

func (c *Memory) remove(el *list.Element) {
	c.ll.Remove(el)
	delete(c.items, el.Value.(*entry).key)
}
