package redisidempotency_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/redisidempotency"
)

// Every instance of a service uses the same store, so a request is run
// once whichever instance its retries reach. The idempotency middleware
// makes these calls; here they are made by hand: claim the key, run,
// store the response, and replay it to a retry. The example needs a
// Redis server, so it is compiled, not run.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redisidempotency.New(rdb, redisidempotency.WithPrefix("orders:idempotency:"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	const key = "client-7/POST /orders/8e03978e" // scoped and hashed by the middleware
	rec := &idempotency.Record{Token: "3f2a9c", Fingerprint: "sha256:9f86d0"}
	existing, err := store.Begin(ctx, key, rec, time.Minute)
	switch {
	case err != nil:
		fmt.Println("503:", err) // fail closed: the key may be in use
	case existing == nil:
		// This request holds the key: run it, then store its response.
		rec.Done = true
		rec.Response = idempotency.Response{Status: http.StatusCreated, Body: []byte(`{"order":42}`)}
		if err := store.Complete(ctx, key, rec, 24*time.Hour); errors.Is(err, idempotency.ErrNotHeld) {
			fmt.Println("ran longer than the lock: another request may have run too")
		}
	case existing.Fingerprint != rec.Fingerprint:
		fmt.Println("422: the key was used for another request")
	case existing.Done:
		fmt.Println("replay:", existing.Response.Status, string(existing.Response.Body))
	default:
		fmt.Println("409: in progress")
	}
}
