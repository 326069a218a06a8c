package breaker

import "testing"

// FuzzCountWindow checks the ring against the obvious model: the last
// size outcomes of a slice, emptied on reset (0xFF).
func FuzzCountWindow(f *testing.F) {
	f.Add([]byte{3, 1, 1, 0, 1, 0, 0, 0})
	f.Add([]byte{0, 1, 1, 0xFF, 1})
	f.Add([]byte{19, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		size := 1 + int(data[0]%32)
		w := newCountWindow(size)
		var model []bool
		for i, b := range data[1:] {
			if b == 0xFF {
				w.reset()
				model = model[:0]
			} else {
				failed := b&1 == 1
				w.add(failed)
				model = append(model, failed)
				if len(model) > size {
					model = model[1:]
				}
			}
			wantFailures := 0
			for _, f := range model {
				if f {
					wantFailures++
				}
			}
			calls, failures := w.counts()
			if calls != len(model) || failures != wantFailures || w.n != calls || w.failures != failures {
				t.Fatalf("step %d: window has %d calls %d failures (fields %d %d), want %d %d",
					i, calls, failures, w.n, w.failures, len(model), wantFailures)
			}
		}
	})
}
