package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := run([]string{"../../k8s/overlays/production"}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kind: HorizontalPodAutoscaler") || !strings.Contains(out.String(), "namespace: ticketsys") {
		t.Errorf("output is not the production rendering:\n%.300s", out.String())
	}
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	// A tree that renders but breaks a rule: a Deployment without probes.
	dir := t.TempDir()
	files := map[string]string{
		"kustomization.yaml":  "resources:\n  - d.yaml\n",
		"secret.example.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n",
		"d.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
      containers:
        - name: d
          image: d:1.0
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, args := range map[string][]string{
		"no argument":   nil,
		"missing tree":  {filepath.Join(dir, "nowhere")},
		"rule violated": {dir},
	} {
		var out bytes.Buffer
		if err := run(args, &out); err == nil || out.Len() != 0 {
			t.Errorf("%s: run = %v with %d bytes of output, want an error and no output", name, err, out.Len())
		}
	}
}
