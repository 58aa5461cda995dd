// Package fieldwatch is the domain of environmental field inspection: the
// people who use the system (roles and scopes), the evidence they collect
// and its intake, who answers for a place (the atlas of townships and
// river reaches), rectification cases with their deadlines, river
// patrols, responsibility letters and the monthly assessment, and the
// background work that keeps stored evidence whole (the reconciler, the
// invariant checker, thumbnail workers). Every operation of the service
// is a method here; package api only translates HTTP to these calls.
//
// It imports no adapter: nothing of HTTP, SQL or S3 (TestDomainDependencies
// checks it). It declares small interfaces where it uses them, and
// persistence (package store), the photo store (package blob and its
// adapters) and transport (package api) depend on it, never the reverse.
// It also embeds the API contract, openapi.yaml (see OpenAPI).
//
// docs/architecture.md shows the packages, their dependencies, the life of
// an upload and of a case, and where to add a category, a role or a report
// column.
package fieldwatch
