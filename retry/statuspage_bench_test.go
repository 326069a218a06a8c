package retry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/paved-go/paved/internal/registry"
	"github.com/paved-go/paved/retry"
)

// BenchmarkBudgetExhaustedStatus measures a call whose retry the budget
// refuses, the path that counts the refusal the status page reports,
// with the Retrier registered on the page and not.
func BenchmarkBudgetExhaustedStatus(b *testing.B) {
	errFail := errors.New("fail")
	fail := func(context.Context) error { return errFail }
	ctx := context.Background()
	for _, registered := range []bool{false, true} {
		name := "unregistered"
		if registered {
			name = "registered"
		}
		b.Run(name, func(b *testing.B) {
			registry.SetEnabled(registered)
			defer registry.SetEnabled(true)
			budget, _ := retry.NewBudget(0, 0) // refuses every retry
			r, err := retry.New("bench", retry.WithBudget(budget))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Do(ctx, fail); !errors.Is(err, retry.ErrBudgetExhausted) {
					b.Fatal(err)
				}
			}
		})
	}
}
