// Package redisx holds what paved's Redis packages (redisrate,
// rediscache, redisbreaker) check of the go-redis client they are given.
package redisx

import (
	"errors"

	"github.com/redis/go-redis/v9"
)

// CheckClient returns an error, whose message starts with prefix (such as
// "redisrate: New"), when client is nil or a go-redis client that ignores
// context deadlines. Without ContextTimeoutEnabled go-redis waits for a
// stalled Redis until its own read timeout (3 s by default) whatever the
// context says, so a package's timeout could not bound a call and a dead
// Redis would cost every request that long. A client of another type is
// trusted to honour deadlines.
func CheckClient(prefix string, client redis.UniversalClient) error {
	var timeouts bool
	switch c := client.(type) {
	case nil:
		return errors.New(prefix + ": nil client")
	case *redis.Client:
		if c == nil {
			return errors.New(prefix + ": nil client")
		}
		timeouts = c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		if c == nil {
			return errors.New(prefix + ": nil client")
		}
		timeouts = c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		if c == nil {
			return errors.New(prefix + ": nil client")
		}
		timeouts = c.Options().ContextTimeoutEnabled
	default:
		timeouts = true
	}
	if !timeouts {
		return errors.New(prefix + ": the client ignores context deadlines, so a call to a slow Redis could not be bounded: set ContextTimeoutEnabled in its options")
	}
	return nil
}

// ValidKeyPart reports whether s may be part of a key outside its hash
// tag (a prefix, a name): printable ASCII without '{' or '}', which would
// make it, or move, the Redis Cluster hash tag.
func ValidKeyPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e || s[i] == '{' || s[i] == '}' {
			return false
		}
	}
	return true
}
