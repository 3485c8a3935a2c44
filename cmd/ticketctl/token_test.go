package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

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
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want empty", errOut)
	}
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("stdout %q does not end with a line break", out)
	}
	tok := strings.TrimSuffix(out, "\n")
	if strings.Contains(tok, "\n") {
		t.Errorf("stdout %q has more than one line, want only the token", out)
	}

	v, err := auth.NewVerifier(auth.Config{JWTSecret: testSecret, Issuer: "https://idp", Audience: "tickets-api"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Subject != "alice" {
		t.Errorf("subject %q, want %q", c.Subject, "alice")
	}
	if want := []string{"tickets:read", "tickets:write"}; !slices.Equal(c.Scopes, want) {
		t.Errorf("scopes %q, want %q", c.Scopes, want)
	}
}

func TestTokenFlagsOverrideEnv(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"AUTH_JWT_SECRET": testSecret, "AUTH_ISSUER": "https://env-idp"}
	code, out, errOut := runCLI(t, vars, "token", "--sub", "bob", "--scope", "tickets:read", "--issuer", "https://flag-idp")
	if code != exitOK {
		t.Fatalf("exit code %d, want %d; stderr=%s", code, exitOK, errOut)
	}

	v, err := auth.NewVerifier(auth.Config{JWTSecret: testSecret, Issuer: "https://flag-idp"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(strings.TrimSpace(out)); err != nil {
		t.Errorf("the token does not verify with the flag's issuer: %v", err)
	}
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
		{"missing secret", nil, []string{"token", "--sub", "a"}, exitUsage, "AUTH_PRIVATE_KEY_FILE or AUTH_JWT_SECRET is required"},
		{"missing key file", map[string]string{"AUTH_PRIVATE_KEY_FILE": "/nonexistent/private.pem"}, []string{"token", "--sub", "a"}, exitUsage, "AUTH_PRIVATE_KEY_FILE"},
		{"ttl beyond the limit", good, []string{"token", "--sub", "a", "--ttl", "25h"}, exitUsage, "AUTH_MAX_TOKEN_LIFETIME"},
		{"keys without dir", good, []string{"keys", "generate"}, exitUsage, "--dir is required"},
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
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stdout=%q stderr=%q", code, tt.code, out, errOut)
			}
			if !strings.Contains(errOut, tt.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tt.msg)
			}
			if tt.code == exitUsage {
				if out != "" {
					t.Errorf("stdout = %q, want empty: no token or usage text on stdout after an error", out)
				}
				if strings.Contains(errOut, testSecret) {
					t.Errorf("stderr %q shows the secret", errOut)
				}
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
	if code != exitRuntime {
		t.Errorf("exit code %d, want %d", code, exitRuntime)
	}
	if !strings.Contains(errOut.String(), "disk full") {
		t.Errorf("stderr %q lacks %q", errOut.String(), "disk full")
	}
	if strings.Contains(errOut.String(), "--help") {
		t.Errorf("stderr %q points to --help: a runtime error is not a usage problem", errOut.String())
	}
}

// keys generate writes a pair that token signs with and a service verifies with; the private
// half is the owner's alone, and a second run refuses to overwrite it.
func TestKeysGenerateAndSign(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "keys")
	code, out, errOut := runCLI(t, nil, "keys", "generate", "--dir", dir)
	if code != exitOK {
		t.Fatalf("keys generate: %d %s", code, errOut)
	}
	priv, pub := filepath.Join(dir, "private.pem"), filepath.Join(dir, "public.pem")
	if out != "AUTH_PRIVATE_KEY_FILE="+priv+"\nAUTH_PUBLIC_KEY_FILE="+pub+"\n" {
		t.Errorf("stdout %q", out)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", st, err)
	}
	before, _ := os.ReadFile(priv)
	if code, _, errOut := runCLI(t, nil, "keys", "generate", "--dir", dir); code != exitUsage || !strings.Contains(errOut, "never overwritten") {
		t.Fatalf("second generate: %d %s", code, errOut)
	}
	if after, _ := os.ReadFile(priv); !bytes.Equal(before, after) {
		t.Fatal("the private key was overwritten")
	}

	// The key wins over a secret set beside it.
	code, out, errOut = runCLI(t, map[string]string{"AUTH_PRIVATE_KEY_FILE": priv, "AUTH_JWT_SECRET": testSecret},
		"token", "--sub", "carol", "--scope", "tickets:read")
	if code != exitOK {
		t.Fatalf("token: %d %s", code, errOut)
	}
	tok := strings.TrimSpace(out)
	v, err := auth.NewVerifier(auth.Config{PublicKeyFile: pub})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(tok); err != nil || c.Subject != "carol" {
		t.Fatalf("Verify: %+v %v", c, err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil || parsed.Header["alg"] != "EdDSA" || parsed.Header["typ"] != "at+jwt" {
		t.Fatalf("header %v %v", parsed.Header, err)
	}
}
