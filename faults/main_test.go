package faults_test

import (
	"log/slog"
	"math/rand/v2"
	"testing"

	"go.uber.org/goleak"

	"github.com/paved-go/paved/faults"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// quiet is an Injector that logs nowhere and draws from a fixed seed.
func quiet(t testing.TB, rules ...faults.Rule) *faults.Injector {
	t.Helper()
	inj, err := faults.New("", faults.WithLogger(slog.New(slog.DiscardHandler)), faults.WithRand(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) > 0 {
		if err := inj.Set(rules...); err != nil {
			t.Fatal(err)
		}
	}
	return inj
}
