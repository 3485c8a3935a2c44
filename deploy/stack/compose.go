package stack

import (
	"context"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadCompose loads root/docker-compose.yml as `docker compose config` would,
// with env as the whole environment (not the process's, so a test sees the
// defaults the file promises): interpolated, normalized, validated against
// the compose schema, with relative paths resolved against root.
//
// profiles are the active profiles, as `docker compose --profile` names
// them: a service with a profiles: list runs only when one of them is
// active, so with none (COMPOSE_PROFILES in env is not read) the project
// holds the default stack and the others are in p.DisabledServices.
func LoadCompose(ctx context.Context, root string, env map[string]string, profiles ...string) (*types.Project, error) {
	pairs := make([]string, 0, len(env))
	for k, v := range env {
		pairs = append(pairs, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(pairs),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithProfiles(profiles),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}
