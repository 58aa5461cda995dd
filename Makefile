# fieldwatch — common tasks. `make test` is the project's test command (also CI's).

GO ?= go

.PHONY: test bench bench-quick run generate build

# Starts PostgreSQL/PostGIS and the S3 server on loopback, then gofmt, vet,
# go test -race and each fuzz target for FIELDWATCH_FUZZTIME (default 10s).
# Extra go test flags: make test TESTFLAGS='-run Foo -v' (these skip the fuzz
# phase unless FIELDWATCH_FUZZTIME is set).
test:
	bash scripts/test.sh $(TESTFLAGS)

# Benchmarks against the real binary on PostGIS+S3 and SQLite+local
# directory, with same-run baselines: upload throughput and memory, slow
# uploads, reads vs /healthz, the bbox query at 1M rows, geo.Index.Locate;
# rewrites docs/benchmarks.{json,md} (about 10–12 minutes on 2 cores). Knobs:
# see the top of scripts/bench.sh.
bench:
	bash scripts/bench.sh

# The same runs, short (a few minutes), for developing the bench; the
# numbers go to ${TMPDIR:-/tmp}/fwbench-quick, not docs/.
bench-quick:
	FWBENCH_QUICK=1 bash scripts/bench.sh

run:
	$(GO) run ./cmd/fieldwatch serve

generate:
	$(GO) generate ./...

build:
	$(GO) build -o bin/fieldwatch ./cmd/fieldwatch
