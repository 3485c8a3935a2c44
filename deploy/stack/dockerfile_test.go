package stack

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readDockerfile(t *testing.T, file string) *Dockerfile {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	defer f.Close()
	df, err := ParseDockerfile(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return df
}

// Every built service: context at the root, its own Dockerfile, a static,
// trimmed build of the right package, a small non-root final image that
// holds the entrypoint and the healthcheck binary.
func TestComposeBuildsEachServiceFromItsDockerfile(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	p := loadProject(t, nil)
	for name, pkg := range builtFrom {
		s := service(t, p, name)
		if s.Build == nil {
			t.Fatalf("%s: no build section", name)
		}
		if s.Build.Context != root {
			t.Errorf("%s: build context %s, want the repository root (the build needs pkg/ and go.work)", name, s.Build.Context)
		}
		wantFile := path.Join(pkg[2:], "Dockerfile")
		if s.Build.Dockerfile != wantFile {
			t.Errorf("%s: dockerfile %s, want %s", name, s.Build.Dockerfile, wantFile)
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(pkg))); err != nil {
			t.Errorf("%s: package %s: %v", name, pkg, err)
		}
		df := readDockerfile(t, filepath.Join(root, filepath.FromSlash(s.Build.Dockerfile)))
		checkGoBuild(t, name, df, pkg)
		checkFinalImage(t, name, df, s.HealthCheck != nil)
	}
	if got := service(t, p, "migrate").Command; !slices.Equal(got, []string{"migrate"}) {
		t.Errorf("migrate: command %v, want [migrate]", got)
	}
	if got := service(t, p, "migrate").Image; got != service(t, p, "command").Image {
		t.Errorf("migrate: image %s, want the command service's %s", got, service(t, p, "command").Image)
	}
}

func checkGoBuild(t *testing.T, name string, df *Dockerfile, pkg string) {
	t.Helper()
	build, ok := df.Stage("build")
	if !ok || !strings.HasPrefix(build.From, "golang:") {
		t.Fatalf("%s: no `build` stage FROM golang", name)
	}
	var found bool
	for _, b := range GoBuilds(build) {
		if !slices.Contains(b.Packages, pkg) {
			continue
		}
		found = true
		if !slices.Contains(b.Env, "CGO_ENABLED=0") {
			t.Errorf("%s: go build without CGO_ENABLED=0: the final image has no libc", name)
		}
		if !slices.Contains(b.Flags, "-trimpath") {
			t.Errorf("%s: go build without -trimpath", name)
		}
	}
	if !found {
		t.Errorf("%s: no `go build` of %s in the build stage", name, pkg)
	}
}

func checkFinalImage(t *testing.T, name string, df *Dockerfile, healthcheck bool) {
	t.Helper()
	final := df.Final()
	if !strings.HasPrefix(final.From, "gcr.io/distroless/static") && final.From != "scratch" {
		t.Errorf("%s: final image %s, want distroless/static or scratch", name, final.From)
	}
	user := final.Last("USER")
	if uid, _, _ := strings.Cut(user, ":"); uid == "" || uid == "0" || uid == "root" {
		t.Errorf("%s: final stage USER %q, want a non-root uid", name, user)
	}
	copied := map[string]bool{}
	for _, args := range final.All("COPY") {
		for _, w := range strings.Fields(args) {
			copied[path.Base(w)] = true
		}
	}
	entry := final.Last("ENTRYPOINT")
	if bin := strings.Trim(strings.Trim(entry, "[]"), `"`); !copied[path.Base(bin)] {
		t.Errorf("%s: entrypoint %s is not copied into the final image", name, entry)
	}
	if healthcheck && !copied["httpprobe"] {
		t.Errorf("%s: the healthcheck runs httpprobe, which the final image does not hold", name)
	}
}

// The download layer needs every module of the workspace (go.work names
// them all, and a missing go.mod fails the build), before the sources.
func TestDockerfilesCopyEveryModuleFirst(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	mods, err := WorkModules(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"command", "query", "cache-invalidator"} {
		df := readDockerfile(t, filepath.Join(root, "services", svc, "Dockerfile"))
		build, _ := df.Stage("build")
		srcs := CopiedSources(build)
		want := []string{"go.work", "go.work.sum"}
		for _, m := range mods {
			want = append(want, m+"/go.*")
		}
		for _, w := range want {
			if !slices.Contains(srcs, w) {
				t.Errorf("services/%s/Dockerfile: does not copy %s before downloading", svc, w)
			}
		}
		// The first COPY of everything comes after the download.
		var download, copyAll int
		for i, in := range build.Instructions {
			switch {
			case in.Cmd == "RUN" && strings.Contains(in.Args, "go mod download"):
				download = i
			case in.Cmd == "COPY" && strings.HasPrefix(in.Args, ". ") && copyAll == 0:
				copyAll = i
			}
		}
		if download == 0 || copyAll < download {
			t.Errorf("services/%s/Dockerfile: sources must be copied after `go mod download`", svc)
		}
	}
}
