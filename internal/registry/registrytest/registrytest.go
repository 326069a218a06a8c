// Package registrytest has the helpers the packages' status tests share:
// finding a component's rows in the registry and checking the JSON the
// status page serves of them.
package registrytest

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/paved-go/paved/internal/registry"
)

// Rows returns the registered rows of kind and name.
func Rows(kind, name string) []registry.Component {
	var rows []registry.Component
	for _, c := range registry.Snapshot() {
		if c.Kind == kind && c.Name == name {
			rows = append(rows, c)
		}
	}
	return rows
}

// Row returns the one row of kind and name and its stats, which must be
// an S; anything else fails the test.
func Row[S any](t testing.TB, kind, name string) (registry.Component, S) {
	t.Helper()
	rows := Rows(kind, name)
	if len(rows) != 1 {
		t.Fatalf("%d %s rows named %q, want 1: %+v", len(rows), kind, name, rows)
	}
	s, ok := rows[0].Stats.(S)
	if !ok {
		var want S
		t.Fatalf("stats are %T, want %T", rows[0].Stats, want)
	}
	return rows[0], s
}

// WantSnakeJSON checks that row encodes to JSON whose keys, its Stats'
// included, are all snake_case, as the status page serves it.
func WantSnakeJSON(t testing.TB, row registry.Component) {
	t.Helper()
	b, err := json.Marshal(row)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snakeCase.MatchString(k) {
					t.Errorf("JSON key %q is not snake_case in %s", k, b)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
