package fieldwatch

// The API contract is embedded so that the binary serves exactly the
// document it validates requests against.

import _ "embed"

// OpenAPI is the raw openapi.yaml: the single source of truth for the HTTP
// API. Go types and the server interface in package api are generated from it.
//
//go:embed openapi.yaml
var OpenAPI []byte
