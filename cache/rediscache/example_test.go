package rediscache_test

import (
	"context"
	"fmt"
	"log"
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
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6380"})
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
