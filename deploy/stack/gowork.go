package stack

import (
	"os"
	"path/filepath"

	"golang.org/x/mod/modfile"
)

// WorkModules lists the module directories go.work uses, relative to root
// and slash-separated, as a Dockerfile names them.
func WorkModules(root string) ([]string, error) {
	path := filepath.Join(root, "go.work")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	wf, err := modfile.ParseWork(path, data, nil)
	if err != nil {
		return nil, err
	}
	dirs := make([]string, 0, len(wf.Use))
	for _, u := range wf.Use {
		dirs = append(dirs, filepath.ToSlash(filepath.Clean(u.Path)))
	}
	return dirs, nil
}
