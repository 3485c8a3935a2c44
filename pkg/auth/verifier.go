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

	// Pinning the methods per key source is what stops alg=none and algorithm confusion (an RSA
	// public key used as an HMAC secret).
	var methods []string
	if cfg.JWTSecret != "" {
		secret := []byte(cfg.JWTSecret)
		methods = []string{jwt.SigningMethodHS256.Alg()}
		v.keyFunc = func(*jwt.Token) (any, error) { return secret, nil }
	} else {
		ctx, cancel := context.WithCancel(context.Background())
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{cfg.JWKSURL}, keyfunc.Override{
			HTTPTimeout:     10 * time.Second,
			RefreshInterval: 15 * time.Minute,
			// Unknown kids (key rotation, or an attacker's junk) refresh at most once a minute, and
			// a request never waits long for that turn.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(time.Minute), 1),
			RateLimitWaitMax:  5 * time.Second,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("AUTH_JWKS_URL: %w", err)
		}
		methods = []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}
		v.keyFunc = kf.Keyfunc
		v.stop = cancel
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(), // v5 accepts a token without exp unless told otherwise
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
	if _, err := v.parser.ParseWithClaims(tokenString, &tc, v.keyFunc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if tc.Subject == "" {
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	c := &Claims{Subject: tc.Subject, Scopes: tc.Scope}
	v.cache.put(tokenString, c, tc.ExpiresAt.Time, now)
	return c, nil
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
