package overload_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paved-go/paved/overload"
)

// TestPriorityUnderOverload offers 3× the simulated server's capacity
// (20% critical, 30% default, 50% sheddable calls) and checks that the
// critical calls keep succeeding while the sheddable ones are shed.
func TestPriorityUnderOverload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := overload.NewLimiter("prio", overload.WithQueue(50), overload.WithMaxWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		srv := &server{service: 50 * time.Millisecond}
		srv.capacity.Store(50) // 1,000 calls/s
		var ok, total [3]atomic.Int64
		classes := [10]overload.Class{
			overload.Critical, overload.Critical,
			overload.Default, overload.Default, overload.Default,
			overload.Sheddable, overload.Sheddable, overload.Sheddable, overload.Sheddable, overload.Sheddable,
		}
		const warmup, run = 5 * time.Second, 20 * time.Second
		start := time.Now()
		var wg sync.WaitGroup
		for i := 0; time.Since(start) < warmup+run; i++ {
			for j := range 3 { // 3,000 calls/s
				c := classes[(3*i+j)%10]
				counted := time.Since(start) >= warmup
				wg.Go(func() {
					tk, err := l.Acquire(context.Background(), c)
					if err == nil {
						srv.call()
						tk.Done()
					}
					if counted {
						total[c+1].Add(1)
						if err == nil {
							ok[c+1].Add(1)
						}
					}
				})
			}
			time.Sleep(time.Millisecond)
		}
		wg.Wait()
		rate := func(c overload.Class) float64 { return float64(ok[c+1].Load()) / float64(total[c+1].Load()) }
		for _, c := range []overload.Class{overload.Critical, overload.Default, overload.Sheddable} {
			t.Logf("%-9s success %.4f of %d", c, rate(c), total[c+1].Load())
		}
		if r := rate(overload.Critical); r < 0.99 {
			t.Errorf("critical success rate %.4f, want >= 0.99", r)
		}
		if rs, rd := rate(overload.Sheddable), rate(overload.Default); rs >= rd || rs > 0.5 {
			t.Errorf("sheddable success %.4f, default %.4f: want sheddable shed first", rs, rd)
		}
		goodput := float64(ok[0].Load()+ok[1].Load()+ok[2].Load()) / run.Seconds() / 1000
		t.Logf("goodput %.2f of capacity", goodput)
	})
}
