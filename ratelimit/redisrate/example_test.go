package redisrate_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/paved-go/paved/ratelimit"
	"github.com/paved-go/paved/ratelimit/redisrate"
)

// Every instance of a service builds the same limiter, by name, on the
// same Redis, and so shares each API key's bucket of 100 requests a
// minute. The example needs a Redis server, so it is compiled, not run.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	perKey, err := redisrate.New("api", rdb, rate.Every(600*time.Millisecond), 100,
		redisrate.WithFallback(redisrate.Local)) // the default: per instance while Redis is away
	if err != nil {
		fmt.Println(err)
		return
	}
	limits, err := ratelimit.NewPolicies(ratelimit.Policy{Name: "api", Limiter: perKey, Key: ratelimit.APIKey})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("GET /items", limits.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "items")
	})))
	_ = http.ListenAndServe("127.0.0.1:8080", mux)
}

// AllowN takes several tokens at once, here one per item of a batch.
func ExampleLimiter_AllowN() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	exports, err := redisrate.New("exports", rdb, 50, 200)
	if err != nil {
		fmt.Println(err)
		return
	}
	batch := 25
	if d := exports.AllowN(context.Background(), "tenant-42", batch); !d.Allowed {
		fmt.Println("retry in", d.RetryAfter.Round(time.Millisecond))
		return
	}
	fmt.Println("exporting", batch, "items")
}
