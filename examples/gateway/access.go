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
// compartment. The rules, one set per route, are expressions compiled
// when the gateway starts; an instance's compartment is looked up from the
// upstream by the "instance" resolver, so "terminate an instance of your
// own compartment" is a one-line rule.

// demoKeys are the demo's API keys. A real service loads hashed keys from
// its secret store (authz.WithKeyLookup); NewAPIKeys keeps only SHA-256
// digests of these.
var demoKeys = map[string]*authz.Principal{
	"alice-key": {ID: "alice", Type: "user", Tenant: "prod", Roles: []string{"operator"}},
	"bob-key":   {ID: "bob", Type: "user", Tenant: "dev", Roles: []string{"operator"}},
	"carol-key": {ID: "carol", Type: "user", Tenant: "dev", Roles: []string{"viewer"}},
	"admin-key": {ID: "admin", Type: "user", Tenant: "ops", Roles: []string{"admin"}},
}

// Rules every route shares.
var (
	admins = authz.Allow("admins", `hasRole("admin")`)
	// ownInstance is true when the instance in the path belongs to the
	// caller's compartment. The lookup is memoized for the request, and
	// the instance found is what authz.Resource returns to the handler.
	ownInstance = `resource("instance", request.pathValue("id")).compartment == principal.tenant`
)

// accessRules are the gateway's rules by route. Admins may do anything;
// everyone else works in their own compartment, and only operators change
// anything.
func accessRules() []authz.Option {
	return []authz.Option{
		authz.WithRoute("GET /instances", admins,
			authz.Allow("list own compartment", `request.query("compartment") == principal.tenant`)),
		authz.WithRoute("GET /instances/{id}", admins,
			authz.Allow("read own instance", ownInstance)),
		authz.WithRoute("POST /instances", admins,
			authz.Allow("operators launch in own compartment",
				`hasRole("operator") && request.body.compartment == principal.tenant`)),
		authz.WithRoute("POST /instances/{id}/terminate", admins,
			authz.Allow("operators terminate own instance", `hasRole("operator") && `+ownInstance)),
		authz.WithRoute("GET /admin/faults", admins),
		authz.WithRoute("POST /admin/faults", admins),
		authz.WithRoute("DELETE /admin/faults", admins),
		authz.WithPublic("GET /healthz", "GET /metrics"),
	}
}

// newAccess returns the gateway's Authorizer, and a function that
// releases its lookup cache. Instances are looked up from the upstream
// through client (the same resilience chain as proxied calls) and kept
// for 2 s, as long as the response cache keeps them (the rules read only
// an instance's compartment, which never changes; a rule about its state
// would have to look it up afresh). With rdb (-redis) the lookups are
// shared by every gateway on that Redis: one gateway's lookup serves the
// others, and only one of them asks the upstream for a missing instance.
// An upstream outage answers 503, so a client retries instead of
// concluding it lacks access.
func newAccess(upstream *url.URL, client *http.Client, logger *slog.Logger, rdb redis.UniversalClient) (*authz.Authorizer, func(), error) {
	keys, err := authz.NewAPIKeys(demoKeys, authz.WithRealm("paved-gateway"))
	if err != nil {
		return nil, nil, err
	}
	lookups, release, err := newLookupCache(rdb, logger)
	if err != nil {
		return nil, nil, err
	}
	resolve := instanceResolver(upstream, client)
	opts := append(accessRules(),
		authz.WithAuthenticator(keys),
		authz.WithResolver("instance", func(ctx context.Context, id string) (any, error) {
			return lookups.Get(ctx, id, func(ctx context.Context, id string) (Instance, error) { return resolve(ctx, id) })
		}),
		authz.WithOutageStatus(http.StatusServiceUnavailable),
		authz.WithLogger(logger),
	)
	az, err := authz.New(opts...)
	if err != nil {
		release()
		return nil, nil, err
	}
	return az, func() { az.Close(); release() }, nil
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
