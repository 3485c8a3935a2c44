// Package exported reads the services' metric names for the deploy checks:
// the dashboard and the alert rules may query only metrics a service
// exports.
package exported

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Prefix begins every metric name the services export (pkg/httpx's
// MetricPrefix): the registry adds it, so the source writes the names
// without it.
const Prefix = "ticketsys_"

// Source is the non-test Go source of the repository's services/ and pkg/
// (root is the repository's root), where every metric name is a string
// literal; see Exports.
func Source(t testing.TB, root string) string {
	t.Helper()
	var sb strings.Builder
	for _, dir := range []string{"services", "pkg"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			sb.Write(b)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return sb.String()
}

// Exports reports whether a service exports the metric name: name carries
// Prefix, and source (from Source) holds the rest of it in quotes, as the
// services register it, or, as for ticketsys_build_info, the whole name.
func Exports(source, name string) bool {
	rest, ok := strings.CutPrefix(name, Prefix)
	return ok && (strings.Contains(source, `"`+rest+`"`) || strings.Contains(source, `"`+name+`"`))
}
