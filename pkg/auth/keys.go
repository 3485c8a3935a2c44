package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// devPublicKey is the public key of the development key pair in deploy/dev-keys, which the
// compose stack uses. Known to everyone, it verifies nothing outside development.
const devPublicKey = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEADS0nJK3aNc45V85yrL7KUEpbPTiqfEM6EAQd3Doyifo=
-----END PUBLIC KEY-----`

func isDevKey(pemBytes []byte) bool {
	return bytes.Equal(bytes.TrimSpace(pemBytes), []byte(devPublicKey))
}

// readPublicKey reads a PEM public key and the signing method it pins: EdDSA for Ed25519,
// ES256 for P-256. The error names the variable and never quotes the file.
func readPublicKey(path string) (any, []byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, errors.New("AUTH_PUBLIC_KEY_FILE: cannot be read")
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, nil, errors.New("AUTH_PUBLIC_KEY_FILE: not a PEM public key")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, nil, errors.New("AUTH_PUBLIC_KEY_FILE: not a PEM public key")
	}
	switch k := key.(type) {
	case ed25519.PublicKey:
		return k, b, nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return k, b, nil
		}
	}
	return nil, nil, errors.New("AUTH_PUBLIC_KEY_FILE: want an Ed25519 or P-256 key")
}

func methodFor(key any) jwt.SigningMethod {
	if _, ok := key.(ed25519.PublicKey); ok {
		return jwt.SigningMethodEdDSA
	}
	return jwt.SigningMethodES256
}

// GenerateKeys makes an Ed25519 key pair as PEM: the private key signs tokens (ticketctl token,
// an identity provider), the public one is what the services verify with.
func GenerateKeys() (privatePEM, publicPEM []byte, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}), nil
}

// ReadPrivateKey reads a PEM private key (Ed25519 or P-256) and the method it signs with.
func ReadPrivateKey(path string) (any, jwt.SigningMethod, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read the private key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || !strings.Contains(block.Type, "PRIVATE KEY") {
		return nil, nil, errors.New("not a PEM private key")
	}
	var key any
	if key, err = x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if key, err = x509.ParseECPrivateKey(block.Bytes); err != nil {
			return nil, nil, errors.New("not a PKCS #8 or EC private key")
		}
	}
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return k, jwt.SigningMethodEdDSA, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, jwt.SigningMethodES256, nil
		}
	}
	return nil, nil, errors.New("want an Ed25519 or P-256 private key")
}
