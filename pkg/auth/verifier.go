package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Leeway absorbs clock skew between the token issuer and this process.
const Leeway = 30 * time.Second

// UnknownKIDRefresh is how often a token with a kid not in the key set may refetch the set.
const UnknownKIDRefresh = 10 * time.Second

var (
	// ErrInvalidToken wraps every reason a token is refused; the jwt error is wrapped as well.
	ErrInvalidToken = errors.New("invalid token")
	// ErrDisabled is returned by Verify when authentication is switched off: there is nothing to check.
	ErrDisabled = errors.New("authentication is disabled")
)

// Claims is what handlers need from a verified token.
type Claims struct {
	Subject string
	Scopes  []string
}

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// Verifier checks tokens against one pinned key source. It is safe for concurrent use.
type Verifier struct {
	disabled bool
	parser   *jwt.Parser
	keyFunc  jwt.Keyfunc
	stop     context.CancelFunc
	cache    verified

	maxLifetime time.Duration
}

// NewVerifier validates cfg and prepares the key source. With AUTH_JWKS_URL it fetches the key set
// once (an unreachable URL is logged, not fatal: keys are fetched again on an unknown kid) and
// refreshes it in the background until Close.
func NewVerifier(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{disabled: cfg.Disabled, stop: func() {}}
	if cfg.Disabled {
		return v, nil
	}

	// Pinning the methods per key source is what stops alg=none and algorithm confusion (a
	// public key used as an HMAC secret).
	var methods []string
	switch {
	case cfg.JWTSecret != "":
		secret := []byte(cfg.JWTSecret)
		methods = []string{jwt.SigningMethodHS256.Alg()}
		v.keyFunc = func(*jwt.Token) (any, error) { return secret, nil }
	case cfg.PublicKeyFile != "":
		key, _, err := readPublicKey(cfg.PublicKeyFile)
		if err != nil {
			return nil, err
		}
		methods = []string{methodFor(key).Alg()}
		v.keyFunc = func(*jwt.Token) (any, error) { return key, nil }
	default:
		ctx, cancel := context.WithCancel(context.Background())
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			HTTPTimeout: 10 * time.Second,
			// The set is fetched every minute whatever tokens arrive, so junk kids sent on
			// purpose, however often, keep a rotated-in key out for a minute at most.
			RefreshInterval: time.Minute,
			// An unknown kid (a key rotated in, or an attacker's junk) refreshes the set at most
			// every ten seconds, and a request never waits long for its turn.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(UnknownKIDRefresh), 1),
			RateLimitWaitMax:  time.Second,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("AUTH_JWKS_URL: %w", err)
		}
		methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}
		v.keyFunc = func(t *jwt.Token) (any, error) {
			// A kid that cannot be a key's name is refused before it can cost a refresh.
			if kid, _ := t.Header["kid"].(string); len(kid) > 128 || strings.ContainsFunc(kid, func(r rune) bool {
				return r < 0x21 || r > 0x7e
			}) {
				return nil, errors.New("malformed kid")
			}
			return kf.Keyfunc(t)
		}
		v.stop = cancel
	}
	v.maxLifetime = cfg.MaxLifetime
	if v.maxLifetime == 0 {
		v.maxLifetime = DefaultMaxLifetime
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(), // v5 accepts a token without exp unless told otherwise
		jwt.WithIssuedAt(),           // an iat in the future (beyond the leeway) is refused
		jwt.WithLeeway(Leeway),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Close stops the background JWKS refresh; it is a no-op for the other modes.
func (v *Verifier) Close() { v.stop() }

// Verify checks signature, algorithm, exp/nbf, issuer and audience, and requires a subject.
func (v *Verifier) Verify(tokenString string) (*Claims, error) {
	if v.disabled {
		return nil, ErrDisabled
	}
	now := time.Now()
	if c, ok := v.cache.get(tokenString, now); ok {
		return c, nil
	}
	var tc tokenClaims
	tok, err := v.parser.ParseWithClaims(tokenString, &tc, v.keyFunc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := v.checkAccessToken(tok, &tc, now); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	c := &Claims{Subject: tc.Subject, Scopes: tc.Scope}
	v.cache.put(tokenString, c, tc.ExpiresAt.Time, now)
	return c, nil
}

// checkAccessToken holds what the signature does not: an access token (typ, when set, says so),
// with a subject, meant to live no longer than the limit.
func (v *Verifier) checkAccessToken(tok *jwt.Token, tc *tokenClaims, now time.Time) error {
	switch typ, _ := tok.Header["typ"].(string); strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
	default:
		return fmt.Errorf("typ %q is not an access token", typ)
	}
	if tc.Subject == "" {
		return errors.New("no subject")
	}
	from := now
	if tc.IssuedAt != nil {
		from = tc.IssuedAt.Time
	}
	if tc.ExpiresAt.Sub(from) > v.maxLifetime+Leeway {
		return fmt.Errorf("lifetime beyond %s", v.maxLifetime)
	}
	return nil
}

type tokenClaims struct {
	jwt.RegisteredClaims
	Scope scopeClaim `json:"scope,omitempty"`
}

// scopeClaim is the space-separated "scope" of RFC 8693; some issuers send a JSON array, which
// is accepted too rather than failing every request on a harmless difference.
type scopeClaim []string

func (s scopeClaim) MarshalJSON() ([]byte, error) { return json.Marshal(strings.Join(s, " ")) }

func (s *scopeClaim) UnmarshalJSON(b []byte) error {
	var str string
	if err := json.Unmarshal(b, &str); err == nil {
		*s = strings.Fields(str)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return errors.New("scope must be a string or an array of strings")
	}
	*s = list
	return nil
}
