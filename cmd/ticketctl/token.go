package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
		Short: "Print an access token signed with AUTH_PRIVATE_KEY_FILE or AUTH_JWT_SECRET",
		Long: `Print an access token, and nothing else, so it can be captured:
TOKEN=$(ticketctl token --sub alice --scope tickets:read).
It is signed with the private key in AUTH_PRIVATE_KEY_FILE (EdDSA or ES256, what services with
AUTH_PUBLIC_KEY_FILE verify) or else HS256 with AUTH_JWT_SECRET. --issuer and --audience default to
AUTH_ISSUER and AUTH_AUDIENCE, and --ttl may not pass AUTH_MAX_TOKEN_LIFETIME, as the services
check them.`,
		Args: cobra.NoArgs,
		RunE: a.action(func(cmd *cobra.Command, _ []string) error {
			env, err := a.env()
			if err != nil {
				return err
			}
			signer, err := env.Token.signer()
			if err != nil {
				return err
			}
			switch {
			case strings.TrimSpace(sub) == "":
				return usagef("--sub is required")
			case ttl <= 0:
				return usagef("--ttl must be positive, got %s", ttl)
			case ttl > env.Token.MaxLifetime:
				return usagef("--ttl %s is beyond AUTH_MAX_TOKEN_LIFETIME (%s): the services would refuse the token", ttl, env.Token.MaxLifetime)
			}
			if !cmd.Flags().Changed("issuer") {
				issuer = env.Token.Issuer
			}
			if !cmd.Flags().Changed("audience") {
				audience = env.Token.Audience
			}
			tok, err := signer.Mint(strings.TrimSpace(sub), strings.Fields(scope), ttl, issuer, audience)
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
	completeValues(cmd, "scope", scopeValues)
	return cmd
}

// signer is the private key when one is given, else the shared secret.
func (e tokenEnv) signer() (auth.Signer, error) {
	switch {
	case e.PrivateKeyFile != "":
		s, err := auth.KeySigner(e.PrivateKeyFile)
		if err != nil {
			return s, usagef("AUTH_PRIVATE_KEY_FILE: %v", err)
		}
		return s, nil
	case e.Secret == "":
		return auth.Signer{}, usagef("AUTH_PRIVATE_KEY_FILE or AUTH_JWT_SECRET is required")
	}
	s, err := auth.SecretSigner([]byte(e.Secret))
	if err != nil {
		return s, usagef("AUTH_JWT_SECRET: %v", err)
	}
	return s, nil
}

func (a *app) keysCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Make the key pair that signs and verifies access tokens",
	}
	var dir string
	gen := &cobra.Command{
		Use:   "generate --dir DIR",
		Short: "Write a new Ed25519 key pair: DIR/private.pem (0600) and DIR/public.pem",
		Long: `Write a new Ed25519 key pair. The services verify with DIR/public.pem
(AUTH_PUBLIC_KEY_FILE) and hold no key that can sign; ticketctl token, or your identity provider,
signs with DIR/private.pem (AUTH_PRIVATE_KEY_FILE). Existing files are never overwritten.`,
		Args: cobra.NoArgs,
		RunE: a.action(func(*cobra.Command, []string) error {
			if dir == "" {
				return usagef("--dir is required")
			}
			priv, pub, err := auth.GenerateKeys()
			if err != nil {
				return err
			}
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			privPath, pubPath := filepath.Join(dir, "private.pem"), filepath.Join(dir, "public.pem")
			for _, p := range []string{privPath, pubPath} {
				if _, err := os.Stat(p); err == nil {
					return usagef("%s exists: keys are never overwritten", p)
				} else if !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
			if err := writeNew(privPath, priv, 0o600); err != nil {
				return err
			}
			if err := writeNew(pubPath, pub, 0o644); err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.stdout, "AUTH_PRIVATE_KEY_FILE=%s\nAUTH_PUBLIC_KEY_FILE=%s\n", privPath, pubPath)
			return err
		}),
	}
	gen.Flags().StringVar(&dir, "dir", "", "directory to write the pair into (made if missing)")
	if err := gen.MarkFlagDirname("dir"); err != nil {
		panic(err)
	}
	cmd.AddCommand(gen)
	return cmd
}

// writeNew creates path with mode, failing if it exists (O_EXCL), so a race cannot overwrite a key.
func writeNew(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
