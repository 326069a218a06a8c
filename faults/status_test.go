package faults_test

import (
	"encoding/json"
	"log/slog"
	"runtime"
	"testing"

	"github.com/paved-go/paved/faults"
	"github.com/paved-go/paved/internal/registry"
)

func statusRow(t *testing.T, name string) (registry.Component, bool) {
	t.Helper()
	for _, c := range registry.Snapshot() {
		if c.Kind == registry.KindFaults && c.Name == name {
			return c, true
		}
	}
	return registry.Component{}, false
}

func TestStatusReport(t *testing.T) {
	inj, err := faults.New("status-drills", faults.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := statusRow(t, "status-drills")
	if !ok || c.State != "off" || c.Health != registry.HealthOK || c.Value != 0 || c.Unit != "injections/min" {
		t.Fatalf("row of an idle injector: %+v (found %v)", c, ok)
	}
	if err := inj.Set(faults.Rule{Name: "drill", Percent: 100, Status: 503}, faults.Rule{Name: "slow", Percent: 100, Latency: 1}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		inj.Pick(t.Context(), faults.Call{Method: "GET"})
	}
	c, _ = statusRow(t, "status-drills")
	b, err := json.Marshal(c.Stats)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"injected":3,"rules":[{"name":"drill","kind":"error","percent":100,"injected":3,"rule":{"name":"drill","percent":100,"status":503}},` +
		`{"name":"slow","kind":"latency","percent":100,"injected":0,"rule":{"name":"slow","percent":100,"latency":"1ns"}}]}`
	if c.State != "active" || c.Health != registry.HealthWarn || c.Value <= 0 || string(b) != want {
		t.Fatalf("row while active: %+v\nstats %s\nwant  %s", c, b, want)
	}
	inj.Clear()
	c, _ = statusRow(t, "status-drills")
	if b, _ := json.Marshal(c.Stats); c.State != "off" || string(b) != `{"injected":3,"rules":[]}` {
		t.Fatalf("row after Clear: %+v %s", c, b)
	}
	runtime.KeepAlive(inj)
}

func TestUnnamedIsNotRegistered(t *testing.T) {
	before := len(registry.Snapshot())
	inj := quiet(t)
	if after := len(registry.Snapshot()); after > before { // fewer: an earlier test's injector was collected
		t.Fatalf("an unnamed injector added %d rows", after-before)
	}
	runtime.KeepAlive(inj)
}
