package idempotency_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/paved-go/paved/idempotency"
)

func ExampleGuard_Middleware() {
	g, err := idempotency.New("launches", idempotency.WithRequired(true),
		idempotency.WithDocsURL("https://docs.example.com/idempotency"))
	if err != nil {
		panic(err)
	}
	launched := 0
	mux := http.NewServeMux()
	mux.Handle("POST /instances", g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		launched++
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "instance %d\n", launched)
	})))

	send := func(key, body string) {
		r := httptest.NewRequest("POST", "/instances", strings.NewReader(body))
		if key != "" {
			r.Header.Set("Idempotency-Key", key)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("Idempotent-Replayed"), strings.TrimSpace(w.Body.String()))
	}
	send(`"8e03978e"`, `{"shape":"small"}`) // launches
	send(`"8e03978e"`, `{"shape":"small"}`) // a retry: replayed
	send(`"8e03978e"`, `{"shape":"large"}`) // the key reused for another request
	send("", `{"shape":"small"}`)           // no key
	fmt.Println("launched", launched)
	// Output:
	// 201  instance 1
	// 201 true instance 1
	// 422  {"type":"https://docs.example.com/idempotency","title":"Idempotency-Key is already used","status":422,"detail":"idempotency: key already used for another request"}
	// 400  {"type":"https://docs.example.com/idempotency","title":"Idempotency-Key is missing","status":400,"detail":"idempotency: key required"}
	// launched 1
}

func ExampleWithFingerprintFields() {
	// Only the amount and the customer decide whether a retry is the
	// same payment; a changed timestamp is not a new request.
	g, _ := idempotency.New("payments", idempotency.WithFingerprintFields("amount", "customer.id"))
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	}))
	for _, body := range []string{
		`{"amount":100,"customer":{"id":"c1"},"sent_at":"10:00:00"}`,
		`{"amount":100,"customer":{"id":"c1"},"sent_at":"10:00:05"}`,
		`{"amount":200,"customer":{"id":"c1"},"sent_at":"10:00:09"}`,
	} {
		r := httptest.NewRequest("POST", "/payments", strings.NewReader(body))
		r.Header.Set("Idempotency-Key", `"pay-1"`)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, "replayed:", w.Header().Get("Idempotent-Replayed") == "true")
	}
	// Output:
	// 201 replayed: false
	// 201 replayed: true
	// 422 replayed: false
}

func ExampleParseKey() {
	for _, v := range []string{`"8e03978e-40d5"`, `"a\"b";v=1`, `8e03978e-40d5`, `"unterminated`} {
		k, err := idempotency.ParseKey(v)
		fmt.Printf("%q %v\n", k, err)
	}
	// Output:
	// "8e03978e-40d5" <nil>
	// "a\"b" <nil>
	// "8e03978e-40d5" <nil>
	// "" idempotency: malformed key
}

func ExampleTransport() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, err := idempotency.ParseKey(r.Header.Get("Idempotency-Key"))
		fmt.Println(r.Method, len(k), err)
	}))
	defer srv.Close()
	// Outside retry.Transport, so every attempt carries the same key:
	// idempotency.Transport(retry.Transport(nil)).
	client := &http.Client{Transport: idempotency.Transport(nil)}
	resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("launch"))
	if err != nil {
		panic(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	// Output:
	// POST 36 <nil>
}

func ExampleGuard_Do() {
	g, _ := idempotency.New("jobs")
	call := idempotency.Call{Scope: "tenant-1", Method: "StartJob", Key: "job-42", Fingerprint: "nightly"}
	for range 2 {
		resp, replayed, err := g.Do(context.Background(), call, func(context.Context) *idempotency.Response {
			fmt.Println("starting the job")
			return &idempotency.Response{Status: 200, Body: []byte("job 42 started")}
		})
		fmt.Println(string(resp.Body), replayed, err)
	}
	// Output:
	// starting the job
	// job 42 started false <nil>
	// job 42 started true <nil>
}
