package redisidempotency_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/redisidempotency"
)

var records = map[string]*idempotency.Record{
	"in progress": {Token: "tok", Fingerprint: "fp"},
	"empty":       {},
	"done, bare":  {Token: "t", Done: true},
	"done": {Token: "tok", Fingerprint: "\x00\xff", Done: true, Response: idempotency.Response{
		Status: 201,
		Header: http.Header{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}, "X-Empty": {""}, "X-None": {}},
		Body:   []byte("{\x00}"),
	}},
	"negative status": {Token: "t", Done: true, Response: idempotency.Response{Status: -7}},
}

// The stored form holds every field of a record, and nothing else.
func TestEncodeDecode(t *testing.T) {
	for name, rec := range records {
		t.Run(name, func(t *testing.T) {
			got, err := redisidempotency.Decode(redisidempotency.Encode(rec))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, rec) {
				t.Fatalf("decoded %+v, want %+v", got, rec)
			}
		})
	}
}

// An in-progress record's response, if any, is not stored.
func TestEncodeInProgressDropsResponse(t *testing.T) {
	rec := &idempotency.Record{Token: "t", Response: idempotency.Response{Status: 200, Body: []byte("x")}}
	got, err := redisidempotency.Decode(redisidempotency.Encode(rec))
	if err != nil || got.Response.Status != 0 || got.Response.Body != nil {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

// FuzzDecode feeds the decoder values it did not write: it must return a
// record or an error, never panic or allocate beyond the input's size, and
// a record it returns must survive encoding and decoding again unchanged.
func FuzzDecode(f *testing.F) {
	for _, rec := range records {
		b := redisidempotency.Encode(rec)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(`{"token":"t"}`))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{1, 0, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := redisidempotency.Decode(b)
		if err != nil {
			if rec != nil || err.Error() == "" {
				t.Fatalf("record %+v with error %q", rec, err)
			}
			return
		}
		again, err := redisidempotency.Decode(redisidempotency.Encode(rec))
		if err != nil {
			t.Fatalf("a decoded record does not decode once encoded: %v", err)
		}
		if !reflect.DeepEqual(again, rec) {
			t.Fatalf("round trip changed %+v into %+v", rec, again)
		}
		if !rec.Done && (rec.Response.Status != 0 || rec.Response.Header != nil || rec.Response.Body != nil) {
			t.Fatalf("an in-progress record with a response: %+v", rec)
		}
		if n := len(rec.Token) + len(rec.Fingerprint) + len(rec.Response.Body); n > len(b) {
			t.Fatalf("%d bytes of fields from a value of %d", n, len(b))
		}
	})
}
