// Package kube renders the kustomize trees under deploy/k8s with kustomize's
// own Go API (what `kubectl kustomize` runs), decodes every object strictly
// into the typed Kubernetes API structs, and checks the project's rules.
//
// Schema validation with kubeconform would need the JSON schemas from the
// internet, which our machines cannot reach; a strict decode into k8s.io/api
// rejects the same mistakes that matter here (unknown or misspelt fields,
// wrong types, unknown kinds), and Check adds what no schema knows.
package kube

import (
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Object is one rendered object: its kind and name, the typed value, and its
// YAML as kustomize printed it.
type Object struct {
	Kind string
	Name string
	Obj  runtime.Object
	YAML []byte
}

func (o Object) String() string { return o.Kind + "/" + o.Name }

// renderMu serialises kustomize runs; see Render.
var renderMu sync.Mutex

// Render runs kustomize on dir with kubectl's defaults (loading only files
// under dir) and decodes every object strictly. It returns the objects and
// the whole rendering as one YAML stream.
func Render(dir string) ([]Object, []byte, error) {
	// kyaml loads its built-in OpenAPI schema into package globals on first
	// use without a lock (a data race under go test -race when trees render
	// in parallel), so renders take turns.
	renderMu.Lock()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	renderMu.Unlock()
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	all, err := m.AsYaml()
	if err != nil {
		return nil, nil, fmt.Errorf("kustomize %s: %w", dir, err)
	}
	objs := make([]Object, 0, m.Size())
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		obj, err := Decode(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", r.GetKind(), r.GetName(), err)
		}
		objs = append(objs, Object{Kind: r.GetKind(), Name: r.GetName(), Obj: obj, YAML: doc})
	}
	return objs, all, nil
}
