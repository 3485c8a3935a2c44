package openapi_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ticketsys/ticketsys/api/openapi"
	"github.com/ticketsys/ticketsys/api/openapi/openapitest"
)

// ticketsys.yaml is what Combined makes of command.yaml and query.yaml, and
// a valid description with every ticket operation of both.
func TestCombinedIsFresh(t *testing.T) {
	want, err := openapi.Combined()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("ticketsys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("api/openapi/ticketsys.yaml is stale: run make openapi")
	}
	doc, err := openapitest.Load("ticketsys.yaml", got)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{}
	for _, s := range services(t) {
		for path, item := range s.doc.Paths.Map() {
			for method, op := range item.Operations() {
				if path == "/tickets" || len(path) > len("/tickets/") && path[:len("/tickets/")] == "/tickets/" {
					ops[method+" "+path] = op.OperationID
				}
			}
		}
	}
	for key, id := range ops {
		var found bool
		for path, item := range doc.Paths.Map() {
			for method, op := range item.Operations() {
				found = found || (method+" "+path == key && op.OperationID == id && op.Security != nil && len(*op.Security) > 0)
			}
		}
		if !found {
			t.Errorf("ticketsys.yaml lacks %s (%s), or its security", key, id)
		}
	}
}

// client/api/api.gen.go is what the pinned oapi-codegen generates from
// ticketsys.yaml.
func TestGoClientIsFresh(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The committed configuration, writing elsewhere.
	cfg, err := os.ReadFile(filepath.Join(root, "client/api/oapi-codegen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "api.gen.go")
	cfg = bytes.Replace(cfg, []byte("\noutput: api.gen.go\n"), []byte("\noutput: "+out+"\n"), 1)
	if err := os.WriteFile(filepath.Join(dir, "oapi-codegen.yaml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "oapi-codegen", "-config", filepath.Join(dir, "oapi-codegen.yaml"),
		filepath.Join(root, "api/openapi/ticketsys.yaml"))
	cmd.Dir = filepath.Join(root, "tools")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, "client/api/api.gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("client/api/api.gen.go is stale: run make openapi")
	}
}
