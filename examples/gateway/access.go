package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/paved-go/paved/authz"
	"github.com/paved-go/paved/cache"
	"github.com/paved-go/paved/cache/rediscache"
	"github.com/redis/go-redis/v9"
)

// Who may call the gateway, and what they may do. Callers authenticate
// with an API key (X-API-Key); each key belongs to a principal in one
// compartment. The rules are gateway.yaml's x-platform authorization
// sections, compiled when the gateway starts; this file gives them what
// the document names: the "apiKey" scheme, the "instance" resolver (an
// instance's compartment, looked up from the upstream) and the
// permissions principals hold in each compartment.

// demoKeys are the demo's API keys. A real service loads hashed keys from
// its secret store (authz.WithKeyLookup); NewAPIKeys keeps only SHA-256
// digests of these.
var demoKeys = map[string]*authz.Principal{
	"alice-key": {ID: "alice", Type: "user", Tenant: "prod", Roles: []string{"operator"}},
	"bob-key":   {ID: "bob", Type: "user", Tenant: "dev", Roles: []string{"operator"}},
	"carol-key": {ID: "carol", Type: "user", Tenant: "dev", Roles: []string{"viewer"}},
	"admin-key": {ID: "admin", Type: "user", Tenant: "ops", Roles: []string{"admin"}},
}

// permissions says what a principal may do in a compartment, for the
// declarative resources form of authorization in gateway.yaml (terminating
// requires "terminate" in the instance's compartment): admins may do
// anything anywhere; everyone else works in their own compartment, where
// operators launch and terminate and viewers only read.
func permissions(_ context.Context, p *authz.Principal, compartment string) ([]string, error) {
	switch {
	case p == nil:
		return nil, nil
	case p.HasRole("admin"):
		return []string{"read", "launch", "terminate"}, nil
	case p.Tenant != compartment:
		return nil, nil
	case p.HasRole("operator"):
		return []string{"read", "launch", "terminate"}, nil
	case p.HasRole("viewer"):
		return []string{"read"}, nil
	}
	return nil, nil
}

// newAPIKeys returns the authenticator of the demo keys (X-API-Key),
// registered as the document's "apiKey" scheme.
func newAPIKeys() (authz.Authenticator, error) {
	return authz.NewAPIKeys(demoKeys, authz.WithRealm("paved-gateway"))
}

// newInstanceResolver returns the "instance" resolver of gateway.yaml's
// checks (resource("instance", id)) and resources entries, and a function
// that releases its cache. Instances are looked up from the upstream
// through client and kept for 2 s, as long as the response cache keeps
// them (the rules read only an instance's compartment, which never
// changes; a rule about its state would have to look it up afresh). With
// rdb (-redis) the lookups are shared by every gateway on that Redis: one
// gateway's lookup serves the others, and only one of them asks the
// upstream for a missing instance. An upstream outage answers 503 (see
// authz.WithOutageStatus in gateway.go), so a client retries instead of
// concluding it lacks access.
func newInstanceResolver(upstream *url.URL, client *http.Client, logger *slog.Logger, rdb redis.UniversalClient) (func(ctx context.Context, id string) (any, error), func(), error) {
	lookups, release, err := newLookupCache(rdb, logger)
	if err != nil {
		return nil, nil, err
	}
	resolve := instanceResolver(upstream, client)
	return func(ctx context.Context, id string) (any, error) {
		return lookups.Get(ctx, id, func(ctx context.Context, id string) (Instance, error) { return resolve(ctx, id) })
	}, release, nil
}

// newLookupCache returns the cache of instance lookups: in process, with
// Redis behind it when rdb is not nil.
func newLookupCache(rdb redis.UniversalClient, logger *slog.Logger) (*cache.Cache[string, Instance], func(), error) {
	opts := []cache.Option{cache.WithTTL(2 * time.Second), cache.WithLogger(logger)}
	var l2 *rediscache.Level[string, Instance]
	if rdb != nil {
		var err error
		if l2, err = rediscache.New[string, Instance]("gateway.instances", rdb, rediscache.WithLogger(logger)); err != nil {
			return nil, nil, err
		}
		opts = append(opts, cache.WithSecondLevel[string, Instance](l2))
	}
	c, err := cache.New[string, Instance]("gateway.instance-lookups", opts...)
	if err != nil {
		if l2 != nil {
			l2.Close()
		}
		return nil, nil, err
	}
	return c, func() {
		c.Close()
		if l2 != nil {
			l2.Close()
		}
	}, nil
}

// errNoInstance is a resolver's answer for an id the upstream does not
// know: authz.ErrNotFound denies, 403, so a caller cannot tell a missing
// instance from someone else's.
var errNoInstance = fmt.Errorf("instance: %w", authz.ErrNotFound)

// instanceResolver looks an instance up with GET /instances/{id} on the
// upstream.
func instanceResolver(upstream *url.URL, client *http.Client) func(ctx context.Context, id string) (Instance, error) {
	return func(ctx context.Context, id string) (Instance, error) {
		u := upstream.JoinPath("instances", id)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return Instance{}, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return Instance{}, err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
		case http.StatusNotFound:
			return Instance{}, errNoInstance
		default:
			return Instance{}, errors.New("instance lookup: upstream answered " + resp.Status)
		}
		var inst Instance
		if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&inst); err != nil {
			return Instance{}, fmt.Errorf("instance lookup: %w", err)
		}
		return inst, nil
	}
}
