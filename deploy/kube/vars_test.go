package kube

import (
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ticketsys/ticketsys/deploy/stack"
)

// runtimeVars are read by the Go runtime, not by a service's config.
var runtimeVars = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GODEBUG": true}

// Every variable the manifests set is one the process reads: a misspelt name
// is ignored by the process without a word, and the default silently wins.
func TestManifestVariablesAreRead(t *testing.T) {
	t.Parallel()
	known, err := stack.ServiceVariables(filepath.Join(k8sDir(t), "..", ".."), "command", "query", "cache-invalidator")
	if err != nil {
		t.Fatal(err)
	}
	for _, tree := range []string{"base", "overlays/production"} {
		for _, o := range render(t, tree) {
			var spec *corev1.PodSpec
			switch v := o.Obj.(type) {
			case *appsv1.Deployment:
				spec = &v.Spec.Template.Spec
			case *batchv1.Job:
				spec = &v.Spec.Template.Spec
			case *corev1.ConfigMap:
				for k := range v.Data {
					if !known["command"][k] && !known["query"][k] && !known["cache-invalidator"][k] {
						t.Errorf("%s %s: %s is read by no service", tree, o, k)
					}
				}
			}
			if spec == nil {
				continue
			}
			for _, c := range spec.Containers {
				svc := c.Name
				if svc == "migrate" {
					svc = "command"
				}
				if known[svc] == nil {
					t.Errorf("%s %s: container %s is not a service", tree, o, c.Name)
					continue
				}
				for _, e := range c.Env {
					if !known[svc][e.Name] && !runtimeVars[e.Name] {
						t.Errorf("%s %s: %s is not a variable services/%s reads", tree, o, e.Name, svc)
					}
				}
			}
		}
	}
}
