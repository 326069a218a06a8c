package rediscache_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/cache/rediscache"
)

type User struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

// A cache of users shared by a service's instances: each keeps its own
// copies (L1) and shares loads through Redis (L2). The example needs a
// Redis server, so it is compiled but not run.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380", ContextTimeoutEnabled: true})
	defer rdb.Close()

	l2, err := rediscache.New[int, User]("users", rdb)
	if err != nil {
		log.Fatal(err)
	}
	defer l2.Close()
	users, err := cache.New[int, User]("users", cache.WithSecondLevel[int, User](l2),
		cache.WithTTL(time.Minute), cache.WithStaleWhileRevalidate(10*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	ctx := context.Background()
	u, err := users.Get(ctx, 42, func(ctx context.Context, id int) (User, error) {
		return User{ID: id, Name: "Ada"}, nil // once per key across the fleet
	})
	fmt.Println(u.Name, err)

	// After the user changes: every instance drops its copy.
	if err := l2.Delete(ctx, 42); err != nil {
		log.Print(err) // this instance's copy is gone; the others keep theirs until their TTL
	}
}

// With Redis down (here: nothing listens on the address), the cache works
// alone: each instance loads its own misses, and the breaker soon stops
// the calls to Redis.
func Example_redisDown() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true})
	defer rdb.Close()
	quiet := slog.New(slog.DiscardHandler)
	l2, err := rediscache.New[int, User]("users", rdb, rediscache.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer l2.Close()
	users, err := cache.New[int, User]("users", cache.WithSecondLevel[int, User](l2), cache.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()

	ctx := context.Background()
	for id := range 3 {
		u, err := users.Get(ctx, id, func(ctx context.Context, id int) (User, error) {
			return User{ID: id, Name: "user " + strconv.Itoa(id)}, nil
		})
		fmt.Println(u.Name, err)
	}
	// Output:
	// user 0 <nil>
	// user 1 <nil>
	// user 2 <nil>
}
