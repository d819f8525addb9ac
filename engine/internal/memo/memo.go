// Package memo computes a value once per key: the engine's caches of
// parsed catalogs and compiled validators, which concurrent first callers
// share.
package memo

import "sync"

// Map holds one value (or error) per key. The zero Map is ready to use.
type Map[V any] struct {
	mu sync.Mutex
	m  map[string]*entry[V]
}

type entry[V any] struct {
	once sync.Once
	v    V
	err  error
}

// Get returns the value of key, made by compute on the first call; callers
// that come while it runs wait for it instead of computing again.
func (c *Map[V]) Get(key string, compute func() (V, error)) (V, error) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*entry[V])
	}
	e, ok := c.m[key]
	if !ok {
		e = &entry[V]{}
		c.m[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.v, e.err = compute() })
	return e.v, e.err
}
