package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":"ok"}`)) })
	mux.HandleFunc("/down", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"failing":"redis"}`))
	})
	block := make(chan struct{})
	mux.HandleFunc("/hang", func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { close(block); srv.Close() })

	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"ready", []string{srv.URL + "/readyz"}, ""},
		{"not ready names the dependency", []string{srv.URL + "/down"}, `503: {"failing":"redis"}`},
		{"hangs past the timeout", []string{srv.URL + "/hang"}, "deadline exceeded"},
		{"nothing listens", []string{"http://127.0.0.1:1/readyz"}, "connect"},
		{"no URL", nil, "usage"},
		{"two URLs", []string{"a", "b"}, "usage"},
		{"bad URL", []string{"http://[::1"}, "bad URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := probe(context.Background(), tc.args, 200*time.Millisecond)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("probe: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("probe error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
