package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"go.yaml.in/yaml/v4"
)

// docs.html, the front door's reference page, shows the current
// ticketsys.yaml: the description redocly embedded is the file's.
func TestDocsPageIsFresh(t *testing.T) {
	page, err := os.ReadFile("docs.html")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const __redoc_definition = (\{.*?\});\n`).FindSubmatch(page)
	if m == nil {
		t.Fatal("docs.html embeds no description (__redoc_definition): run make openapi")
	}
	var embedded, current any
	if err := json.Unmarshal(m[1], &embedded); err != nil {
		t.Fatalf("the description in docs.html: %v", err)
	}
	raw, err := os.ReadFile("ticketsys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &current); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(embedded)
	b, _ := json.Marshal(current)
	if !bytes.Equal(a, b) {
		t.Fatal("docs.html shows another description than ticketsys.yaml: run make openapi")
	}
}

// chromiumPath is where Debian's chromium package puts the browser.
const chromiumPath = "/usr/bin/chromium"

// The page renders the API in a browser under the front door's own policy
// for it (read from the Caddyfile), and asks for nothing but itself: no
// script, style or font from a CDN.
func TestDocsPageLoadsNothingElse(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the reference page's browser test needs Chromium at %s (%v): apt-get install chromium", chromiumPath, err)
	}
	caddyfile, err := os.ReadFile("../../deploy/caddy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)handle /docs \{.*?import security_headers \* "([^"]+)"`).FindSubmatch(caddyfile)
	if m == nil {
		t.Fatal("the Caddyfile's handle /docs sets no Content-Security-Policy through security_headers")
	}
	policy := string(m[1])
	page, err := os.ReadFile("docs.html")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/docs" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", policy)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	}))
	defer srv.Close()
	origin, _ := url.Parse(srv.URL)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1400, 900))
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer func() {
		cancelTab()
		cancelAlloc()
	}()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	var (
		mu                 sync.Mutex
		elsewhere, refused []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			u, err := url.Parse(e.Request.URL)
			if err != nil || (u.Host != origin.Host && u.Scheme != "data" && u.Scheme != "blob") {
				elsewhere = append(elsewhere, e.Request.URL)
			}
		case *log.EventEntryAdded:
			if strings.Contains(e.Entry.Text, "Content Security Policy") || strings.Contains(e.Entry.Text, "Refused to") {
				refused = append(refused, e.Entry.Text)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	step, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(step, chromedp.Navigate(srv.URL+"/docs")); err != nil {
		t.Fatalf("open the page: %v", err)
	}
	// Rendered by its scripts (the page's static part lists no operation):
	// every operation is listed.
	if _, err := chromedp.Run(step, chromedp.Poll[bool](
		`(() => { const t = document.body.innerText; return t.includes("Operations") && t.includes("PATCH") && t.includes("DELETE") && t.includes("/tickets/{id}"); })()`,
		chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
		mu.Lock()
		t.Logf("refused %q; elsewhere %q", refused, elsewhere)
		mu.Unlock()
		t.Fatalf("the page never showed the operations: %v\n%s", err, text)
	}
	time.Sleep(500 * time.Millisecond) // late requests, such as fonts
	mu.Lock()
	defer mu.Unlock()
	if len(elsewhere) > 0 {
		t.Errorf("the page asked for more than itself: %q", elsewhere)
	}
	if len(refused) > 0 {
		t.Errorf("the page's policy refused what it needs: %q", refused)
	}
}
