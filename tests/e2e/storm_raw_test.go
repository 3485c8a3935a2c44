package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"
)

// rawSpec is a request written byte for byte on its own TCP connection:
// what net/http's client refuses to send.
type rawSpec struct {
	data []byte
	// closeWrite half-closes the connection after writing, so the server
	// sees the end of a request it was still reading (a truncated body).
	closeWrite bool
	// answers are the statuses allowed for each answer on the connection, in
	// order, for pipelined requests; nil: one answer, the request's want.
	answers [][]int
	// netHTTP lists the statuses net/http's server may answer itself, for a
	// request it cannot parse, before any handler (and so any of the
	// service's code) runs. Such an answer is text/plain (or empty) and has
	// no X-Request-ID, and no service can change it; each entry says why it
	// is right.
	netHTTP map[int]string
	// mayClose: the server may close the connection without an answer.
	mayClose bool
}

// Why net/http itself may answer a raw request. These are the only
// exceptions to "every error is a problem+json with X-Request-ID", and they
// are accepted only for the raw families below, never for a request
// net/http's client can send.
const (
	whyMalformed   = "net/http refuses a request line or header it cannot parse with a plain-text 400 before any handler runs"
	whyTooLarge    = "net/http refuses headers over MaxHeaderBytes (1 MiB) with a plain-text 431 before any handler runs"
	whyVersion     = "net/http answers 505 HTTP Version Not Supported for an HTTP version other than 1.x (RFC 9110 15.6.6)"
	whyTE          = "net/http answers 501 Not Implemented for a transfer coding it does not know, as RFC 9112 6.1 says a server should"
	whyExpectation = "net/http answers 417 Expectation Failed for an Expect other than 100-continue (RFC 9110 10.1.1)"
	whyOptions     = "net/http answers OPTIONS * itself, 200 with no body (RFC 9110 9.3.7); not an error"
)

func malformed() map[int]string { return map[int]string{400: whyMalformed} }

// rawRequest is a request in HTTP/1.1 wire form; lines are header lines,
// written as they are. Host, Content-Type: application/json (with a body),
// Content-Length and Connection: close are added unless lines have them.
func rawRequest(requestLine string, lines []string, body string) []byte {
	var b bytes.Buffer
	b.WriteString(requestLine + "\r\n")
	hasHost, hasLength, hasType := false, false, false
	for _, l := range lines {
		lower := strings.ToLower(l)
		hasHost = hasHost || strings.HasPrefix(lower, "host:")
		hasLength = hasLength || strings.HasPrefix(lower, "content-length:") || strings.HasPrefix(lower, "transfer-encoding:")
		hasType = hasType || strings.HasPrefix(lower, "content-type:")
	}
	if body != "" && !hasType {
		b.WriteString("Content-Type: application/json\r\n")
	}
	if !hasHost {
		b.WriteString("Host: 127.0.0.1\r\n")
	}
	for _, l := range lines {
		b.WriteString(l + "\r\n")
	}
	if body != "" && !hasLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	return b.Bytes()
}

// rawReq is one raw-TCP request to any of the three services.
func (g *stormGen) rawReq() stormReq {
	svc := pick(g.r, []string{"command", "command", "query", "query", "cache-invalidator"})
	req := stormReq{svc: svc, method: http.MethodGet, raw: &rawSpec{netHTTP: map[int]string{}}}
	auth := "Authorization: Bearer " + g.rw
	// A request that reaches the service: a write with a body no rule accepts,
	// or a read.
	write := func() (string, string, []int) {
		if svc == "command" {
			return "POST /tickets HTTP/1.1", "{", []int{http.StatusBadRequest}
		}
		return "GET /healthz HTTP/1.1", "", []int{http.StatusOK}
	}
	spec := req.raw
	switch n := g.r.IntN(20); n {
	case 0:
		req.family = "raw-nul-in-request-line"
		spec.data = []byte(pick(g.r, []string{
			"GET /tickets\x00 HTTP/1.1", "GET /tic\x00kets HTTP/1.1", "G\x00ET /tickets HTTP/1.1", "GET /tickets HTTP/1.1\x00",
			"GET /tickets?status=\x00 HTTP/1.1", "PATCH /tickets/" + g.witness + "\x00 HTTP/1.1",
		}) + "\r\nHost: 127.0.0.1\r\n" + auth + "\r\nConnection: close\r\n\r\n")
		spec.netHTTP = malformed()
		req.poison = "a NUL in the request line"
	case 1:
		req.family = "raw-bad-method"
		line := pick(g.r, []string{"G ET / HTTP/1.1", "GET\t/tickets HTTP/1.1", "(GET) /tickets HTTP/1.1", "GÉT /tickets HTTP/1.1",
			" /tickets HTTP/1.1", "GET\x7f /healthz HTTP/1.1", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "GET@ /healthz HTTP/1.1",
			"POST{} /tickets HTTP/1.1", "GET /healthz HTTP/1.1 extra"})
		spec.data = rawRequest(line, []string{auth}, "")
		spec.netHTTP = malformed()
		spec.mayClose = true
	case 2:
		req.family = "raw-bad-version"
		v := pick(g.r, []string{"HTTP/2.0", "HTTP/9.9", "HTTP/1", "HTTP/1.1.1", "http/1.1", "HTTP/1.10", "HTTP/01.1",
			"HTTP/0.9", "HTTP/3", "HTTP/1.1" + stormMark, "HTTP/-1.1"})
		spec.data = rawRequest("GET /healthz "+v, nil, "")
		if g.chance(0.2) {
			// The HTTP/2 connection preface, to a server that speaks HTTP/1.1.
			spec.data = []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
		}
		spec.netHTTP = map[int]string{400: whyMalformed, 505: whyVersion}
		spec.mayClose = true
	case 3:
		req.family = "raw-bad-header"
		lines := [][]string{
			{auth + "\x00"}, {"X-A: a\x00b"}, {"If-Match: \"1\"\x00"}, {"Idempotency-Key: k\rk"}, {"NoColon"},
			{"X A: b"}, {"X\x00A: b"}, {"X-A : b"}, {"Content-Type: application/json", " folded: continuation"},
			{"Host: a", "Host: b"}, {"Host: ' OR 1=1"}, {"Host: \xff" + stormMark}, {": empty name"},
			{"X-" + stormMark + "\xff: v"}, {"Content-Type: application/json\x00"}, {"X-A: b\rX-B: c"},
		}
		l := pick(g.r, lines)
		l = append(l, auth)
		line, body, _ := write()
		spec.data = rawRequest(line, l, body)
		if g.chance(0.2) {
			// HTTP/1.1 without Host.
			spec.data = []byte(line + "\r\n" + auth + "\r\nContent-Length: 1\r\nConnection: close\r\n\r\n{")
			if svc != "command" {
				spec.data = []byte("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
			}
		}
		spec.netHTTP = malformed()
	case 4:
		req.family = "raw-oversized-headers"
		line, body, _ := write()
		switch g.r.IntN(3) {
		case 0:
			spec.data = rawRequest(line, []string{auth, "X-Big: " + g.overMiBHeader}, body)
		case 1:
			if g.manyHeaders == nil {
				for i := range 24_000 {
					g.manyHeaders = append(g.manyHeaders, fmt.Sprintf("X-H-%d: %s", i, strings.Repeat("v", 40)))
				}
			}
			spec.data = rawRequest(line, append(slices.Clip(g.manyHeaders), auth), body)
		default:
			spec.data = rawRequest("GET "+g.hugeURITarget+" HTTP/1.1", []string{auth}, "")
		}
		spec.netHTTP = map[int]string{431: whyTooLarge, 400: whyMalformed}
		spec.mayClose = true
	case 5:
		req.family = "raw-big-headers"
		line, body, want := write()
		spec.data = rawRequest(line, []string{auth, "X-Big: " + g.bigHeader}, body)
		req.want = want
		if g.chance(0.5) {
			// Over a tight limit, under net/http's default: either is right.
			spec.data = rawRequest(line, []string{auth, "X-Big: " + g.midHeader}, body)
			spec.netHTTP = map[int]string{431: whyTooLarge}
			spec.mayClose = true
		}
	case 6:
		req.family = "raw-bad-content-length"
		cl := pick(g.r, []string{"-1", "abc", "+5", "0x10", "99999999999999999999", "5, 6", "1 2", "1.0", "\xff"})
		lines := []string{auth, "Content-Type: application/json", "Content-Length: " + cl}
		if g.chance(0.3) {
			lines = []string{auth, "Content-Type: application/json", "Content-Length: 2", "Content-Length: 3"}
		}
		spec.data = rawRequest("PATCH /tickets/"+g.witness+" HTTP/1.1", lines, `{"title":"x"}`)
		spec.netHTTP = malformed()
		spec.closeWrite = true // were a length taken, the body ends short of it: a 400, not a stall
		req.poison = "a malformed Content-Length"
		req.method = http.MethodPatch
	case 7:
		req.family = "raw-content-length-over-limit"
		req.svc = "command"
		spec.data = rawRequest("POST /tickets HTTP/1.1", []string{auth, "Content-Type: application/json", "Content-Length: 2000000"}, "")
		req.want = []int{http.StatusRequestEntityTooLarge}
		req.method = http.MethodPost
	case 8:
		req.family = "raw-truncated-body"
		req.svc = "command"
		target := pick(g.r, []string{"POST /tickets", "PATCH /tickets/" + g.witness, "PUT /tickets/" + pick(g.r, g.decoys)})
		body := `{"title":"cut short ` + stormMark + `"}`
		spec.data = rawRequest(target+" HTTP/1.1", []string{auth, "Content-Type: application/json",
			fmt.Sprintf("Content-Length: %d", len(body)+1+g.r.IntN(100))}, body)
		spec.closeWrite = true
		req.want = []int{http.StatusBadRequest}
		req.poison = "a body shorter than its Content-Length"
		req.method = strings.Fields(target)[0]
	case 9:
		req.family = "raw-chunked-garbage"
		req.svc = "command"
		target := pick(g.r, []string{"POST /tickets", "PATCH /tickets/" + g.witness, "PUT /tickets/" + pick(g.r, g.decoys)})
		body := pick(g.r, []string{
			"zz\r\n{}\r\n0\r\n\r\n", "ffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", "e\r\n{\"title\":\"x\"}", "5\r\n{}\r\n0\r\n\r\n",
			"-1\r\n{}\r\n0\r\n\r\n", "e\r\n{\"title\":\"x\"}\r\n", "e\r\n{\"title\":\"x\"}\r\nzz\r\n\r\n", "e\r\n{\"title\":\"x\"}XX0\r\n\r\n",
			"0x2\r\n{}\r\n0\r\n\r\n", "2\r\n{}\r\n0\r\n",
		})
		spec.data = rawRequest(target+" HTTP/1.1", []string{auth, "Content-Type: application/json", "Transfer-Encoding: chunked"}, body)
		spec.closeWrite = true
		req.want = []int{http.StatusBadRequest}
		req.poison = "a malformed chunked body"
		req.method = strings.Fields(target)[0]
	case 10:
		req.family = "raw-unsupported-transfer-encoding"
		req.svc = "command"
		te := pick(g.r, []string{"gzip", "chunked, gzip", "identity", "gzip, chunked", stormMark, "chunked, chunked"})
		spec.data = rawRequest("PATCH /tickets/"+g.witness+" HTTP/1.1",
			[]string{auth, "Content-Type: application/json", "Transfer-Encoding: " + te}, "e\r\n{\"title\":\"x\"}\r\n0\r\n\r\n")
		if g.chance(0.3) {
			spec.data = rawRequest("PATCH /tickets/"+g.witness+" HTTP/1.1",
				[]string{auth, "Content-Type: application/json", "Transfer-Encoding: chunked", "Content-Length: 13"}, `{"title":"x"}`)
		}
		spec.netHTTP = map[int]string{400: whyMalformed, 501: whyTE}
		// Chunked wins over Content-Length (RFC 9112 6.3), and the body is no
		// chunk: the server waits for a chunk-size line to end, until the end.
		spec.closeWrite = true
		req.want = []int{http.StatusBadRequest}
		req.poison = "a transfer coding the server does not know, or two framings"
		req.method = http.MethodPatch
	case 11:
		req.family = "raw-half-sent"
		spec.data = []byte(pick(g.r, []string{
			"POST /tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty", "GET /tick", "G",
			"PATCH /tickets/" + g.witness + " HTTP/1.1\r\n" + auth + "\r\nContent-Length: 20\r\n",
			"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n",
		}))
		spec.closeWrite = true
		spec.mayClose = true
		spec.netHTTP = malformed()
		req.poison = "a request that never ends its headers"
	case 12:
		req.family = "raw-expect"
		line, body, _ := write()
		spec.data = rawRequest(line, []string{auth, "Expect: " + pick(g.r, []string{"200-ok", stormMark, "100-continue, x", ""})}, body)
		spec.netHTTP = map[int]string{417: whyExpectation}
	case 13:
		req.family = "raw-bad-escape"
		spec.data = rawRequest(pick(g.r, []string{"GET /tickets/%zz", "GET /%", "GET /tickets/%E0%A4%A", "PATCH /tickets/%u0041",
			"DELETE /tickets/" + g.witness + "%", "GET /healthz%"})+" HTTP/1.1", []string{auth}, "")
		spec.netHTTP = malformed()
		req.poison = "a malformed escape in the path"
	case 14:
		req.family = "raw-bytes-in-target"
		switch svc {
		case "command":
			spec.data = rawRequest("PATCH /tickets/"+g.witness+pick(g.r, []string{"\xff", "\xc0\xaf", "\t", "é"})+" HTTP/1.1",
				[]string{auth, "Content-Type: application/json"}, `{"title":"by a misspelt id"}`)
			req.want = []int{http.StatusBadRequest}
			req.poison = "a misspelt id"
			req.method = http.MethodPatch
		case "query":
			spec.data = rawRequest("GET "+pick(g.r, []string{"/tickets/\xff\xfe", "/tickets?assignee=\xff", "/tickets?status=op\xe9n",
				"/tickets?assignee=a\x00"})+" HTTP/1.1", []string{auth}, "")
			req.want = []int{http.StatusBadRequest}
		default:
			spec.data = rawRequest("GET /healthz\xff HTTP/1.1", nil, "")
			req.want = []int{http.StatusNotFound}
		}
		spec.netHTTP = malformed()
	case 15:
		req.family = "raw-odd-target"
		spec.data = rawRequest(pick(g.r, []string{"GET http://" + stormMark + ".example/healthz HTTP/1.1", "GET * HTTP/1.1",
			"OPTIONS * HTTP/1.1", "GET healthz HTTP/1.1", "CONNECT 127.0.0.1:1 HTTP/1.1", "GET //healthz HTTP/1.1",
			"GET /healthz/../healthz HTTP/1.1", "GET /./healthz HTTP/1.1", "GET ?x=1 HTTP/1.1"}), []string{auth}, "")
		spec.netHTTP = map[int]string{400: whyMalformed, 200: whyOptions}
		spec.mayClose = true
	case 16:
		req.family = "raw-pipelined"
		line, body, want := write()
		second := rawRequest(line, []string{auth}, body)
		first := []byte("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
		if g.chance(0.5) {
			// A broken request after a good one: the good one is answered.
			spec.data = slices.Concat(first, []byte("G\x00T / HTTP/1.1\r\nHost: x\r\n\r\n"))
			spec.answers = [][]int{{http.StatusOK}, nil}
			spec.netHTTP = malformed()
		} else {
			spec.data = slices.Concat(first, second)
			spec.answers = [][]int{{http.StatusOK}, want}
		}
	case 17:
		req.family = "raw-http10"
		line, body, want := write()
		spec.data = []byte(strings.Replace(line, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n" + auth + "\r\nContent-Type: application/json\r\n" +
			fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body))
		req.want = want
	case 18:
		req.family = "raw-crlf-in-header"
		// The metacharacter case of the auth matrix as it goes on the wire: the
		// CR LF ends the header, and "*1" is a line without a colon.
		spec.data = rawRequest("GET /tickets HTTP/1.1", []string{"Authorization: Bearer ' OR 1=1 --\r\n*1\r\n$4\r\nPING"}, "")
		spec.netHTTP = malformed()
	default:
		req.family = "raw-line-endings"
		line, body, want := write()
		data := string(rawRequest(line, []string{auth}, body))
		if g.chance(0.5) {
			data = strings.ReplaceAll(data, "\r\n", "\n")
		} else {
			data = strings.Replace(data, "\r\n", "\r", 1)
			spec.netHTTP = malformed()
			want = nil
		}
		spec.data = []byte(data)
		req.want = want
	}
	return req
}

// rawAnswer is one response read off a raw connection.
type rawAnswer struct {
	status  int
	header  http.Header
	body    []byte
	bodyLen int
}

// rawExchange writes spec.data on a fresh connection and reads the
// answers, at most one more than expected.
func rawExchange(addr, method string, spec *rawSpec) ([]rawAnswer, error) {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	// A write error is no verdict: the server may answer (431, 400) and
	// close while a large request is still going out.
	_, _ = conn.Write(spec.data)
	if spec.closeWrite {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	br := bufio.NewReader(conn)
	n := max(1, len(spec.answers))
	var answers []rawAnswer
	for len(answers) < n {
		res, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return answers, err
		}
		if res.StatusCode >= 100 && res.StatusCode < 200 {
			// 100 Continue, for an Expect that holds 100-continue: the answer follows.
			res.Body.Close()
			continue
		}
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		answers = append(answers, rawAnswer{status: res.StatusCode, header: res.Header, body: body, bodyLen: len(body)})
		if err != nil {
			return answers, err
		}
	}
	return answers, nil
}

// connDropped tells a connection the server closed or reset from other errors.
func connDropped(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "use of closed network connection") || strings.Contains(s, "server closed")
}

// stallResult is how a connection that never finished its request ended.
type stallResult struct {
	name   string
	closed time.Duration // when the server closed it; 0 if it did not in time
	answer string        // the status line, if the server answered
	err    error
}

// stallProbe opens a connection that sends part of a request and then
// stalls (or, with drip, goes on sending a byte every 250ms without ever
// ending the headers), and waits up to limit for the server to close it.
// The server's ReadHeaderTimeout (5s) bounds both.
func stallProbe(addr, name, partial string, drip bool, limit time.Duration) stallResult {
	res := stallResult{name: name}
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		res.err = err
		return res
	}
	defer conn.Close()
	start := time.Now()
	if _, err := conn.Write([]byte(partial)); err != nil {
		res.err = err
		return res
	}
	closed := make(chan string, 1)
	go func() {
		_ = conn.SetReadDeadline(start.Add(limit))
		b := make([]byte, 512)
		n, err := conn.Read(b)
		var ne net.Error
		switch {
		case n > 0:
			line, _, _ := strings.Cut(string(b[:n]), "\r\n")
			closed <- line
		case errors.As(err, &ne) && ne.Timeout():
			closed <- "timeout"
		default:
			closed <- ""
		}
	}()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case line := <-closed:
			if line == "timeout" {
				res.err = fmt.Errorf("the server kept the connection open for %v", limit)
				return res
			}
			res.closed, res.answer = time.Since(start), line
			return res
		case <-tick.C:
			if drip {
				_, _ = conn.Write([]byte("a"))
			}
		}
	}
}

// stallProbes are the slow clients each service must cut off.
func stallProbes(addr string) []func() stallResult {
	const limit = 12 * time.Second
	return []func() stallResult{
		func() stallResult { return stallProbe(addr, "silent", "", false, limit) },
		func() stallResult { return stallProbe(addr, "half a request line", "GET /tick", false, limit) },
		func() stallResult {
			return stallProbe(addr, "headers never ended", "POST /tickets HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: app", false, limit)
		},
		func() stallResult {
			return stallProbe(addr, "a header dripping a byte at a time", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Drip: ", true, limit)
		},
	}
}
