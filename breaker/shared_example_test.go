package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/paved-go/paved/breaker"
)

// Two instances of a service share their breaker's state: instance a sees
// the failures, instance b rejects without having seen one. In production
// the store is a redisbreaker.Store; here it is one in memory.
func ExampleWithSharedState() {
	store := newMemStore()
	opts := []breaker.Option{
		breaker.WithSharedState(store),
		breaker.WithConsecutiveFailures(3),
		breaker.WithLogger(slog.New(slog.DiscardHandler)),
	}
	a, _ := breaker.New("inventory", opts...)
	b, _ := breaker.New("inventory", opts...)
	ctx := context.Background()
	for range 3 {
		_ = a.Do(ctx, func(context.Context) error { return errors.New("inventory: 503") })
	}
	err := b.Do(ctx, func(context.Context) error {
		fmt.Println("not called")
		return nil
	})
	fmt.Println(a.State(), b.State(), errors.Is(err, breaker.ErrOpen))
	// Output: open open true
}
