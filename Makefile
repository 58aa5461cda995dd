# fieldwatch — common tasks. `make test` is the project's test command (also CI's).

GO ?= go

.PHONY: test run generate build

# Starts PostgreSQL/PostGIS and the S3 server on loopback, then gofmt, vet and
# go test -race. Extra go test flags: make test TESTFLAGS='-run Foo -v'
test:
	bash scripts/test.sh $(TESTFLAGS)

run:
	$(GO) run ./cmd/fieldwatch serve

generate:
	$(GO) generate ./...

build:
	$(GO) build -o bin/fieldwatch ./cmd/fieldwatch
