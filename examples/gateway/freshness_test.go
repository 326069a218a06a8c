package main

import (
	"testing"
	"time"
)

func TestStaleMarks(t *testing.T) {
	m := newStaleMarks()
	now := time.Unix(1_800_000_000, 0)
	if m.take("a", now) {
		t.Fatal("an unmarked instance is stale")
	}
	m.mark("a", now)
	if !m.take("a", now.Add(time.Second)) || m.take("a", now.Add(time.Second)) {
		t.Fatal("a mark is taken exactly once")
	}
	m.mark("b", now)
	if m.take("b", now.Add(markTTL+time.Second)) {
		t.Fatal("an expired mark still counts")
	}
	for i := range maxMarks + 10 {
		m.mark(string(rune('a'+i%26))+time.Duration(i).String(), now)
	}
	if n := len(m.since); n > maxMarks {
		t.Fatalf("%d marks kept, want at most %d", n, maxMarks)
	}
}
