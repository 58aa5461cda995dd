#!/usr/bin/env bash
#
# The project's benchmark (`make bench`): starts PostgreSQL/PostGIS and the
# S3 server on loopback (scripts/services.sh), builds the real fieldwatch
# binary, cmd/fwbench and the geo benchmarks, loads the demo county, and
# runs, each bounded in time, with baselines measured in the same run:
#
#   1 upload   upload throughput vs raw writes, and memory under a burst, in
#              two deployments (FWBENCH_MODES):
#                s3     production-like: PostgreSQL/PostGIS + S3 (versitygw,
#                       plain HTTP); baseline: raw minio-go PutObject of the
#                       same bytes to the same S3 server
#                local  embedded: SQLite + local photo directory; baseline:
#                       raw write+fsync+rename on the same file system
#              then (with perf) CPU per upload by stage from a profiled
#              run, and the thumbnails' CPU per 12 MP photo
#   2 slow     1,000 uploads in flight at once (3 MB each at 90 kB/s, ~35 s,
#              started within 2 s) with 20 reads/s, on the s3 deployment,
#              restarted (errors, read latency, peak RSS, goroutines and
#              open files before and after)
#   3 reads    GET /v1/evidence/{id} and a bbox list vs /healthz: sustainable
#              requests/s, latency percentiles, CPU per request and a perf
#              profile (vegeta, open model), in every deployment
#   4 spatial  the store's bbox list query on 1,000,000 rows in fresh
#              PostgreSQL and SQLite databases: p50/p95 and query plans
#   5 geo      go test -bench Locate ./geo
#
# Each deployment gets a fresh server on 127.0.0.1 port 0 and a fresh
# database, one inspector created with `fieldwatch user add`, and the demo
# county imported with `fieldwatch import`; after its runs, a clean stop and
# `fieldwatch check` (every stored photo re-hashed against its row; the
# bench fails otherwise). Then docs/benchmarks.json and the generated part
# of docs/benchmarks.md are rewritten.
#
# Knobs (environment):
#   FWBENCH_RUNS    runs to do, default "upload slow reads spatial geo"
#                   (slow and reads need upload: they read its evidence)
#   FWBENCH_QUICK=1 a short version of every run for development (a few
#                   minutes; the numbers are not comparable, and go to
#                   ${TMPDIR:-/tmp}/fwbench-quick unless FWBENCH_DOCS is set)
#   FWBENCH_MODES   deployments for runs 1 and 3, default "s3 local"; run 2
#                   uses s3 when it is among them, else local
#   FWBENCH_FLAGS   extra flags for `fwbench run`, e.g. '-count 32'
#   FWBENCH_SLOW_FLAGS, FWBENCH_READS_FLAGS, FWBENCH_SPATIAL_FLAGS, FWBENCH_GEO_FLAGS
#                   extra flags for `fwbench slow`, `reads`, `spatial`, and
#                   the geo test binary (e.g. '-test.benchtime=2s')
#   FWBENCH_DOCS    where benchmarks.json/.md go, default docs (use another
#                   directory for runs that should not replace the published numbers)
#
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=scripts/services.sh
source scripts/services.sh

T0=$(fw_now_ms)
BENCH_DIR=""
SERVER_PID=""
SERVER_URL=""
MODES=${FWBENCH_MODES:-s3 local}
RUNS=" ${FWBENCH_RUNS:-upload slow reads spatial geo} "
DOCS=${FWBENCH_DOCS:-docs}
if [[ ${FWBENCH_QUICK:-} == 1 && -z ${FWBENCH_DOCS:-} ]]; then
	DOCS=${TMPDIR:-/tmp}/fwbench-quick # quick numbers never replace the published ones
	if [[ ! -f $DOCS/benchmarks.md && -f docs/benchmarks.md ]]; then
		mkdir -p "$DOCS" && cp docs/benchmarks.md "$DOCS/"
	fi
fi
read -r -a EXTRA <<<"${FWBENCH_FLAGS:-}"
read -r -a SLOW_EXTRA <<<"${FWBENCH_SLOW_FLAGS:-}"
read -r -a READS_EXTRA <<<"${FWBENCH_READS_FLAGS:-}"
read -r -a SPATIAL_EXTRA <<<"${FWBENCH_SPATIAL_FLAGS:-}"
read -r -a GEO_EXTRA <<<"${FWBENCH_GEO_FLAGS:-}"
# The quick mode's flags come first: explicit flags win.
if [[ ${FWBENCH_QUICK:-} == 1 ]]; then
	EXTRA=(-count 32 -burst 16 -warmup 2 -profile-uploads 16 -thumb-photos 6 "${EXTRA[@]}")
	SLOW_EXTRA=(-clients 200 -rate 200000 -duration 12s -stagger 1s "${SLOW_EXTRA[@]}")
	READS_EXTRA=(-step 1s -hold 2s -refine 1 -pause 200ms -profile 2s "${READS_EXTRA[@]}")
	SPATIAL_EXTRA=(-rows 100000 -boxes 100 -warmup 10 "${SPATIAL_EXTRA[@]}")
	GEO_EXTRA=(-test.benchtime=200ms "${GEO_EXTRA[@]}")
fi
has_run() { [[ $RUNS == *" $1 "* ]]; }
for r in $RUNS; do
	case $r in
	upload | slow | reads | spatial | geo) ;;
	*) fw_err "FWBENCH_RUNS: unknown run '$r' (want upload, slow, reads, spatial, geo)"; exit 2 ;;
	esac
done
if { has_run slow || has_run reads; } && ! has_run upload; then
	fw_err "FWBENCH_RUNS: slow and reads need upload (they read the evidence it stores)"
	exit 2
fi
# One bench user sends every upload, run 2's thousand at once among them:
# its per-user cap is raised to that; the total cap stays at its default.
UPLOADS_PER_USER=1000
# Run 2 holds over a thousand connections, fwbench and the server each.
hard=$(ulimit -Hn)
if [[ $hard == unlimited || $hard -gt 65536 ]]; then
	hard=65536
fi
ulimit -n "$hard" 2>/dev/null || true
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < 4096)); then
	fw_err "open files limit $(ulimit -n) < 4096: run 2 needs more (raise the hard limit)"
	exit 2
fi

# server_stop stops the running fieldwatch (SIGTERM, then SIGKILL after 30 s).
server_stop() {
	[[ -n $SERVER_PID ]] || return 0
	local i
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		fw_err "fieldwatch (pid $SERVER_PID) did not stop within 30s of SIGTERM: killing it"
		kill -KILL "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=""
}

on_exit() {
	local rc=$?
	trap - EXIT INT TERM HUP
	server_stop
	services_stop
	if [[ -n $BENCH_DIR ]]; then
		if [[ $rc -ne 0 && ${FIELDWATCH_KEEP_SERVICES_DIR:-} == 1 ]]; then
			fw_info "kept $BENCH_DIR"
		else
			rm -rf -- "$BENCH_DIR"
		fi
	fi
	if [[ $rc -eq 0 ]]; then
		printf '==> BENCH DONE: total %s\n' "$(fw_since "$T0")"
	else
		printf '==> BENCH FAILED (exit %d): total %s\n' "$rc" "$(fw_since "$T0")"
	fi
	exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

fw_phase "$(go version)"
services_start

BENCH_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fieldwatch-bench.XXXXXX")

# The revision measured is the one built, now: the tree may move while the
# bench runs. Dirty: the binary may differ from the revision (the bench's
# own files do not count).
rev=$(git rev-parse HEAD 2>/dev/null || echo unknown)
dirty=false
if [[ -n $(git status --porcelain -- . ':!Makefile' ':!scripts/bench.sh' ':!docs/benchmarks.*' ':!cmd/fwbench' 2>/dev/null) ]]; then
	dirty=true
fi
t=$(fw_now_ms)
fw_phase "go build ./cmd/fieldwatch ./cmd/fwbench; go test -c ./geo (revision ${rev:0:12}, uncommitted changes: $dirty)"
go build -o "$BENCH_DIR/fieldwatch" ./cmd/fieldwatch
go build -o "$BENCH_DIR/fwbench" ./cmd/fwbench
if has_run geo; then
	go test -c -o "$BENCH_DIR/geo.test" ./geo
fi
fw_info "ok ($(fw_since "$t"))"

FWBENCH_PASSWORD="bench $(fw_random_hex 12)"
export FWBENCH_PASSWORD

# A database of its own on the test cluster, so the run starts empty.
PG_URL=${FIELDWATCH_TEST_POSTGRES_URL/\/postgres\?/\/fwbench?}
if [[ $PG_URL == "$FIELDWATCH_TEST_POSTGRES_URL" ]]; then
	fw_err "unexpected FIELDWATCH_TEST_POSTGRES_URL form (want .../postgres?...)"
	exit 1
fi
"$FW_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$FIELDWATCH_TEST_POSTGRES_URL" -c "CREATE DATABASE fwbench" >/dev/null
PG_VERSION=$("$FW_PG_BIN/psql" -X -At "$FIELDWATCH_TEST_POSTGRES_URL" -c "SHOW server_version")
PG_VERSION=${PG_VERSION%% *} # "15.18 (Debian ...)" -> "15.18"
PG_PID=$(head -n1 "$FIELDWATCH_SERVICES_DIR/pg/data/postmaster.pid")

# mode_env MODE exports the server configuration of MODE (in a subshell:
# secrets reach the server through its environment, never its argv).
mode_env() {
	export FIELDWATCH_DATA_DIR=$BENCH_DIR/$1/data
	export FIELDWATCH_UPLOADS_PER_USER=$UPLOADS_PER_USER
	export FIELDWATCH_LOG_FORMAT=json FIELDWATCH_LOG_LEVEL=info
	case $1 in
	s3)
		export FIELDWATCH_DATABASE_URL=$PG_URL
		export FIELDWATCH_S3_ENDPOINT=$FIELDWATCH_TEST_S3_ENDPOINT
		export FIELDWATCH_S3_ACCESS_KEY=$FIELDWATCH_TEST_S3_ACCESS_KEY
		export FIELDWATCH_S3_SECRET_KEY=$FIELDWATCH_TEST_S3_SECRET_KEY
		export FIELDWATCH_S3_REGION=$FIELDWATCH_TEST_S3_REGION
		export FIELDWATCH_S3_BUCKET=fieldwatch FIELDWATCH_S3_TLS=false
		;;
	local)
		unset FIELDWATCH_DATABASE_URL FIELDWATCH_S3_ENDPOINT
		;;
	esac
}

# server_start MODE starts `fieldwatch serve` on 127.0.0.1:0 and waits (at
# most 60 s) for its "listening on http://..." line.
server_start() {
	local mode=$1 out=$BENCH_DIR/$1/serve.stdout log=$BENCH_DIR/$1/serve.log i line
	(
		mode_env "$mode"
		exec "$BENCH_DIR/fieldwatch" serve --addr 127.0.0.1:0
	) >"$out" 2>"$log" </dev/null &
	SERVER_PID=$!
	for ((i = 0; i < 600; i++)); do
		if line=$(grep -m1 -o 'listening on http://[^ ]*' "$out" 2>/dev/null); then
			SERVER_URL=${line#listening on }
			return 0
		fi
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			fw_err "fieldwatch exited during start-up"
			fw_dump_log "$log"
			SERVER_PID=""
			return 1
		fi
		sleep 0.1
	done
	fw_err "fieldwatch printed no 'listening on' line within 60s"
	fw_dump_log "$log"
	return 1
}

# fieldwatch_check MODE runs `fieldwatch check` on MODE's data and sets
# ROWS to the evidence rows it verified; the bench fails on any violation.
fieldwatch_check() {
	local mode=$1 t out
	t=$(fw_now_ms)
	if ! out=$(mode_env "$mode" && timeout -k 10 300 "$BENCH_DIR/fieldwatch" check 2>"$BENCH_DIR/$mode/check.log"); then
		fw_err "fieldwatch check failed after mode $mode:"
		printf '%s\n' "$out" | tail -n 40 >&2
		fw_dump_log "$BENCH_DIR/$mode/check.log"
		exit 1
	fi
	ROWS=$(printf '%s\n' "$out" | sed -n 's/^checked \([0-9]*\) evidence rows.*/\1/p')
	fw_info "fieldwatch check: ${ROWS:-?} evidence rows verified, all invariants hold ($(fw_since "$t"))"
}

# fwbench_step NAME LIMIT ARGS... runs fwbench with a time limit; on failure
# it shows the server log and fwbench's errors and fails the bench.
fwbench_step() {
	local name=$1 limit=$2 rc=0 t
	shift 2
	t=$(fw_now_ms)
	timeout -k 10 "$limit" "$BENCH_DIR/fwbench" "$@" 2>"$BENCH_DIR/$name.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		if [[ -n $SERVER_LOG ]]; then
			tail -n 20 "$SERVER_LOG" | sed 's/^/    server log: /' >&2
		fi
		[[ $rc -eq 124 || $rc -eq 137 ]] && fw_err "fwbench $name did not finish within ${limit}s: killed"
		fw_err "fwbench $name failed (exit $rc):"
		cat "$BENCH_DIR/$name.err" >&2
		exit 1
	fi
	fw_info "$name measured in $(fw_since "$t")"
}

LOAD_MODE=""
if has_run slow; then
	case " $MODES " in
	*" s3 "*) LOAD_MODE=s3 ;;
	*) LOAD_MODE=${MODES%% *} ;;
	esac
fi

RESULTS=()
REPORT_EXTRA=()
SERVER_LOG=""
for mode in $MODES; do
	has_run upload || break
	case $mode in
	s3) label="production-like: PostgreSQL $PG_VERSION/PostGIS + S3 (versitygw $FW_VERSITYGW_VERSION, posix backend, plain HTTP)" ;;
	local) label="embedded: SQLite (WAL) + local photo directory" ;;
	*) fw_err "FWBENCH_MODES: unknown mode '$mode' (want s3, local)"; exit 2 ;;
	esac
	fw_phase "mode $mode: $label"
	mkdir -p "$BENCH_DIR/$mode/data" "$BENCH_DIR/$mode/raw"

	printf '%s\n' "$FWBENCH_PASSWORD" | (
		mode_env "$mode"
		exec "$BENCH_DIR/fieldwatch" user add --username bench --role inspector --password-stdin
	) >/dev/null
	# The demo county, so uploads are linked to townships and reaches.
	for what in townships reaches; do
		(mode_env "$mode" && exec "$BENCH_DIR/fieldwatch" import "$what" "demo/$what.geojson") >/dev/null
	done
	server_start "$mode"
	SERVER_LOG=$BENCH_DIR/$mode/serve.log
	fw_info "fieldwatch pid $SERVER_PID on $SERVER_URL"

	args=(run -mode "$mode" -url "$SERVER_URL" -server-pid "$SERVER_PID" -label "$label"
		-photos testdata/photos -out "$BENCH_DIR/$mode.json" -timeout 260s)
	pids=()
	if [[ $mode == s3 ]]; then
		args+=(-s3-pid "$FW_S3_PID" -db-pid "$PG_PID")
		pids=(-s3-pid "$FW_S3_PID" -db-pid "$PG_PID" -server-db fwbench)
	else
		args+=(-raw-dir "$BENCH_DIR/$mode/raw" -data-dir "$BENCH_DIR/$mode/data")
	fi
	fw_phase "run 1 ($mode): upload throughput and memory"
	fwbench_step "$mode-upload" 290 "${args[@]}" "${EXTRA[@]}"
	server_stop
	fieldwatch_check "$mode"
	RESULTS+=(-in "$BENCH_DIR/$mode.json")

	if [[ $mode == "$LOAD_MODE" ]] || has_run reads; then
		# A fresh process on the same data for runs 2 and 3.
		server_start "$mode"
		fw_info "fieldwatch restarted: pid $SERVER_PID on $SERVER_URL"
		common=(-mode "$mode" -label "$label" -url "$SERVER_URL" -server-pid "$SERVER_PID" "${pids[@]}" -photos testdata/photos)
		if has_run slow && [[ $mode == "$LOAD_MODE" ]]; then
			fw_phase "run 2 ($mode): slow uploads"
			fwbench_step "$mode-slow" 500 slow "${common[@]}" -out "$BENCH_DIR/slow.json" \
				-server-uploads-per-user "$UPLOADS_PER_USER" -server-uploads-total 1000 "${SLOW_EXTRA[@]}"
			REPORT_EXTRA+=(-slow "$BENCH_DIR/slow.json")
		fi
		if has_run reads; then
			fw_phase "run 3 ($mode): reads"
			fwbench_step "$mode-reads" 420 reads "${common[@]}" -out "$BENCH_DIR/reads-$mode.json" "${READS_EXTRA[@]}"
			REPORT_EXTRA+=(-reads "$BENCH_DIR/reads-$mode.json")
		fi
		server_stop
		fieldwatch_check "$mode"
	fi
	SERVER_LOG=""
	# fwbench report fails unless every 201 of the runs is one of these rows.
	RESULTS+=(-rows "$mode=${ROWS:-unknown}")
done

if has_run spatial; then
	fw_phase "run 4: bbox list query on fresh PostgreSQL and SQLite databases"
	SP_URL=${FIELDWATCH_TEST_POSTGRES_URL/\/postgres\?/\/fwbench_spatial?}
	SP_DB=$BENCH_DIR/spatial/fieldwatch.db
	mkdir -p "$BENCH_DIR/spatial"
	"$FW_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 "$FIELDWATCH_TEST_POSTGRES_URL" -c "CREATE DATABASE fwbench_spatial" >/dev/null
	for url in "$SP_URL" "sqlite:$SP_DB"; do
		FIELDWATCH_DATABASE_URL=$url FIELDWATCH_DATA_DIR=$BENCH_DIR/spatial "$BENCH_DIR/fieldwatch" migrate >/dev/null
		printf '%s\n' "$FWBENCH_PASSWORD" | FIELDWATCH_DATABASE_URL=$url FIELDWATCH_DATA_DIR=$BENCH_DIR/spatial \
			"$BENCH_DIR/fieldwatch" user add --username bench --role inspector --password-stdin >/dev/null
	done
	fwbench_step spatial 960 spatial -pg-url "$SP_URL" -sqlite "$SP_DB" -db-pid "$PG_PID" \
		-out "$BENCH_DIR/spatial.json" "${SPATIAL_EXTRA[@]}"
	REPORT_EXTRA+=(-spatial "$BENCH_DIR/spatial.json")
fi

if has_run geo; then
	fw_phase "run 5: go test -run '^\$' -bench Locate -benchmem ./geo"
	# A test binary runs in its package's directory, as under go test.
	(cd geo && fwbench_step geo 240 gobench -label "go test -run '^\$' -bench Locate -benchmem ./geo" \
		-out "$BENCH_DIR/geo.json" -- "$BENCH_DIR/geo.test" -test.run '^$' -test.bench Locate -test.benchmem "${GEO_EXTRA[@]}")
	REPORT_EXTRA+=(-gobench "$BENCH_DIR/geo.json")
fi

postgis=$("$FW_PG_BIN/psql" -X -At "$PG_URL" -c "SELECT postgis_lib_version()" 2>/dev/null || echo unknown)
command="make bench"
for v in FWBENCH_RUNS FWBENCH_QUICK FWBENCH_MODES FWBENCH_FLAGS FWBENCH_SLOW_FLAGS FWBENCH_READS_FLAGS FWBENCH_SPATIAL_FLAGS FWBENCH_GEO_FLAGS; do
	if [[ -n ${!v:-} ]]; then
		command+=" $v=\"${!v}\""
	fi
done
notes=(-note "Each deployment's database has the demo county imported (\`fieldwatch import townships|reaches demo/*.geojson\`), so uploads are linked to townships and reaches as in production."
	-note "The server runs with FIELDWATCH_UPLOADS_PER_USER=$UPLOADS_PER_USER (default 8) because one bench user sends every upload (the burst of run 1 and all of run 2's at once); FIELDWATCH_UPLOADS_TOTAL (1000) and FIELDWATCH_MAX_CONNS_PER_ADDR (128) stay at their defaults: run 2's uploads come from several loopback source addresses (127.0.0.2, .3, …), at most 100 connections each, as many phones would."
	-note "Open files limit (ulimit -n) for the server and fwbench: $(ulimit -n).")
mkdir -p "$DOCS"
"$BENCH_DIR/fwbench" report "${RESULTS[@]}" "${REPORT_EXTRA[@]}" "${notes[@]}" -json "$DOCS/benchmarks.json" -md "$DOCS/benchmarks.md" \
	-command "$command" -rev "$rev" -dirty="$dirty" \
	-software "postgresql=$PG_VERSION" -software "postgis=$postgis" \
	-software "versitygw=$FW_VERSITYGW_VERSION" -software "minio-go=$(go list -m -f '{{.Version}}' github.com/minio/minio-go/v7)"
