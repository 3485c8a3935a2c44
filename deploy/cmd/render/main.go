// Command render prints a kustomize tree of deploy/k8s as one YAML stream,
// after validating it as `make lint` does: strict decoding into the typed
// Kubernetes structs and the project's rules (deploy/kube). For operators
// without kubectl at hand, and for reviewing what an overlay changes:
//
//	go run ./deploy/cmd/render deploy/k8s/overlays/production > production.yaml
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ticketsys/ticketsys/deploy/kube"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: render DIR (a kustomization under deploy/k8s)")
	}
	objs, yaml, err := kube.Render(args[0])
	if err != nil {
		return err
	}
	secrets, err := kube.SecretKeys(filepath.Join(k8sRoot(args[0]), "secret.example.yaml"))
	if err != nil {
		return err
	}
	if errs := kube.Check(objs, secrets); len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, err = stdout.Write(yaml)
	return err
}

// k8sRoot is the deploy/k8s directory above dir (base or overlays/NAME),
// where the example Secret lives.
func k8sRoot(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	for d := abs; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "secret.example.yaml")); err == nil {
			return d
		}
	}
	return abs
}
