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

// Source is the non-test Go source of the repository's services/ and pkg/
// (root is the repository's root), where every metric name is a string
// literal; a name is exported when Source contains it in quotes.
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
