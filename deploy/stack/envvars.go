package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var envTag = regexp.MustCompile(`env:"([A-Z0-9_]+)"`)

// ServiceVariables reads, from the sources, the environment variables each
// service's configuration declares (services/<svc>/internal/config, plus
// pkg/auth's when the config embeds auth.Config). Compose and the manifests
// are checked against it, so a misspelt or stale variable fails in lint
// instead of being silently ignored by the process.
func ServiceVariables(root string, services ...string) (map[string]map[string]bool, error) {
	authVars, err := tagsIn(filepath.Join(root, "pkg", "auth"))
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]bool{}
	for _, svc := range services {
		dir := filepath.Join(root, "services", svc, "internal", "config")
		vars, err := tagsIn(dir)
		if err != nil {
			return nil, err
		}
		if embedsAuth(dir) {
			for v := range authVars {
				vars[v] = true
			}
		}
		out[svc] = vars
	}
	return out, nil
}

// tagsIn collects the env tags of the non-test Go files in dir.
func tagsIn(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	vars := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range envTag.FindAllStringSubmatch(string(data), -1) {
			vars[m[1]] = true
		}
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("%s: no env tags found (did the configuration move?)", dir)
	}
	return vars, nil
}

func embedsAuth(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err == nil && !strings.HasSuffix(f, "_test.go") && strings.Contains(string(data), "auth.Config") {
			return true
		}
	}
	return false
}
