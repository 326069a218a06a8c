package redisbreaker_test

import (
	"context"
	"errors"
	"log"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/breaker/redisbreaker"
)

// Every instance of a service builds its breakers with the same Redis
// store: a dependency failing for one instance is then rejected by all.
// (Not run: it needs a Redis server at REDIS_ADDR.)
func ExampleNewStore() {
	client := redis.NewClient(&redis.Options{
		Addr:                  os.Getenv("REDIS_ADDR"),
		ContextTimeoutEnabled: true, // lets the store bound each call
	})
	defer client.Close()
	store, err := redisbreaker.NewStore(client)
	if err != nil {
		log.Fatal(err)
	}
	b, err := breaker.New("inventory",
		breaker.WithSharedState(store),
		breaker.WithConsecutiveFailures(5), // shared state needs a shareable rule
	)
	if err != nil {
		log.Fatal(err)
	}
	err = b.Do(context.Background(), func(ctx context.Context) error {
		return nil // call the inventory service
	})
	if errors.Is(err, breaker.ErrOpen) {
		log.Print("inventory is failing; another instance may have seen it first")
	}
}
