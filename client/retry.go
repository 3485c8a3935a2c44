package client

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// retrying sends a request again when it was answered 503 with a
// Retry-After, if repeating it is safe: a read, a create with an
// Idempotency-Key, or a change or delete with If-Match (a second copy of
// one that was done is a 412, never a second change).
type retrying struct {
	next    *http.Client
	max     int
	maxWait time.Duration
}

func (r *retrying) Do(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		res, err := r.next.Do(req)
		if err != nil || res.StatusCode != http.StatusServiceUnavailable || attempt >= r.max || !repeatable(req) {
			return res, err
		}
		wait, ok := retryAfter(res.Header.Get("Retry-After"), time.Now())
		if !ok || wait > r.maxWait {
			return res, nil
		}
		// The answer is dropped: read to the end so its connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		_ = res.Body.Close()
		if req.Body != nil {
			if req.GetBody == nil {
				return nil, errNoReplay
			}
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		}
	}
}

type replayError struct{}

func (replayError) Error() string {
	return "ticketsys: cannot resend a request whose body cannot be read again"
}

var errNoReplay error = replayError{}

func repeatable(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return req.Header.Get("Idempotency-Key") != ""
	case http.MethodPatch, http.MethodPut, http.MethodDelete:
		return req.Header.Get("If-Match") != ""
	}
	return false
}

// retryAfter reads a Retry-After of seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
