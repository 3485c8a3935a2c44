package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs an HS256 token for sub with the given scopes, valid from now for ttl. issuer and
// audience are set only when non-empty; they must match AUTH_ISSUER/AUTH_AUDIENCE of the service.
func Mint(secret []byte, sub string, scopes []string, ttl time.Duration, issuer, audience string) (string, error) {
	switch {
	case len(secret) < MinSecretLen:
		return "", fmt.Errorf("secret must be at least %d bytes for HS256, got %d", MinSecretLen, len(secret))
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
	signed, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signed, nil
}
