package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ticketsys/ticketsys/pkg/ticketevent"
)

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// browserWait bounds each wait in the browser; a failure names what never showed up.
const browserWait = 30 * time.Second

// newBrowser starts headless Chromium with its own profile and returns a tab's context.
// The browser is gone before the test's temporary directory is removed.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the live view's browser test needs Chromium at %s (%v): apt-get install chromium", chromiumPath, err)
	}
	profile := t.TempDir()
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in CI, and no user namespaces in containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 900),
	)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser to exit, so its profile can be removed
	})
	// Start the browser on this context: the first action would otherwise start it on the
	// step's own short-lived context, and it would die with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// within runs one browser step with a time limit.
func within[T any](ctx context.Context, t *testing.T, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func TestLiveViewInChromium(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	s := newStreams(t)
	s.createDurable()
	_, base := startUI(t, s, "--query-metrics", fakeQueryMetrics(t))

	within(ctx, t, "open the page", chromedp.Navigate(base))
	title := within(ctx, t, "read the title", chromedp.Title())
	if want := "ticketsys live view"; title != want {
		t.Errorf("title %q, want %q", title, want)
	}
	// Connected: from here on the page's EventSource gets what is published.
	within(ctx, t, "the page connects", chromedp.WaitVisible(chromedp.CSS(`#conn.live`)))

	id := newID()
	s.publish(event(id, ticketevent.Created, 1))
	row := chromedp.CSS(fmt.Sprintf(`tr[data-ticket=%q]`, id))
	within(ctx, t, "the event's row appears", chromedp.WaitVisible(row))
	text := within(ctx, t, "read the row", chromedp.Text(row))
	for _, want := range []string{id, "CREATED", "v1", "alice"} {
		if !strings.Contains(text, want) {
			t.Errorf("row %q lacks %q", text, want)
		}
	}

	// Newest on top.
	s.publish(event(id, ticketevent.Updated, 2, "status", "assignee"))
	within(ctx, t, "the update lands on top", chromedp.Poll[bool](
		`(() => { const r = document.querySelector("#rows tr"); return r && r.dataset.ticket === "`+id+`" && r.textContent.includes("UPDATED"); })()`,
		chromedp.WithPollingTimeout(browserWait)))
	rowsShown := within(ctx, t, "count the rows", chromedp.Evaluate[int](`document.querySelectorAll("#rows tr[data-ticket]").length`))
	if rowsShown != 2 {
		t.Errorf("%d rows shown, want 2", rowsShown)
	}

	// The header: two events wait for the durable consumer, the hit ratio is 90%.
	within(ctx, t, "the lag shows a number", chromedp.Poll[bool](
		`document.getElementById("lag-value").textContent === "2"`, chromedp.WithPollingTimeout(browserWait)))
	lagClass := within(ctx, t, "read the lag's colour", chromedp.Evaluate[string](`document.getElementById("lag").className`))
	if want := "tile ok"; lagClass != want {
		t.Errorf("lag tile class %q, want %q: 2 pending is below the warning threshold", lagClass, want)
	}
	within(ctx, t, "the hit ratio shows", chromedp.Poll[bool](
		`document.getElementById("hit-value").textContent === "90.0%"`, chromedp.WithPollingTimeout(browserWait)))

	if os.Getenv("LIVEVIEW_SCREENSHOT") != "" {
		other := newID()
		s.publish(event(other, ticketevent.Created, 1))
		s.publish(event(id, ticketevent.Deleted, 3))
		within(ctx, t, "more rows", chromedp.Poll[bool](
			`document.querySelectorAll("#rows tr[data-ticket]").length === 4 && document.getElementById("lag-value").textContent === "4"`,
			chromedp.WithPollingTimeout(browserWait)))
		png := within(ctx, t, "screenshot", chromedp.FullScreenshot(100)) // 100: PNG; anything less is JPEG
		if err := os.WriteFile("/tmp/liveview.png", png, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
