package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ticketsys/ticketsys/pkg/auth"
)

func (a *app) tokenCmd() *cobra.Command {
	var (
		sub, scope, issuer, audience string
		ttl                          time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token --sub NAME --scope \"tickets:read tickets:write\"",
		Short: "Print an HS256 token signed with AUTH_JWT_SECRET, for local use",
		Long: `Print an HS256 token signed with AUTH_JWT_SECRET from the environment, and nothing else,
so it can be captured: TOKEN=$(ticketctl token --sub alice --scope tickets:read).
--issuer and --audience default to AUTH_ISSUER and AUTH_AUDIENCE, as the services check them.`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			env, err := a.env()
			if err != nil {
				return err
			}
			secret := env.Token.Secret
			switch {
			case secret == "":
				return usagef("AUTH_JWT_SECRET is not set")
			case len(secret) < auth.MinSecretLen:
				return usagef("AUTH_JWT_SECRET must be at least %d bytes for HS256, got %d", auth.MinSecretLen, len(secret))
			case strings.TrimSpace(sub) == "":
				return usagef("--sub is required")
			case ttl <= 0:
				return usagef("--ttl must be positive, got %s", ttl)
			}
			if !cmd.Flags().Changed("issuer") {
				issuer = env.Token.Issuer
			}
			if !cmd.Flags().Changed("audience") {
				audience = env.Token.Audience
			}
			tok, err := auth.Mint([]byte(secret), strings.TrimSpace(sub), strings.Fields(scope), ttl, issuer, audience)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(a.stdout, tok)
			return err
		}),
	}
	f := cmd.Flags()
	f.StringVar(&sub, "sub", "", "subject of the token, e.g. a user name (required)")
	f.StringVar(&scope, "scope", "", `space-separated scopes, e.g. "tickets:read tickets:write"`)
	f.DurationVar(&ttl, "ttl", time.Hour, "lifetime of the token")
	f.StringVar(&issuer, "issuer", "", "iss claim (default $AUTH_ISSUER)")
	f.StringVar(&audience, "audience", "", "aud claim (default $AUTH_AUDIENCE)")
	return cmd
}
