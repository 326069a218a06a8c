package overload_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/overload"
)

// server simulates a service with a fixed capacity: a call takes
// service × max(1, inflight/capacity), in virtual time.
type server struct {
	capacity atomic.Int64
	inflight atomic.Int64
	service  time.Duration
}

func (s *server) call() {
	n := s.inflight.Add(1)
	d := s.service
	if c := s.capacity.Load(); n > c {
		d = time.Duration(float64(d) * float64(n) / float64(c))
	}
	time.Sleep(d)
	s.inflight.Add(-1)
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func TestLimiterConverges(t *testing.T) {
	for _, algo := range []overload.Algorithm{overload.Gradient2, overload.AIMD} {
		t.Run(algo.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				const workers = 300
				l, err := overload.NewLimiter("sim", overload.WithAlgorithm(algo), overload.WithQueue(workers),
					overload.WithMinRTTInterval(10*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				srv := &server{service: 50 * time.Millisecond}
				srv.capacity.Store(50)
				ctx, stop := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for ctx.Err() == nil {
							tk, err := l.Acquire(ctx, overload.Default)
							if err != nil {
								continue
							}
							srv.call()
							tk.Done()
						}
					})
				}
				phases := []int64{50, 25, 100}
				for _, capacity := range phases {
					srv.capacity.Store(capacity)
					var limits []int
					for i := range 300 { // 30 s
						time.Sleep(100 * time.Millisecond)
						if i >= 250 {
							limits = append(limits, l.Limit())
						}
					}
					got := median(limits)
					t.Logf("capacity %d: limit median %d over the last 5 s (min RTT %v)", capacity, got, l.MinRTT())
					if lo, hi := float64(capacity)*0.8, float64(capacity)*1.2; float64(got) < lo || float64(got) > hi {
						t.Errorf("capacity %d: limit settled at %d, want within ±20%% [%v, %v]", capacity, got, lo, hi)
					}
				}
				stop()
				wg.Wait()
			})
		})
	}
}

func TestLimiterShedsOverLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := overload.NewLimiter("l", overload.WithLimits(2, 10))
		if err != nil {
			t.Fatal(err)
		}
		// Measuring the no-load RTT, the limit is the minimum.
		if l.Limit() != 2 {
			t.Fatalf("Limit = %d, want 2", l.Limit())
		}
		t1, _ := l.Acquire(context.Background(), overload.Critical)
		t2, err := l.Acquire(context.Background(), overload.Critical)
		if err != nil {
			t.Fatal(err)
		}
		_, err = l.Acquire(context.Background(), overload.Critical)
		var se *overload.ShedError
		if !errors.As(err, &se) || se.Class != overload.Critical {
			t.Fatalf("Acquire over the limit = %v, want a critical *ShedError", err)
		}
		t1.Done()
		t2.Drop()
		if l.InFlight() != 0 {
			t.Errorf("InFlight = %d", l.InFlight())
		}
	})
}
