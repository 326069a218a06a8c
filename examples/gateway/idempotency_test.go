package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestGatewayIdempotency is the README's idempotency walk-through: a
// launch needs an Idempotency-Key, a retry with it gets the same
// instance, another body with it 422, and two concurrent launches with
// one key launch once.
func TestGatewayIdempotency(t *testing.T) {
	g := startGateway(t)
	// A plain client: it sends exactly the keys the test gives.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	launch := func(apiKey, idemKey, body string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", g.base+"/instances", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", apiKey)
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	id := func(body string) string {
		var inst Instance
		_ = json.Unmarshal([]byte(body), &inst)
		return inst.ID
	}
	// Each step its own caller: every key may launch twice a minute.
	p1, p2, p3, p4 := testKey(0), testKey(1), testKey(2), testKey(3)

	// Draft section 2.7: a missing key on an operation that requires one
	// is 400 with a link to the documentation.
	if resp, body := launch(p1, "", `{"compartment":"dev"}`); resp.StatusCode != 400 ||
		!strings.Contains(body, "https://github.com/paved-go/paved#idempotency") {
		t.Fatalf("no key: %d %s; want 400 with the docs link", resp.StatusCode, body)
	}

	first, firstBody := launch(p2, `"launch-1"`, `{"compartment":"dev","displayName":"web-9"}`)
	if first.StatusCode != 201 || id(firstBody) == "" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("launch: %d %s", first.StatusCode, firstBody)
	}
	retry, retryBody := launch(p2, `"launch-1"`, `{"compartment":"dev","displayName":"web-9"}`)
	if retry.StatusCode != 201 || id(retryBody) != id(firstBody) || retry.Header.Get("Idempotent-Replayed") != "true" ||
		retry.Header.Get("Location") != first.Header.Get("Location") {
		t.Fatalf("retry: %d %v %s; want the first launch replayed (%s)", retry.StatusCode, retry.Header, retryBody, id(firstBody))
	}

	if resp, _ := launch(p3, `"launch-2"`, `{"compartment":"dev","displayName":"a"}`); resp.StatusCode != 201 {
		t.Fatalf("launch: %d", resp.StatusCode)
	}
	if resp, body := launch(p3, `"launch-2"`, `{"compartment":"dev","displayName":"b"}`); resp.StatusCode != 422 ||
		!strings.Contains(body, "another request") {
		t.Fatalf("another body with the key: %d %s; want 422", resp.StatusCode, body)
	}

	// Two at once with one key: one launch; the second waits for the
	// first (x-platform idempotency.wait) and gets its answer.
	var wg sync.WaitGroup
	ids := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			resp, body := launch(p4, `"launch-3"`, `{"compartment":"dev","displayName":"twin"}`)
			codes[i], ids[i] = resp.StatusCode, id(body)
		})
	}
	wg.Wait()
	if codes[0] != 201 || codes[1] != 201 || ids[0] == "" || ids[0] != ids[1] {
		t.Fatalf("concurrent launches: %v %v; want both 201 with one instance", codes, ids)
	}
	var list struct{ Items []Instance }
	if resp := g.do(t, "GET", "/instances?compartment=dev", "", "", &list); resp.StatusCode != 200 {
		t.Fatalf("list: %d", resp.StatusCode)
	}
	twins := 0
	for _, inst := range list.Items {
		if inst.DisplayName == "twin" {
			twins++
		}
	}
	if twins != 1 {
		t.Fatalf("%d instances named twin, want 1", twins)
	}
}
