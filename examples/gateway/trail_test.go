package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/paved-go/paved/audit"
)

// TestGatewayAudit: every API call, allowed or not, leaves one event in
// the trail file, with the caller, the decision, the outcome and, for a
// launch, the bodies and the new instance's address; health checks leave
// none; the file's hash chain verifies.
func TestGatewayAudit(t *testing.T) {
	g := startGateway(t)
	call := func(key, method, path, body string) int {
		t.Helper()
		return mustDo(t, g, key, method, path, body)
	}
	if got := call("bob-key", "POST", "/instances", `{"compartment":"dev","displayName":"web-3","password":"hunter2"}`); got != 400 {
		// The upstream rejects the unknown field: the call is still audited.
		t.Fatalf("launch with an unknown field: %d", got)
	}
	if got := call("bob-key", "POST", "/instances", `{"compartment":"dev","displayName":"web-3"}`); got != 201 {
		t.Fatalf("launch: %d", got)
	}
	if got := call("bob-key", "POST", "/instances/inst-0001/terminate", ""); got != 403 {
		t.Fatalf("terminate another compartment's instance: %d", got)
	}
	if got := call("", "GET", "/instances/inst-0001", ""); got != 401 {
		t.Fatalf("no key: %d", got)
	}
	if got := call("", "GET", "/healthz", ""); got != 200 {
		t.Fatalf("healthz: %d", got)
	}

	// Stop the gateway: Close writes every queued event.
	g.stop()
	if code := <-g.exit; code != 0 {
		t.Fatalf("exit %d: %s", code, g.stderr)
	}
	g.exit <- 0 // for the cleanup

	path := filepath.Join(g.auditDir, auditFile)
	if res, err := audit.Verify(path); err != nil || res.Events != 4 {
		t.Fatalf("Verify = %+v, %v; want 4 events, chain intact", res, err)
	}
	events := readTrail(t, path)
	if len(events) != 4 {
		t.Fatalf("%d events, want 4 (health checks are not audited)", len(events))
	}
	rejected, launch, denied, anonymous := events[0], events[1], events[2], events[3]

	if rejected.Data.Outcome.Code != 400 || rejected.Data.Request == nil ||
		string(rejected.Data.Request.Body) != `{"compartment":"dev","displayName":"web-3","password":"[REDACTED]"}` {
		t.Errorf("rejected launch: outcome %+v, request %s", rejected.Data.Outcome, jsonOf(rejected.Data.Request))
	}
	if launch.Type != "com.example.instances.launch" || launch.Source != "/paved/examples/gateway" ||
		launch.Data.Principal == nil || launch.Data.Principal.ID != "bob" || launch.Data.Principal.Tenant != "dev" ||
		launch.Data.Authorization == nil || launch.Data.Authorization.Decision != "allow" ||
		launch.Data.Outcome.Code != 201 || launch.Data.Response == nil {
		t.Errorf("launch event: %s", jsonOf(launch))
	}
	var ip string
	if err := json.Unmarshal(launch.Data.AdditionalFields["ipAddress"], &ip); err != nil || ip == "" {
		t.Errorf("launch additionalFields = %s, want the new instance's ipAddress", jsonOf(launch.Data.AdditionalFields))
	}
	if denied.Data.Authorization == nil || denied.Data.Authorization.Decision != "deny" || denied.Data.Outcome.Code != 403 ||
		len(denied.Data.Resources) != 1 || denied.Data.Resources[0].ID != "inst-0001" {
		t.Errorf("denied terminate: %s", jsonOf(denied.Data))
	}
	if anonymous.Data.Principal != nil || anonymous.Data.Outcome.Code != 401 {
		t.Errorf("anonymous read: %s", jsonOf(anonymous.Data))
	}
	for i, e := range events {
		if want := i + 1; e.Sequence != strconv.Itoa(want) {
			t.Errorf("event %d has sequence %q, want %d", i, e.Sequence, want)
		}
		if e.Time.IsZero() || time.Since(e.Time) > time.Minute {
			t.Errorf("event %d time %v", i, e.Time)
		}
	}
}

// trailEvent is an audit event as read back from the file.
type trailEvent struct {
	Type     string    `json:"type"`
	Source   string    `json:"source"`
	Sequence string    `json:"sequence"`
	Time     time.Time `json:"time"`
	Data     struct {
		Principal *struct {
			ID, Tenant string
		} `json:"principal"`
		Authorization *struct {
			Decision, Rule string
		} `json:"authorization"`
		Resources []struct{ Kind, ID string } `json:"resources"`
		Outcome   struct {
			Code int `json:"code"`
		} `json:"outcome"`
		Request *struct {
			Body json.RawMessage `json:"body"`
		} `json:"request"`
		Response *struct {
			Body json.RawMessage `json:"body"`
		} `json:"response"`
		AdditionalFields map[string]json.RawMessage `json:"additionalFields"`
	} `json:"data"`
}

func readTrail(t *testing.T, path string) []trailEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []trailEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e trailEvent
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
