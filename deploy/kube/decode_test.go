package kube

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDecodeIsStrict(t *testing.T) {
	t.Parallel()
	const deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n"
	tests := map[string]struct{ doc, want string }{
		"unknown field":   {deployment + "  replica: 2\n", "unknown field"},
		"misplaced field": {deployment + "  template:\n    spec:\n      containers:\n      - name: a\n        livenessprobe: {}\n", "unknown field"},
		"wrong type":      {deployment + "  replicas: two\n", "replicas"},
		"duplicate field": {deployment + "  replicas: 1\n  replicas: 2\n", "already set"},
		"unknown kind":    {"apiVersion: apps/v1\nkind: Deploymnet\nmetadata:\n  name: x\n", "Deploymnet"},
		"removed API":     {"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: x\n", "v1beta1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode error = %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := Decode([]byte(deployment + "  replicas: 2\n")); err != nil {
		t.Fatalf("a valid Deployment: %v", err)
	}
}

func TestSecretKeys(t *testing.T) {
	t.Parallel()
	keys := exampleSecrets(t)
	for secret, want := range map[string][]string{
		"ticketsys":      {"database-url", "migrate-database-url", "read-database-url", "redis-url", "cursor-secret"},
		"ticketsys-nats": {"command.creds", "cache-invalidator.creds"},
		"ticketsys-auth": {"public.pem"},
	} {
		for _, k := range want {
			if !keys[secret][k] {
				t.Errorf("the example Secret %s lacks %s", secret, k)
			}
		}
	}
	// Nothing that signs tokens goes near the services.
	if keys["ticketsys"]["auth-jwt-secret"] {
		t.Error("the example Secret still holds auth-jwt-secret")
	}

	dir := t.TempDir()
	notSecret := filepath.Join(dir, "cm.yaml")
	if err := os.WriteFile(notSecret, []byte("# header\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := SecretKeys(notSecret); err == nil || !strings.Contains(err.Error(), "want only Secrets") {
		t.Errorf("SecretKeys(ConfigMap) = %v, want a refusal", err)
	}
	if _, err := SecretKeys(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("SecretKeys(missing file) succeeded")
	}
}

func TestRenderFailsOnABrokenTree(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("kustomization.yaml", "resources:\n  - svc.yaml\n")
	write("svc.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  portz: []\n")
	if _, _, err := Render(dir); err == nil || !strings.Contains(err.Error(), "portz") {
		t.Errorf("Render = %v, want the unknown field named", err)
	}
	if _, _, err := Render(filepath.Join(dir, "nowhere")); err == nil {
		t.Error("Render of a missing directory succeeded")
	}
}
