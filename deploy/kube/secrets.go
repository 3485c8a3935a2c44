package kube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// SecretKeys reads the example Secret file: every Secret in it, with the keys
// of its data and stringData. The manifests only reference Secrets; this file
// is the one place that says what an operator must create.
func SecretKeys(path string) (map[string]map[string]bool, error) {
	objs, err := DecodeFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	for _, obj := range objs {
		s, ok := obj.(*corev1.Secret)
		if !ok {
			return nil, fmt.Errorf("%s: holds a %T, want only Secrets", path, obj)
		}
		keys := map[string]bool{}
		for k := range s.StringData {
			keys[k] = true
		}
		for k := range s.Data {
			keys[k] = true
		}
		out[s.Name] = keys
	}
	return out, nil
}
