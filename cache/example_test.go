package cache_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/paved-go/paved/cache"
)

func ExampleCache_Get() {
	users, err := cache.New[int, string]("users",
		cache.WithTTL(time.Minute),
		cache.WithStaleWhileRevalidate(10*time.Second),
	)
	if err != nil {
		panic(err)
	}
	defer users.Close()

	load := func(ctx context.Context, id int) (string, error) {
		fmt.Println("loading user", id) // a database query, an HTTP call...
		return fmt.Sprintf("user-%d", id), nil
	}
	ctx := context.Background()
	for range 3 {
		name, err := users.Get(ctx, 42, load)
		fmt.Println(name, err)
	}
	st := users.Stats()
	fmt.Println("hits:", st.Hits, "misses:", st.Misses, "loads:", st.Loads)
	// Output:
	// loading user 42
	// user-42 <nil>
	// user-42 <nil>
	// user-42 <nil>
	// hits: 2 misses: 1 loads: 1
}

func ExampleWithNegativeCache() {
	users, _ := cache.New[int, string]("users", cache.WithNegativeCache(30*time.Second, nil))
	defer users.Close()

	load := func(ctx context.Context, id int) (string, error) {
		fmt.Println("looking up user", id)
		return "", fmt.Errorf("user %d: %w", id, cache.ErrNotFound)
	}
	for range 2 {
		_, err := users.Get(context.Background(), 7, load)
		fmt.Println(err, errors.Is(err, cache.ErrNotFound))
	}
	// Output:
	// looking up user 7
	// user 7: cache: not found true
	// user 7: cache: not found true
}

func ExampleSetTTL() {
	tokens, _ := cache.New[string, string]("tokens", cache.WithTTL(time.Hour))
	defer tokens.Close()

	load := func(ctx context.Context, client string) (string, error) {
		token, expiresIn := "t0k3n", 5*time.Minute  // as the token endpoint said
		cache.SetTTL(ctx, expiresIn-30*time.Second) // refresh before it expires
		return token, nil
	}
	token, _ := tokens.Get(context.Background(), "billing", load)
	fmt.Println(token)
	// Output: t0k3n
}

func ExampleResponseCache_Middleware() {
	rc, err := cache.NewResponseCache("instances", cache.WithStaleWhileRevalidate(10*time.Second))
	if err != nil {
		panic(err)
	}
	defer rc.Close()

	calls := 0
	instance := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=5")
		fmt.Fprintf(w, `{"id":%q}`, r.PathValue("id"))
	})
	mux := http.NewServeMux()
	mux.Handle("GET /instances/{id}", rc.Middleware(instance))

	get := func(header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", "/instances/i-1", nil)
		if len(header) == 2 {
			r.Header.Set(header[0], header[1])
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	first := get()
	fmt.Println(first.Code, first.Body.String())
	second := get()
	_, age := second.Header()["Age"]
	fmt.Println(second.Code, second.Body.String(), "Age present:", age)
	third := get("If-None-Match", first.Header().Get("ETag"))
	fmt.Println(third.Code, "body bytes:", third.Body.Len())
	fmt.Println("handler calls:", calls)
	// Output:
	// 200 {"id":"i-1"}
	// 200 {"id":"i-1"} Age present: true
	// 304 body bytes: 0
	// handler calls: 1
}
