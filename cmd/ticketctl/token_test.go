package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/ticketsys/ticketsys/pkg/auth"
)

const testSecret = "0123456789abcdef0123456789abcdef-ctl"

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func runCLI(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, env(vars), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTokenVerifies(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"AUTH_JWT_SECRET": testSecret, "AUTH_ISSUER": "https://idp", "AUTH_AUDIENCE": "tickets-api"}
	code, out, errOut := runCLI(t, vars, "token", "--sub", "alice", "--scope", "tickets:read tickets:write", "--ttl", "10m")
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut)
	require.True(t, strings.HasSuffix(out, "\n"))
	tok := strings.TrimSuffix(out, "\n")
	assert.NotContains(t, tok, "\n", "only the token is printed")

	v, err := auth.NewVerifier(auth.Config{JWTSecret: testSecret, Issuer: "https://idp", Audience: "tickets-api"})
	require.NoError(t, err)
	c, err := v.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, "alice", c.Subject)
	assert.Equal(t, []string{"tickets:read", "tickets:write"}, c.Scopes)
}

func TestTokenFlagsOverrideEnv(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"AUTH_JWT_SECRET": testSecret, "AUTH_ISSUER": "https://env-idp"}
	code, out, errOut := runCLI(t, vars, "token", "--sub", "bob", "--scope", "tickets:read", "--issuer", "https://flag-idp")
	require.Equal(t, exitOK, code, errOut)

	v, err := auth.NewVerifier(auth.Config{JWTSecret: testSecret, Issuer: "https://flag-idp"})
	require.NoError(t, err)
	_, err = v.Verify(strings.TrimSpace(out))
	assert.NoError(t, err)
}

func TestExitCodes(t *testing.T) {
	t.Parallel()
	good := map[string]string{"AUTH_JWT_SECRET": testSecret}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		msg  string
	}{
		{"missing secret", nil, []string{"token", "--sub", "a"}, exitUsage, "AUTH_JWT_SECRET is not set"},
		{"short secret", map[string]string{"AUTH_JWT_SECRET": "short"}, []string{"token", "--sub", "a"}, exitUsage, "at least 32 bytes"},
		{"bad ttl", good, []string{"token", "--sub", "a", "--ttl", "soon"}, exitUsage, "invalid argument"},
		{"negative ttl", good, []string{"token", "--sub", "a", "--ttl", "-1h"}, exitUsage, "--ttl must be positive"},
		{"missing sub", good, []string{"token"}, exitUsage, "--sub is required"},
		{"unknown flag", good, []string{"token", "--nope"}, exitUsage, "unknown flag"},
		{"stray argument", good, []string{"token", "--sub", "a", "extra"}, exitUsage, "unknown command"},
		{"unknown command", good, []string{"frobnicate"}, exitUsage, "unknown command"},
		{"help", good, []string{"--help"}, exitOK, ""},
		{"no command shows help", good, nil, exitOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, tt.vars, tt.args...)
			assert.Equal(t, tt.code, code, "stdout=%q stderr=%q", out, errOut)
			assert.Contains(t, errOut, tt.msg)
			if tt.code == exitUsage {
				assert.Empty(t, out, "no token or usage text on stdout after an error")
				assert.NotContains(t, errOut, testSecret)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestRuntimeErrorExit1(t *testing.T) {
	t.Parallel()
	var errOut bytes.Buffer
	code := run(context.Background(), []string{"token", "--sub", "a"},
		env(map[string]string{"AUTH_JWT_SECRET": testSecret}), failWriter{}, &errOut)
	assert.Equal(t, exitRuntime, code)
	assert.Contains(t, errOut.String(), "disk full")
	assert.NotContains(t, errOut.String(), "--help", "a runtime error is not a usage problem")
}
