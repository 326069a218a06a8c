package redisidempotency

import "github.com/paved-go/paved/idempotency"

// Encode and Decode are the stored form of records, for the fuzz test.
func Encode(rec *idempotency.Record) []byte { return encode(rec, rec.Done) }

func Decode(b []byte) (*idempotency.Record, error) { return decode(string(b)) }
