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

// Every built service: context at the root, the one Dockerfile there with
// SERVICE naming the service, a static, trimmed build of that package, a
// small non-root final image that holds the entrypoint and the healthcheck
// binary.
func TestComposeBuildsEachServiceFromTheDockerfile(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	p := loadProject(t, nil)
	df := readDockerfile(t, filepath.Join(root, "Dockerfile"))
	for name, pkg := range builtFrom {
		s := service(t, p, name)
		if s.Build == nil {
			t.Fatalf("%s: no build section", name)
		}
		if s.Build.Context != root {
			t.Errorf("%s: build context %s, want the repository root", name, s.Build.Context)
		}
		if s.Build.Dockerfile != "Dockerfile" {
			t.Errorf("%s: dockerfile %s, want the one at the root", name, s.Build.Dockerfile)
		}
		arg := s.Build.Args["SERVICE"]
		if arg == nil || "./services/"+*arg != pkg {
			t.Errorf("%s: build arg SERVICE %v, want %s", name, arg, path.Base(pkg))
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(pkg))); err != nil {
			t.Errorf("%s: package %s: %v", name, pkg, err)
		}
		checkFinalImage(t, name, df, s.HealthCheck != nil)
	}
	checkGoBuild(t, df, "./services/${SERVICE}")
	if got := service(t, p, "migrate").Command; !slices.Equal(got, []string{"migrate"}) {
		t.Errorf("migrate: command %v, want [migrate]", got)
	}
	if got := service(t, p, "migrate").Image; got != service(t, p, "command").Image {
		t.Errorf("migrate: image %s, want the command service's %s", got, service(t, p, "command").Image)
	}
}

func checkGoBuild(t *testing.T, df *Dockerfile, pkg string) {
	t.Helper()
	build, ok := df.Stage("build")
	if !ok || !strings.HasPrefix(build.From, "golang:") {
		t.Fatalf("Dockerfile: no `build` stage FROM golang")
	}
	var found bool
	for _, b := range GoBuilds(build) {
		if !slices.Contains(b.Packages, pkg) {
			continue
		}
		found = true
		if !slices.Contains(b.Env, "CGO_ENABLED=0") {
			t.Errorf("Dockerfile: go build without CGO_ENABLED=0: the final image has no libc")
		}
		if !slices.Contains(b.Flags, "-trimpath") {
			t.Errorf("Dockerfile: go build without -trimpath")
		}
	}
	if !found {
		t.Errorf("Dockerfile: no `go build` of %s in the build stage", pkg)
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

// The download layer needs the module files, and comes before the sources.
func TestDockerfileDownloadsBeforeCopyingSources(t *testing.T) {
	t.Parallel()
	df := readDockerfile(t, filepath.Join(repoRoot(t), "Dockerfile"))
	build, _ := df.Stage("build")
	srcs := CopiedSources(build)
	for _, w := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(srcs, w) {
			t.Errorf("Dockerfile: does not copy %s before downloading", w)
		}
	}
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
		t.Errorf("Dockerfile: sources must be copied after `go mod download`")
	}
}
