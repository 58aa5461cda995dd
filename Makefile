# fieldwatch — common tasks. `make test` is the project's test command (also CI's).

GO ?= go

.PHONY: test bench run generate build

# Starts PostgreSQL/PostGIS and the S3 server on loopback, then gofmt, vet,
# go test -race and each fuzz target for FIELDWATCH_FUZZTIME (default 10s).
# Extra go test flags: make test TESTFLAGS='-run Foo -v' (these skip the fuzz
# phase unless FIELDWATCH_FUZZTIME is set).
test:
	bash scripts/test.sh $(TESTFLAGS)

# Upload benchmarks against the real binary on PostGIS+S3 and SQLite+local
# directory, with same-run baselines; rewrites docs/benchmarks.{json,md}.
bench:
	bash scripts/bench.sh

run:
	$(GO) run ./cmd/fieldwatch serve

generate:
	$(GO) generate ./...

build:
	$(GO) build -o bin/fieldwatch ./cmd/fieldwatch
