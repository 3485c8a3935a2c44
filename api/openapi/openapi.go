// Package openapi holds the OpenAPI 3.1 descriptions of the two HTTP
// services, command.yaml and query.yaml, embedded as they are in the
// repository: each service serves its own at GET /openapi.yaml.
//
// The descriptions are written by hand and are the source of truth for the
// API; nothing generates them from the code. What is generated is generated
// from them (make openapi): ticketsys.yaml, the front door's description
// (Combined), and from it the Go client in client/api. Tests hold code and
// descriptions together: every response the test suites see is
// validated against the description of the service that answered
// (package openapitest), each service's routes are compared with its
// description's paths, and make lint runs redocly lint on both files.
//
// Each file is complete on its own (a client that fetches /openapi.yaml
// needs nothing else), so the components both services use, such as Ticket
// and Problem, are written in both; TestSharedComponentsAreIdentical keeps
// every component of the same name identical in the two files.
//
// This package holds only the bytes, which is all the services need; the
// loader (a validated kin-openapi document) and the response validator are
// in openapitest, so kin-openapi stays out of the service binaries.
package openapi

import (
	_ "embed"
	"slices"
)

// ContentType is the media type the services serve their description with.
const ContentType = "application/yaml"

var (
	//go:embed command.yaml
	command []byte
	//go:embed query.yaml
	query []byte
)

// Command returns the command service's description: command.yaml, byte for
// byte. The slice is the caller's.
func Command() []byte { return slices.Clone(command) }

// Query returns the query service's description: query.yaml, byte for byte.
// The slice is the caller's.
func Query() []byte { return slices.Clone(query) }
