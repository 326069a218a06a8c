package registry_test

import (
	"math"
	"runtime"
	"testing"
	"time"

	"github.com/paved-go/paved/internal/registry"
)

type widget struct{ state string }

func reportWidget(w *widget, dst []registry.Component) []registry.Component {
	return append(dst, registry.Component{Kind: "test", Name: "w", State: w.state})
}

func countTest() (n int, states []string) {
	for _, c := range registry.Snapshot() {
		if c.Kind == "test" {
			n++
			states = append(states, c.State)
		}
	}
	return n, states
}

func TestAddReportsAndRemove(t *testing.T) {
	w := &widget{state: "open"}
	h := registry.Add("test", "w", w, reportWidget)
	if n, states := countTest(); n != 1 || states[0] != "open" {
		t.Fatalf("after Add: %d rows %v, want 1 open", n, states)
	}
	h.Remove()
	h.Remove()
	if n, _ := countTest(); n != 0 {
		t.Fatalf("after Remove: %d rows, want 0", n)
	}
	runtime.KeepAlive(w)
}

func TestUnnamedIsNotRegistered(t *testing.T) {
	w := &widget{}
	if h := registry.Add("test", "", w, reportWidget); h != nil {
		t.Fatal("Add with an empty name returned a handle")
	}
	if n, _ := countTest(); n != 0 {
		t.Fatalf("%d rows, want 0", n)
	}
}

func TestUnreachableDropsOut(t *testing.T) {
	func() {
		registry.Add("test", "w", &widget{state: "closed"}, reportWidget)
	}()
	runtime.GC()
	if n, _ := countTest(); n != 0 {
		t.Fatalf("%d rows after the component became unreachable, want 0", n)
	}
}

func TestSetEnabled(t *testing.T) {
	w := &widget{}
	registry.SetEnabled(false)
	defer registry.SetEnabled(true)
	if h := registry.Add("test", "w", w, reportWidget); h != nil {
		t.Fatal("Add while off returned a handle")
	}
	registry.SetEnabled(true)
	h := registry.Add("test", "w", w, reportWidget)
	defer h.Remove()
	registry.SetEnabled(false)
	if n, _ := countTest(); n != 0 {
		t.Fatalf("Snapshot while off: %d rows, want 0", n)
	}
}

func TestSnapshotOrder(t *testing.T) {
	a, b := &widget{state: "b"}, &widget{state: "a"}
	ha := registry.Add("test", "zeta", a, func(w *widget, dst []registry.Component) []registry.Component {
		return append(dst, registry.Component{Kind: "test", Name: "zeta", State: w.state})
	})
	hb := registry.Add("test", "alpha", b, func(w *widget, dst []registry.Component) []registry.Component {
		return append(dst, registry.Component{Kind: "test", Name: "alpha", State: w.state})
	})
	defer ha.Remove()
	defer hb.Remove()
	if _, states := countTest(); len(states) != 2 || states[0] != "a" || states[1] != "b" {
		t.Fatalf("order %v, want alpha's row then zeta's", states)
	}
}

func TestPerMinute(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := registry.NewPerMinute(t0)
	cases := []struct {
		name  string
		at    time.Duration
		total uint64
		want  float64
	}{
		{"half a minute after start", 30 * time.Second, 10, 20},
		{"a minute after start", 60 * time.Second, 30, 30},
		{"baseline moves to the newest sample a minute old", 90 * time.Second, 40, 30}, // (40-10)/1min
		{"counter reset restarts", 100 * time.Second, 5, 0},
		{"after the reset", 130 * time.Second, 15, 20},
	}
	for _, tc := range cases {
		if got := p.Observe(t0.Add(tc.at), tc.total); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: %v/min, want %v", tc.name, got, tc.want)
		}
	}
}
