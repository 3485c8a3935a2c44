package openapitest

import (
	"bytes"
	"crypto/sha256"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// Recorder collects the responses a test gets and validates them when the
// test ends, each distinct response once. Validating takes milliseconds
// (kin-openapi compiles every JSON Schema it applies, per call), which
// inside a request loop would slow the test down and shift the timing it
// tests; recorded, a response costs a hash, and a loop of identical
// answers is validated once. Record may be called from any goroutine.
type Recorder struct {
	v       *Validator
	t       testing.TB
	mu      sync.Mutex
	seen    map[[sha256.Size]byte]bool
	pending []recorded
}

type recorded struct {
	method, target string
	status         int
	header         http.Header
	body           []byte
}

// Recorder returns a recorder whose responses are validated at the end of
// t (t.Cleanup); each mismatch fails t with t.Errorf.
func (v *Validator) Recorder(t testing.TB) *Recorder {
	r := &Recorder{v: v, t: t, seen: map[[sha256.Size]byte]bool{}}
	t.Cleanup(r.Flush)
	return r
}

// Record keeps a response to req for validation, unless an identical one
// (but for X-Request-ID and Date, whose values change with every answer)
// is kept already.
func (r *Recorder) Record(req *http.Request, status int, header http.Header, body []byte) {
	target := requestTarget(req)
	key := fingerprint(req.Method, target, status, header, body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return
	}
	r.seen[key] = true
	r.pending = append(r.pending, recorded{method: req.Method, target: target, status: status,
		header: header.Clone(), body: append([]byte(nil), body...)})
}

// Flush validates what was recorded since the last Flush.
func (r *Recorder) Flush() {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	for _, rec := range pending {
		if err := r.v.ValidateTarget(rec.method, rec.target, rec.status, rec.header, rec.body); err != nil {
			r.t.Errorf("%v", err)
		}
	}
}

func fingerprint(method, target string, status int, header http.Header, body []byte) [sha256.Size]byte {
	h := sha256.New()
	write := func(s string) {
		h.Write([]byte(strconv.Itoa(len(s))))
		h.Write([]byte{':'})
		h.Write([]byte(s))
	}
	write(method)
	write(target)
	write(strconv.Itoa(status))
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		write(name)
		if name == "X-Request-Id" || name == "Date" {
			continue
		}
		for _, v := range header[name] {
			write(v)
		}
	}
	write(string(body))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// Transport returns a RoundTripper that sends through next
// (http.DefaultTransport when nil) and records every answer: a client
// built on it has every response validated, whoever sends the request.
func (r *Recorder) Transport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return recording{r: r, next: next}
}

type recording struct {
	r    *Recorder
	next http.RoundTripper
}

func (rt recording) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := rt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	rt.r.Record(req, res.StatusCode, res.Header, b)
	res.Body = io.NopCloser(bytes.NewReader(b))
	return res, nil
}
