#!/usr/bin/env bash
#
# The project's benchmark (`make bench`): starts PostgreSQL/PostGIS and the
# S3 server on loopback (scripts/services.sh), builds the real fieldwatch
# binary and cmd/fwbench, and measures the upload path twice:
#
#   s3     production-like: PostgreSQL/PostGIS + S3 (versitygw, plain HTTP)
#          baseline: raw minio-go PutObject of the same bytes to the same S3
#   local  embedded: SQLite + local photo directory
#          baseline: raw write+fsync+rename of the same bytes on the same
#          file system
#
# Each mode gets a fresh server on 127.0.0.1 port 0 and a fresh database,
# one inspector created with `fieldwatch user add`, a bench run bounded in
# time, a clean stop, and `fieldwatch check` (every stored photo re-hashed
# against its row; the bench fails otherwise). Then docs/benchmarks.json and
# the generated part of docs/benchmarks.md are rewritten.
#
# Knobs (environment):
#   FWBENCH_MODES   modes to run, default "s3 local"
#   FWBENCH_FLAGS   extra flags for `fwbench run`, e.g. '-count 32' for a quick look
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
DOCS=${FWBENCH_DOCS:-docs}
read -r -a EXTRA <<<"${FWBENCH_FLAGS:-}"

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

t=$(fw_now_ms)
fw_phase "go build ./cmd/fieldwatch ./cmd/fwbench"
go build -o "$BENCH_DIR/fieldwatch" ./cmd/fieldwatch
go build -o "$BENCH_DIR/fwbench" ./cmd/fwbench
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
	export FIELDWATCH_UPLOADS_PER_USER=256 # one bench user sends all the uploads
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

RESULTS=()
for mode in $MODES; do
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
	server_start "$mode"
	fw_info "fieldwatch pid $SERVER_PID on $SERVER_URL"

	args=(run -mode "$mode" -url "$SERVER_URL" -server-pid "$SERVER_PID" -label "$label"
		-photos testdata/photos -out "$BENCH_DIR/$mode.json" -timeout 200s)
	if [[ $mode == s3 ]]; then
		args+=(-s3-pid "$FW_S3_PID" -db-pid "$PG_PID")
	else
		args+=(-raw-dir "$BENCH_DIR/$mode/raw" -data-dir "$BENCH_DIR/$mode/data")
	fi
	t=$(fw_now_ms)
	rc=0
	timeout -k 10 230 "$BENCH_DIR/fwbench" "${args[@]}" "${EXTRA[@]}" 2>"$BENCH_DIR/$mode/fwbench.err" || rc=$?
	if [[ $rc -ne 0 ]]; then
		tail -n 20 "$BENCH_DIR/$mode/serve.log" | sed 's/^/    server log: /' >&2
		[[ $rc -eq 124 || $rc -eq 137 ]] && fw_err "fwbench did not finish within 230s: killed"
		fw_err "fwbench failed in mode $mode (exit $rc):"
		cat "$BENCH_DIR/$mode/fwbench.err" >&2
		exit 1
	fi
	fw_info "measured in $(fw_since "$t")"
	server_stop

	# Everything the bench stored must verify: rows, objects, hashes.
	t=$(fw_now_ms)
	if ! out=$(mode_env "$mode" && timeout -k 10 180 "$BENCH_DIR/fieldwatch" check 2>"$BENCH_DIR/$mode/check.log"); then
		fw_err "fieldwatch check failed after mode $mode:"
		printf '%s\n' "$out" | tail -n 40 >&2
		fw_dump_log "$BENCH_DIR/$mode/check.log"
		exit 1
	fi
	rows=$(printf '%s\n' "$out" | sed -n 's/^checked \([0-9]*\) evidence rows.*/\1/p')
	fw_info "fieldwatch check: ${rows:-?} evidence rows verified, all invariants hold ($(fw_since "$t"))"
	# fwbench report fails unless every 201 of the run is one of these rows.
	RESULTS+=(-in "$BENCH_DIR/$mode.json" -rows "$mode=${rows:-unknown}")
done

rev=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# Dirty: the measured binary may differ from the revision (the bench's own
# files do not count).
dirty=false
if [[ -n $(git status --porcelain -- . ':!Makefile' ':!scripts/bench.sh' ':!docs/benchmarks.*' ':!cmd/fwbench' 2>/dev/null) ]]; then
	dirty=true
fi
postgis=$("$FW_PG_BIN/psql" -X -At "$PG_URL" -c "SELECT postgis_lib_version()" 2>/dev/null || echo unknown)
command="make bench"
if [[ -n ${FWBENCH_FLAGS:-} ]]; then
	command+=" (FWBENCH_FLAGS=\"$FWBENCH_FLAGS\")"
fi
mkdir -p "$DOCS"
"$BENCH_DIR/fwbench" report "${RESULTS[@]}" -json "$DOCS/benchmarks.json" -md "$DOCS/benchmarks.md" \
	-command "$command" -rev "$rev" -dirty="$dirty" \
	-software "postgresql=$PG_VERSION" -software "postgis=$postgis" \
	-software "versitygw=$FW_VERSITYGW_VERSION" -software "minio-go=$(go list -m -f '{{.Version}}' github.com/minio/minio-go/v7)"
