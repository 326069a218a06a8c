package status_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paved-go/paved/breaker"
	"github.com/paved-go/paved/status"
)

// chromium returns the path of the distribution's Chromium, or skips the
// test without one; under CI (which installs it) a missing browser fails.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs it with apt-get install chromium")
	}
	t.Skip("chromium is not installed (apt-get install chromium): the page's browser test is skipped")
	return ""
}

// browser starts a headless Chromium of its own and returns a context to
// run actions in, with every action bounded by timeout.
func browser(t *testing.T, timeout time.Duration) context.Context {
	t.Helper()
	path := chromium(t)
	profile := filepath.Join(t.TempDir(), "profile")
	actx, stopBrowser := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1200, 800),
	)
	ctx, closeTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		closeTab()
		stopBrowser() // waits for the browser to exit
		// Its helper processes may still write in the profile for a
		// moment after it exits; TempDir's own removal follows this.
		for range 50 {
			if os.RemoveAll(profile) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first run starts the browser, which lives as long as the
	// context of that run: no timeout on it, only on what follows.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancel)
	return tctx
}

func TestPageInABrowser(t *testing.T) {
	for _, tc := range []struct {
		name, live string
		streams    bool
	}{
		{"server-sent events", "sse", true},
		// Behind a proxy that refuses the stream, the page polls.
		{"polling when the stream fails", "poll", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "browser-" + tc.live
			b := newBreaker(t, name, breaker.WithConsecutiveFailures(3), breaker.WithOpenDuration(time.Hour))
			h := newHandler(t, status.WithHistory(100*time.Millisecond, 600), status.WithTitle("gateway status"))
			var admin http.Handler = http.StripPrefix("/admin", h)
			if !tc.streams {
				page := admin
				admin = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/admin/events" {
						http.Error(w, "no streaming here", http.StatusBadGateway)
						return
					}
					page.ServeHTTP(w, r)
				})
			}
			srv := httptest.NewServer(admin)
			// Cleanups run last first: the browser exits, closing its
			// event stream, before the server closes.
			t.Cleanup(srv.Close)
			ctx := browser(t, 2*time.Minute)
			pageTurnsOpen(t, ctx, srv.URL+"/admin/", b, tc.live)
		})
	}
}

// pageTurnsOpen loads the page, waits for its first live update, opens b
// with failing calls, and waits for b's row to show open without a reload.
func pageTurnsOpen(t *testing.T, ctx context.Context, url string, b *breaker.Breaker, live string) {
	row := `tr[data-name="` + b.Name() + `"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(url),
		// The first live update: the inline script ran under the CSP and
		// the event stream (or a poll) delivered a document.
		chromedp.WaitReady(`html[data-live="`+live+`"][data-updates]`),
		chromedp.WaitVisible(row+`[data-state="closed"][data-health="ok"]`),
		chromedp.Evaluate[chromedp.Void](`window.loadedOnce = true`),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}

	for range 3 {
		_ = b.Do(ctx, fail)
	}
	if b.State() != breaker.StateOpen {
		t.Fatalf("breaker %v, want open", b.State())
	}
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(row+`[data-state="open"][data-health="bad"]`),
		chromedp.WaitVisible(row+` td.chart svg polyline`),
	); err != nil {
		t.Fatalf("waiting for the row to show open: %v", err)
	}

	// Shown without a reload, coloured by the inline style sheet.
	same, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.loadedOnce === true`))
	if err != nil || !same {
		t.Fatalf("the page reloaded (%v)", err)
	}
	colour, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`getComputedStyle(document.querySelector('`+row+` td.state')).color`))
	if err != nil || colour != "rgb(207, 34, 46)" {
		t.Fatalf("open state coloured %q (%v), want the style sheet's red", colour, err)
	}
	if mode, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.dataset.live`)); err != nil || mode != live {
		t.Fatalf("page updated by %q (%v), want %q", mode, err, live)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil || title != "gateway status" {
		t.Fatalf("title %q (%v)", title, err)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
		t.Fatalf("screenshot is not a PNG image (%d bytes)", len(png))
	}
	dir := t.TempDir()
	if d := os.Getenv("STATUS_SCREENSHOT_DIR"); d != "" {
		dir = d // to look at the page
	}
	shot := filepath.Join(dir, "status-"+live+".png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}

// press clicks a button through the DOM. chromedp.Click dispatches a
// mouse event at the button's coordinates, which a re-render between
// locating and clicking (the page updates ten times a second here) can
// move, so the click would land elsewhere.
func press(sel string) chromedp.Action[chromedp.Void] {
	click := chromedp.Evaluate[any](`document.querySelector(` + strconv.Quote(sel) + `).click()`)
	return chromedp.Steps(chromedp.WaitVisible(sel), func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := click(ctx, t)
		return chromedp.Void{}, err
	})
}

// TestFaultDrillInABrowser rehearses an outage from the page: an operator
// injects 503s into an upstream through the faults panel, the breaker in
// front of it opens, and the page shows both without a reload.
func TestFaultDrillInABrowser(t *testing.T) {
	inj := newInjector(t, "browser-drill")
	upstream := httptest.NewServer(inj.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	t.Cleanup(upstream.Close)
	b := newBreaker(t, "browser-drilled", breaker.WithConsecutiveFailures(3), breaker.WithOpenDuration(time.Hour))
	client := &http.Client{Transport: b.Transport(nil)}
	call := func(ctx context.Context) int {
		req, _ := http.NewRequestWithContext(ctx, "GET", upstream.URL+"/inventory", nil)
		res, err := client.Do(req)
		if err != nil {
			return 0 // refused by the open breaker
		}
		res.Body.Close()
		return res.StatusCode
	}

	h := newHandler(t, status.WithHistory(100*time.Millisecond, 600), status.WithFaults(inj))
	srv := httptest.NewServer(http.StripPrefix("/admin", h))
	t.Cleanup(srv.Close)
	ctx := browser(t, 2*time.Minute)

	drill := `tr[data-name="browser-drill"]`
	row := `tr[data-name="browser-drilled"]`
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/admin/"),
		chromedp.WaitReady(`html[data-live="sse"][data-updates]`),
		chromedp.WaitVisible(drill+`[data-state="off"]`),
		chromedp.WaitVisible(row+`[data-state="closed"]`),
	); err != nil {
		t.Fatalf("loading the page: %v", err)
	}
	if got := call(ctx); got != http.StatusNoContent {
		t.Fatalf("upstream before the drill: %d", got)
	}

	if err := chromedp.Do(ctx,
		chromedp.SetValue(`#faults-input`, `{"rules":[{"name":"upstream-down","percent":100,"status":503}]}`),
		press(`#faults-apply`),
		chromedp.WaitVisible(drill+`[data-state="active"][data-health="warn"]`),
	); err != nil {
		t.Fatalf("applying the drill from the page: %v", err)
	}
	if rules := inj.Rules(); len(rules) != 1 || rules[0].Name != "upstream-down" {
		t.Fatalf("rules in force: %+v", rules)
	}
	for range 3 {
		if got := call(ctx); got != http.StatusServiceUnavailable {
			t.Fatalf("upstream during the drill: %d, want 503", got)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(row+`[data-state="open"][data-health="bad"]`)); err != nil {
		t.Fatalf("waiting for the breaker to open: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("screenshot: %v (%d bytes)", err, len(png))
	}
	dir := t.TempDir()
	if d := os.Getenv("STATUS_SCREENSHOT_DIR"); d != "" {
		dir = d
	}
	if err := os.WriteFile(filepath.Join(dir, "status-drill.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx,
		press(`#faults-clear`),
		chromedp.WaitVisible(drill+`[data-state="off"]`),
	); err != nil {
		t.Fatalf("clearing the drill from the page: %v", err)
	}
	if n := len(inj.Rules()); n != 0 {
		t.Fatalf("%d rules after Clear all", n)
	}
}
