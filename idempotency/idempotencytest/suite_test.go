package idempotencytest_test

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/idempotency"
	"github.com/paved-go/paved/idempotency/idempotencytest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// mapStore is a plain Store for the suite to pass: a map under a mutex,
// expiring by time.Now. Its flaw, when not empty, is one of the mutants
// the suite must catch.
type mapStore struct {
	flaw string

	mu   sync.Mutex
	recs map[string]entry
}

type entry struct {
	rec     *idempotency.Record
	expires time.Time
}

func newMapStore(flaw string) *mapStore { return &mapStore{flaw: flaw, recs: map[string]entry{}} }

func (s *mapStore) copy(rec *idempotency.Record) *idempotency.Record {
	if s.flaw == "shares records" {
		return rec
	}
	c := *rec
	c.Response.Header = rec.Response.Header.Clone()
	c.Response.Body = slices.Clone(rec.Response.Body)
	return &c
}

func (s *mapStore) ctxErr(ctx context.Context) error {
	if s.flaw == "ignores the context" {
		return nil
	}
	return ctx.Err()
}

// live returns key's record unless it has expired.
func (s *mapStore) live(key string) *idempotency.Record {
	e, ok := s.recs[key]
	if !ok {
		return nil
	}
	if s.flaw != "never expires" && !time.Now().Before(e.expires) {
		delete(s.recs, key)
		return nil
	}
	return e.rec
}

func (s *mapStore) held(key, token string) bool {
	rec := s.live(key)
	if rec == nil {
		return false
	}
	return s.flaw == "ignores tokens" || rec.Token == token
}

func (s *mapStore) Begin(ctx context.Context, key string, rec *idempotency.Record, lockTTL time.Duration) (*idempotency.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.live(key); cur != nil && s.flaw != "overwrites on Begin" {
		return s.copy(cur), nil
	}
	s.recs[key] = entry{s.copy(rec), time.Now().Add(lockTTL)}
	return nil, nil
}

func (s *mapStore) Complete(ctx context.Context, key string, rec *idempotency.Record, ttl time.Duration) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held(key, rec.Token) {
		return idempotency.ErrNotHeld
	}
	if s.flaw == "keeps the lockTTL" {
		e := s.recs[key]
		s.recs[key] = entry{s.copy(rec), e.expires}
		return nil
	}
	s.recs[key] = entry{s.copy(rec), time.Now().Add(ttl)}
	return nil
}

func (s *mapStore) Release(ctx context.Context, key, token string) error {
	if err := s.ctxErr(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.held(key, token) || (s.recs[key].rec.Done && s.flaw != "releases done records") {
		return idempotency.ErrNotHeld
	}
	delete(s.recs, key)
	return nil
}

func (s *mapStore) Get(ctx context.Context, key string) (*idempotency.Record, error) {
	if err := s.ctxErr(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec := s.live(key); rec != nil {
		return s.copy(rec), nil
	}
	return nil, nil
}

func TestMapStore(t *testing.T) {
	idempotencytest.TestStore(t, func(*testing.T) idempotency.Store { return newMapStore("") })
}

// mutantEnv names the flaw of the store TestMutant runs the suite on.
const mutantEnv = "PAVED_IDEMPOTENCYTEST_MUTANT"

// TestMutant runs the suite on a flawed store, in the process
// TestSuiteCatchesFlaws starts; it is skipped otherwise.
func TestMutant(t *testing.T) {
	flaw := os.Getenv(mutantEnv)
	if flaw == "" {
		t.Skip("run by TestSuiteCatchesFlaws")
	}
	idempotencytest.TestStore(t, func(*testing.T) idempotency.Store { return newMapStore(flaw) })
}

// TestSuiteCatchesFlaws runs the suite, in a child process, on stores
// that each break one requirement, and requires the subtest of that
// requirement to fail.
func TestSuiteCatchesFlaws(t *testing.T) {
	mutants := map[string]string{
		"shares records":        "RecordsAreCopies",
		"ignores the context":   "ContextDone",
		"never expires":         "InProgressExpiresAfterLockTTL",
		"ignores tokens":        "CompleteOtherTokenNotHeld",
		"overwrites on Begin":   "BeginReturnsInProgress",
		"keeps the lockTTL":     "CompleteReplacesLockTTL",
		"releases done records": "ReleaseKeepsDoneRecord",
	}
	for _, flaw := range slices.Sorted(maps.Keys(mutants)) {
		subtest := mutants[flaw]
		t.Run(strings.ReplaceAll(flaw, " ", "_"), func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestMutant$/^"+subtest+"$", "-test.v", "-test.count=1", "-test.timeout=2m")
			cmd.Env = append(os.Environ(), mutantEnv+"="+flaw)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store that %s:\n%s", flaw, out)
			}
			if !strings.Contains(string(out), "--- FAIL: TestMutant/"+subtest+" ") {
				t.Fatalf("a store that %s did not fail %s:\n%s", flaw, subtest, out)
			}
		})
	}
}
