package memo

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

func TestGetComputesOncePerKey(t *testing.T) {
	var m Map[int]
	var calls atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := m.Get("a", func() (int, error) { calls.Add(1); return 7, nil })
			if v != 7 || err != nil {
				t.Errorf("got %d, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Errorf("computed %d times", calls.Load())
	}
	boom := errors.New("boom")
	if _, err := m.Get("b", func() (int, error) { return 0, boom }); err != boom {
		t.Errorf("error %v", err)
	}
	if _, err := m.Get("b", func() (int, error) { return 1, nil }); err != boom {
		t.Errorf("an error is kept too, got %v", err)
	}
}
