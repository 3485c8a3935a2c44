package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
)

// describedBy returns the validator of the named service ("command",
// "query"), or nil for one without a description.
func describedBy(t testing.TB, svc string) *openapitest.Validator {
	switch svc {
	case "command":
		return openapitest.Command(t)
	case "query":
		return openapitest.Query(t)
	}
	return nil
}

// recordDescribed makes the recorders of the stack's described services:
// the responses they collect are validated against the service's OpenAPI
// description (api/openapi) when the test ends, so validating costs the
// requests no time.
func (s *stack) recordDescribed() {
	s.described = map[*process]*openapitest.Recorder{
		s.command: openapitest.Command(s.t).Recorder(s.t),
		s.query:   openapitest.Query(s.t).Recorder(s.t),
	}
}

// checkDescribed records a response of the command or query service, to be
// validated against its OpenAPI description at the end of the test; a
// mismatch fails the test. Every response the e2e tests get comes here:
// s.do, the storm and the auth matrix. The cache-invalidator has no
// description.
func (s *stack) checkDescribed(p *process, req *http.Request, status int, header http.Header, body []byte) {
	if r := s.described[p]; r != nil {
		r.Record(req, status, header, body)
	}
}

// describedTransport sends requests to the command or query service and
// records each answer for the description of the one that gave it.
func (s *stack) describedTransport() http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		if r := s.described[s.processAt(req.URL.Scheme+"://"+req.URL.Host)]; r != nil {
			return r.Transport(nil).RoundTrip(req)
		}
		return http.DefaultTransport.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// processAt is the process whose URL is base, or nil.
func (s *stack) processAt(base string) *process {
	for _, p := range []*process{s.command, s.query, s.invalidator} {
		if p != nil && p.url == base {
			return p
		}
	}
	return nil
}

// checkStormAnswer checks the i-th answer to a storm request against the
// description of the service that gave it. Answers net/http gave itself (no
// X-Request-ID: a request it could not parse) and bodies the storm kept
// only the start of are left out.
func checkStormAnswer(t testing.TB, req *stormReq, i int, a rawAnswer) []string {
	v := describedBy(t, req.svc)
	if v == nil || a.header.Get("X-Request-ID") == "" || a.bodyLen != len(a.body) {
		return nil
	}
	method, target := req.method, req.target
	if req.raw != nil {
		var ok bool
		if method, target, ok = rawTarget(req.raw.data, i); !ok {
			return nil
		}
	}
	err := v.ValidateTarget(method, target, a.status, a.header, a.body)
	var m *openapitest.MismatchError
	if errors.As(err, &m) {
		// Without the target, so the report groups one mismatch of many requests.
		return []string{fmt.Sprintf("the answer %d does not match %s.yaml (api/openapi): %v", m.Status, m.Service, m.Err)}
	}
	if err != nil {
		return []string{err.Error()}
	}
	return nil
}

// rawTarget reads the method and request-target of the i-th request of a
// raw exchange, as a server reads them.
func rawTarget(data []byte, i int) (method, target string, ok bool) {
	r := bufio.NewReader(bytes.NewReader(data))
	for n := 0; ; n++ {
		req, err := http.ReadRequest(r)
		if err != nil {
			return "", "", false
		}
		if n == i {
			return req.Method, req.RequestURI, true
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return "", "", false
		}
	}
}

// Both services serve their own description at GET /openapi.yaml without
// a token, byte for byte the file in api/openapi.
func TestServesOpenAPI(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	for _, c := range []struct {
		p    *process
		want []byte
	}{{s.command, openapi.Command()}, {s.query, openapi.Query()}} {
		req, err := http.NewRequest(http.MethodGet, c.p.url+"/openapi.yaml", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		s.checkDescribed(c.p, req, res.StatusCode, res.Header, b)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != openapi.ContentType || !bytes.Equal(b, c.want) {
			t.Errorf("GET %s/openapi.yaml: %d %q, %d bytes; want 200 %s with the file's %d bytes",
				c.p.url, res.StatusCode, res.Header.Get("Content-Type"), len(b), openapi.ContentType, len(c.want))
		}
	}
}
