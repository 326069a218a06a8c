package redistest_test

import (
	"net"
	"testing"

	"github.com/paved-go/paved/internal/redistest"
)

func TestStartStopRestart(t *testing.T) {
	s := redistest.Start(t)
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial %s: %v", s, err)
	}
	c.Close()
	s.Stop()
	if c, err := net.Dial("tcp", s.Addr()); err == nil {
		c.Close()
		t.Fatal("the server still accepts connections after Stop")
	}
	s.Restart()
	c, err = net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatalf("dial after Restart: %v", err)
	}
	c.Close()
}
