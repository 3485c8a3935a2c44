package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Signer signs access tokens for local use (ticketctl token, make dev, tests): with a private
// key (EdDSA or ES256, the default setup) or an HS256 secret.
type Signer struct {
	key    any
	method jwt.SigningMethod
}

// SecretSigner signs HS256 with secret, which must be as long as MinSecretLen.
func SecretSigner(secret []byte) (Signer, error) {
	if len(secret) < MinSecretLen {
		return Signer{}, fmt.Errorf("secret must be at least %d bytes for HS256, got %d", MinSecretLen, len(secret))
	}
	return Signer{key: secret, method: jwt.SigningMethodHS256}, nil
}

// KeySigner signs with the PEM private key in path: EdDSA for Ed25519, ES256 for P-256.
func KeySigner(path string) (Signer, error) {
	key, method, err := ReadPrivateKey(path)
	if err != nil {
		return Signer{}, err
	}
	return Signer{key: key, method: method}, nil
}

// Alg is the JWS algorithm the signer uses.
func (s Signer) Alg() string { return s.method.Alg() }

// Mint signs a token for sub with the given scopes, valid from now for ttl. issuer and audience
// are set only when non-empty; they must match AUTH_ISSUER/AUTH_AUDIENCE of the service.
func (s Signer) Mint(sub string, scopes []string, ttl time.Duration, issuer, audience string) (string, error) {
	switch {
	case s.method == nil:
		return "", errors.New("no signing key")
	case sub == "":
		return "", errors.New("subject must not be empty")
	case ttl <= 0:
		return "", fmt.Errorf("ttl must be positive, got %s", ttl)
	}
	now := time.Now()
	claims := tokenClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   sub,
			Issuer:    issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		Scope: scopes,
	}
	if audience != "" {
		claims.Audience = jwt.ClaimStrings{audience}
	}
	tok := jwt.NewWithClaims(s.method, claims)
	tok.Header["typ"] = "at+jwt" // RFC 9068: says what it is, so it cannot pass for an ID token
	signed, err := tok.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}

// Mint signs an HS256 token with secret; see Signer.Mint.
func Mint(secret []byte, sub string, scopes []string, ttl time.Duration, issuer, audience string) (string, error) {
	s, err := SecretSigner(secret)
	if err != nil {
		return "", err
	}
	return s.Mint(sub, scopes, ttl, issuer, audience)
}
