package stack

import "strings"

// GoBuild describes the `go build` commands of a stage's RUN instructions.
type GoBuild struct {
	Packages []string // the ./relative package paths it builds
	Flags    []string // its flags (-trimpath, -o, ...)
	Env      []string // NAME=value words before `go build` (CGO_ENABLED=0)
}

// GoBuilds finds every `go build` in the stage's RUN instructions, also when
// it follows other commands (&&, ;) or environment assignments.
func GoBuilds(s Stage) []GoBuild {
	var out []GoBuild
	for _, run := range s.All("RUN") {
		for _, cmd := range splitCommands(run) {
			words := strings.Fields(cmd)
			var env []string
			for len(words) > 0 && strings.Contains(words[0], "=") && !strings.HasPrefix(words[0], "-") {
				env = append(env, words[0])
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				continue
			}
			b := GoBuild{Env: env}
			for _, w := range words[2:] {
				switch {
				case strings.HasPrefix(w, "./"):
					b.Packages = append(b.Packages, strings.TrimSuffix(w, "/"))
				case strings.HasPrefix(w, "-"):
					b.Flags = append(b.Flags, w)
				}
			}
			out = append(out, b)
		}
	}
	return out
}

// splitCommands cuts a shell line at && ; and ||, and drops RUN's own
// --mount=... options; good enough for Dockerfiles that keep to one command
// per step.
func splitCommands(run string) []string {
	for _, sep := range []string{"&&", "||", ";"} {
		run = strings.ReplaceAll(run, sep, "\n")
	}
	var out []string
	for _, c := range strings.Split(run, "\n") {
		words := strings.Fields(c)
		for len(words) > 0 && strings.HasPrefix(words[0], "--mount=") {
			words = words[1:]
		}
		if len(words) > 0 {
			out = append(out, strings.Join(words, " "))
		}
	}
	return out
}

// CopiedSources lists the source paths of a stage's COPY instructions
// (without --from copies, which come from another stage).
func CopiedSources(s Stage) []string {
	var out []string
	for _, args := range s.All("COPY") {
		words := strings.Fields(args)
		fromStage := false
		var paths []string
		for _, w := range words {
			if strings.HasPrefix(w, "--from=") {
				fromStage = true
			}
			if !strings.HasPrefix(w, "--") {
				paths = append(paths, w)
			}
		}
		if fromStage || len(paths) < 2 {
			continue
		}
		out = append(out, paths[:len(paths)-1]...)
	}
	return out
}
