package stack

import (
	"bufio"
	"bytes"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
)

// helpVar is a line of the Environment section of a service's --help.
var helpVar = regexp.MustCompile(`^  ([A-Z][A-Z0-9_]+) `)

var (
	varsMu    sync.Mutex
	varsCache = map[string]map[string]bool{}
)

// ServiceVariables returns, per service, the environment variables it
// reads, from the list its own `--help` prints (built from its
// configuration, the one place each is declared). Compose and the manifests
// are checked against it, so a misspelt or stale variable fails in lint
// instead of being silently ignored by the process.
func ServiceVariables(root string, services ...string) (map[string]map[string]bool, error) {
	out := map[string]map[string]bool{}
	for _, svc := range services {
		vars, err := serviceVariables(root, svc)
		if err != nil {
			return nil, err
		}
		out[svc] = vars
	}
	return out, nil
}

func serviceVariables(root, svc string) (map[string]bool, error) {
	varsMu.Lock()
	defer varsMu.Unlock()
	if v, ok := varsCache[svc]; ok {
		return v, nil
	}
	cmd := exec.Command("go", "run", "./services/"+svc, "--help")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	help, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go run ./services/%s --help: %w\n%s", svc, err, stderr.String())
	}
	vars := map[string]bool{}
	inEnv := false
	sc := bufio.NewScanner(bytes.NewReader(help))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Environment") {
			inEnv = true
			continue
		}
		if m := helpVar.FindStringSubmatch(line); inEnv && m != nil {
			vars[m[1]] = true
		}
	}
	if len(vars) == 0 {
		return nil, fmt.Errorf("services/%s --help lists no environment variables:\n%s", svc, help)
	}
	varsCache[svc] = vars
	return vars, nil
}
