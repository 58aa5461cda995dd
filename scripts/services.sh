# shellcheck shell=bash
#
# Real services for tests and benchmarks, on loopback:
#   - PostgreSQL 15 + PostGIS 3 (Debian packages, installed with apt if missing)
#   - versitygw v1.8.0 S3 gateway, posix backend (built with `go install`,
#     cached under ${FIELDWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fieldwatch})
#
# Usage (bash; works with or without `set -euo pipefail`):
#
#   source scripts/services.sh
#   trap services_stop EXIT      # set the trap first: stop also cleans up a half start
#   services_start               # returns non-zero (after cleaning up) on failure
#   ...                          # FIELDWATCH_TEST_* variables are exported
#   services_stop                # idempotent
#
# services_start exports:
#   FIELDWATCH_TEST_POSTGRES_URL   postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   FIELDWATCH_TEST_S3_ENDPOINT    127.0.0.1:PORT
#   FIELDWATCH_TEST_S3_ACCESS_KEY  random per run
#   FIELDWATCH_TEST_S3_SECRET_KEY  random per run
#   FIELDWATCH_TEST_S3_REGION      us-east-1
#   FIELDWATCH_SERVICES_DIR        the one temporary directory holding all data and logs
#
# fw_ensure_browser (called by scripts/test.sh) installs Debian's chromium
# for the console's browser tests when it is missing.
#
# Knobs (environment):
#   FIELDWATCH_CACHE        cache root for the versitygw build
#   FIELDWATCH_S3_META      auto (default) | xattr | sidecar: where versitygw keeps
#                           object metadata; auto uses xattrs and falls back to a
#                           sidecar directory when the filesystem has no user xattrs
#   FIELDWATCH_KEEP_SERVICES_DIR=1  keep the temporary directory on stop (debugging)

FW_PG_VERSION=15
FW_PG_BIN=/usr/lib/postgresql/${FW_PG_VERSION}/bin
FW_POSTGIS_CONTROL=/usr/share/postgresql/${FW_PG_VERSION}/extension/postgis.control
FW_VERSITYGW_VERSION=v1.8.0
FW_VERSITYGW_MODULE=github.com/versity/versitygw/cmd/versitygw
FW_S3_REGION=us-east-1

FW_SVC_DIR=""
FW_S3_PID=""
FW_S3_BIN=""
FW_S3_META_MODE=""
FW_PG_STARTED=""
FW_PG_RUNAS=""
FW_APT_UPDATED=""
FW_USED_PORTS=" "
FW_PORT=""

# ---------------------------------------------------------------- helpers

fw_phase() { printf '==> %s\n' "$*"; }
fw_info() { printf '    %s\n' "$*"; }
fw_err() { printf 'ERROR: %s\n' "$*" >&2; }

# fw_now_ms prints wall-clock milliseconds.
fw_now_ms() {
	if [[ -n ${EPOCHREALTIME:-} ]]; then
		local t=${EPOCHREALTIME//[!0-9]/}
		printf '%s\n' $((10#$t / 1000))
	else
		date +%s%3N
	fi
}

# fw_since START_MS prints the time elapsed since START_MS as e.g. "12.3s".
fw_since() {
	local d=$(($(fw_now_ms) - $1))
	printf '%d.%ds' $((d / 1000)) $(((d % 1000) / 100))
}

# fw_dump_log FILE prints the last lines of a service log to stderr.
fw_dump_log() {
	local f=$1
	if [[ -s $f ]]; then
		printf -- '---- %s (last 60 lines) ----\n' "$f" >&2
		tail -n 60 "$f" >&2 || true
		printf -- '---- end of %s ----\n' "$f" >&2
	else
		printf -- '---- %s is empty or missing ----\n' "$f" >&2
	fi
}

# fw_as_root CMD... runs CMD as root (directly, or with sudo when available).
fw_as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		fw_err "need root to run: $* (not root and no sudo)"
		return 1
	fi
}

# fw_apt_install PKG... installs Debian packages (apt-get update once per shell).
# apt's chatter goes to a log that is shown only on failure.
fw_apt_install() {
	[[ $# -gt 0 ]] || return 0
	if ! command -v apt-get >/dev/null 2>&1; then
		fw_err "missing packages ($*) and no apt-get: install them by hand"
		return 1
	fi
	local t0 log try ok
	t0=$(fw_now_ms)
	fw_phase "apt-get install $*"
	log=$(mktemp "${TMPDIR:-/tmp}/fieldwatch-apt.XXXXXX") || return 1
	local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
	for try in 1 2; do
		ok=1
		if [[ -z $FW_APT_UPDATED ]]; then
			if fw_as_root "${apt[@]}" update >>"$log" 2>&1 </dev/null; then
				FW_APT_UPDATED=1
			else
				ok=""
			fi
		fi
		if [[ -n $ok ]] && fw_as_root "${apt[@]}" install -y --no-install-recommends "$@" >>"$log" 2>&1 </dev/null; then
			break
		fi
		ok=""
		if ((try < 2)); then
			fw_info "apt-get failed, retrying in 5s"
			FW_APT_UPDATED=""
			sleep 5
		fi
	done
	if [[ -z $ok ]]; then
		fw_err "apt-get install $* failed"
		fw_dump_log "$log"
		rm -f "$log"
		return 1
	fi
	rm -f "$log"
	fw_info "apt install took $(fw_since "$t0")"
}

# fw_port_free PORT succeeds when nothing accepts connections on 127.0.0.1:PORT.
fw_port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# fw_pick_port sets FW_PORT to a free loopback port below the kernel's ephemeral
# range (so outgoing connections cannot hold it), not handed out before in this
# shell. (A variable, not output: a $(...) subshell would lose FW_USED_PORTS.)
fw_pick_port() {
	local lo=15000 hi=32000 eph p i
	if read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null &&
		((eph > lo + 2000 && eph <= 65535)); then
		hi=$((eph - 1))
	fi
	for ((i = 0; i < 200; i++)); do
		p=$((lo + ((RANDOM << 15) | RANDOM) % (hi - lo)))
		[[ $FW_USED_PORTS == *" $p "* ]] && continue
		if fw_port_free "$p"; then
			FW_USED_PORTS+="$p "
			FW_PORT=$p
			return 0
		fi
	done
	fw_err "no free loopback port found in $lo-$hi"
	return 1
}

fw_random_hex() { # BYTES
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

# ---------------------------------------------------------------- packages

# fw_ensure_packages installs what the services need but the machine lacks.
fw_ensure_packages() {
	local pkgs=()
	if [[ ! -x $FW_PG_BIN/postgres || ! -f $FW_POSTGIS_CONTROL ]]; then
		pkgs+=("postgresql-$FW_PG_VERSION" "postgresql-$FW_PG_VERSION-postgis-3")
	fi
	command -v curl >/dev/null 2>&1 || pkgs+=(curl ca-certificates)
	if [[ ${#pkgs[@]} -gt 0 ]]; then
		fw_apt_install "${pkgs[@]}" || return 1
	fi
	if [[ ! -x $FW_PG_BIN/postgres || ! -x $FW_PG_BIN/psql || ! -f $FW_POSTGIS_CONTROL ]]; then
		fw_err "PostgreSQL $FW_PG_VERSION with PostGIS not found ($FW_PG_BIN/postgres, $FW_POSTGIS_CONTROL)"
		return 1
	fi
}

# fw_ensure_browser installs what the console's browser tests drive when it
# is missing: Debian's chromium, and a Chinese font so that screenshots of
# the (Chinese) console show text rather than empty boxes. Separate from
# fw_ensure_packages: only the test command needs it, not the benchmarks.
FW_CHROMIUM=/usr/bin/chromium
FW_CJK_FONT=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
fw_ensure_browser() {
	local pkgs=()
	[[ -x $FW_CHROMIUM ]] || pkgs+=(chromium)
	if [[ ! -e $FW_CJK_FONT ]] && ! fc-list ':lang=zh' 2>/dev/null | grep -q .; then
		pkgs+=(fonts-wqy-microhei)
	fi
	if [[ ${#pkgs[@]} -gt 0 ]]; then
		fw_apt_install "${pkgs[@]}" || return 1
	fi
	if [[ ! -x $FW_CHROMIUM ]]; then
		fw_err "chromium not found at $FW_CHROMIUM"
		return 1
	fi
	fw_info "$("$FW_CHROMIUM" --version 2>/dev/null || echo chromium) at $FW_CHROMIUM"
}

# ---------------------------------------------------------------- PostgreSQL

# fw_pg CMD... runs a PostgreSQL tool as the user owning the cluster.
fw_pg() {
	if [[ -n $FW_PG_RUNAS ]]; then
		(cd "$FW_SVC_DIR" && runuser -u "$FW_PG_RUNAS" -- "$@")
	else
		"$@"
	fi
}

fw_psql() { # PORT DB SQL
	PGCONNECT_TIMEOUT=10 "$FW_PG_BIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$1" -U postgres -d "$2" -c "$3"
}

fw_postgres_start() {
	local t0 dir data log port attempt
	t0=$(fw_now_ms)
	fw_phase "PostgreSQL $FW_PG_VERSION + PostGIS"
	dir=$FW_SVC_DIR/pg
	data=$dir/data
	log=$dir/postgres.log
	mkdir -p "$dir/run" || return 1

	FW_PG_RUNAS=""
	if [[ $(id -u) -eq 0 ]]; then
		# initdb refuses to run as root: use the postgres user from the Debian package.
		if ! id postgres >/dev/null 2>&1; then
			fw_err "running as root but there is no 'postgres' user to own the cluster"
			return 1
		fi
		FW_PG_RUNAS=postgres
		chown -R postgres: "$dir" || return 1
		if ! runuser -u postgres -- test -w "$dir"; then
			fw_err "user postgres cannot reach $dir (a parent directory is not searchable by others); set TMPDIR, e.g. TMPDIR=/tmp"
			return 1
		fi
	fi

	if ! fw_pg "$FW_PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 \
		--locale=C --no-sync >"$dir/initdb.log" 2>&1; then
		fw_err "initdb failed"
		fw_dump_log "$dir/initdb.log"
		return 1
	fi

	for attempt in 1 2 3; do
		fw_pick_port || return 1
		port=$FW_PORT
		if fw_pg "$FW_PG_BIN/pg_ctl" -D "$data" -l "$log" -w -t 60 -s \
			-o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories='$dir/run' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
			start >>"$dir/pg_ctl.log" 2>&1; then
			FW_PG_STARTED=1
			break
		fi
		FW_PG_STARTED=1 # a timed-out start may still leave a server behind: stop will look
		if grep -qiE 'could not bind|address already in use' "$log" 2>/dev/null && ((attempt < 3)); then
			fw_info "port $port taken, retrying"
			fw_pg "$FW_PG_BIN/pg_ctl" -D "$data" -m immediate -s stop >/dev/null 2>&1 || true
			continue
		fi
		fw_err "PostgreSQL did not start on 127.0.0.1:$port"
		fw_dump_log "$dir/pg_ctl.log"
		fw_dump_log "$log"
		return 1
	done

	# Fail fast on a broken PostGIS install.
	local check=fw_postgis_check out
	if ! out=$(fw_psql "$port" postgres "CREATE DATABASE $check" 2>&1) ||
		! out=$(fw_psql "$port" "$check" "CREATE EXTENSION postgis; SELECT postgis_full_version()" 2>&1); then
		fw_err "PostGIS does not work in the test server: $out"
		fw_dump_log "$log"
		return 1
	fi
	fw_psql "$port" postgres "DROP DATABASE $check" >/dev/null 2>&1 || true

	local ver gis
	ver=$(fw_psql "$port" postgres "SHOW server_version" 2>/dev/null) || ver="?"
	gis=${out#POSTGIS=\"}
	gis=${gis%%\"*}
	export FIELDWATCH_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	# Fault tests start and restart a PostgreSQL of their own.
	export FIELDWATCH_TEST_PG_BIN="$FW_PG_BIN"
	fw_info "PostgreSQL $ver, PostGIS $gis on 127.0.0.1:$port (started in $(fw_since "$t0"))"
}

fw_postgres_stop() {
	[[ -n $FW_PG_STARTED && -n $FW_SVC_DIR ]] || return 0
	local data=$FW_SVC_DIR/pg/data
	if [[ -f $data/postmaster.pid ]]; then
		if ! fw_pg "$FW_PG_BIN/pg_ctl" -D "$data" -m fast -w -t 30 -s stop >/dev/null 2>&1; then
			fw_pg "$FW_PG_BIN/pg_ctl" -D "$data" -m immediate -w -t 10 -s stop >/dev/null 2>&1 || {
				local pid
				pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null) || pid=""
				[[ $pid =~ ^[0-9]+$ ]] && kill -KILL "$pid" 2>/dev/null
			}
		fi
	fi
	FW_PG_STARTED=""
}

# ---------------------------------------------------------------- versitygw

fw_versitygw_build() {
	local cache=${FIELDWATCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fieldwatch}/versitygw-$FW_VERSITYGW_VERSION
	FW_S3_BIN=$cache/versitygw
	if [[ -x $FW_S3_BIN ]] && "$FW_S3_BIN" --version >/dev/null 2>&1; then
		return 0
	fi
	local t0
	t0=$(fw_now_ms)
	fw_phase "go install $FW_VERSITYGW_MODULE@$FW_VERSITYGW_VERSION (into $cache)"
	mkdir -p "$cache" || return 1
	# Build outside any module so the project's go.mod plays no part.
	if ! (cd "$cache" && GOBIN="$cache" GOFLAGS="${GOFLAGS:-} -modcacherw" \
		go install "$FW_VERSITYGW_MODULE@$FW_VERSITYGW_VERSION"); then
		fw_err "building versitygw failed"
		return 1
	fi
	fw_info "versitygw build took $(fw_since "$t0")"
}

# fw_s3_launch PORT META_MODE starts versitygw in the background (FW_S3_PID).
fw_s3_launch() {
	local port=$1 mode=$2 dir=$FW_SVC_DIR/s3 meta=()
	if [[ $mode == sidecar ]]; then
		mkdir -p "$dir/meta" || return 1
		meta=(--sidecar "$dir/meta")
	fi
	# Keys go through the environment, not argv (ps shows argv).
	ROOT_ACCESS_KEY=$FIELDWATCH_TEST_S3_ACCESS_KEY ROOT_SECRET_KEY=$FIELDWATCH_TEST_S3_SECRET_KEY \
		"$FW_S3_BIN" --port "127.0.0.1:$port" --region "$FW_S3_REGION" --quiet \
		posix "${meta[@]}" "$dir/root" >>"$dir/versitygw.log" 2>&1 </dev/null &
	FW_S3_PID=$!
	FW_S3_META_MODE=$mode
}

# fw_s3_wait PORT: 0 = answering HTTP, 1 = died, 2 = timed out.
fw_s3_wait() {
	local port=$1 i code
	for ((i = 0; i < 300; i++)); do # 30 s
		if ! kill -0 "$FW_S3_PID" 2>/dev/null; then
			wait "$FW_S3_PID" 2>/dev/null || true
			FW_S3_PID=""
			return 1
		fi
		code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/" 2>/dev/null) || true
		[[ -n $code && $code != 000 ]] && return 0
		sleep 0.1
	done
	return 2
}

fw_s3_kill() {
	[[ -n $FW_S3_PID ]] || return 0
	local i
	kill -TERM "$FW_S3_PID" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$FW_S3_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$FW_S3_PID" 2>/dev/null || true
	wait "$FW_S3_PID" 2>/dev/null || true
	FW_S3_PID=""
}

fw_s3_curl() { # curl with SigV4 for the test server; args are passed on
	curl -sS -m 20 --aws-sigv4 "aws:amz:$FW_S3_REGION:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
		--user "$FIELDWATCH_TEST_S3_ACCESS_KEY:$FIELDWATCH_TEST_S3_SECRET_KEY" "$@"
}

# fw_s3_smoke PORT: create a bucket, put, get and delete an object.
fw_s3_smoke() {
	local base="http://127.0.0.1:$1" bucket tmp code
	bucket="fwcheck-$(fw_random_hex 4)"
	tmp=$FW_SVC_DIR/s3/smoke
	printf 'fieldwatch smoke %s\n' "$bucket" >"$tmp.in"
	code=$(fw_s3_curl -o "$tmp.out" -w '%{http_code}' -X PUT "$base/$bucket") || code="curl failed"
	[[ $code == 200 ]] || { fw_err "S3 CreateBucket: HTTP $code $(cat "$tmp.out" 2>/dev/null)"; return 1; }
	code=$(fw_s3_curl -o "$tmp.out" -w '%{http_code}' -H 'x-amz-meta-check: yes' \
		-T "$tmp.in" "$base/$bucket/dir/object.txt") || code="curl failed"
	[[ $code == 200 ]] || { fw_err "S3 PutObject: HTTP $code $(cat "$tmp.out" 2>/dev/null)"; return 1; }
	code=$(fw_s3_curl -o "$tmp.out" -w '%{http_code}' "$base/$bucket/dir/object.txt") || code="curl failed"
	if [[ $code != 200 ]] || ! cmp -s "$tmp.in" "$tmp.out"; then
		fw_err "S3 GetObject: HTTP $code, or the body differs from what was put"
		return 1
	fi
	fw_s3_curl -o /dev/null -X DELETE "$base/$bucket/dir/object.txt" || return 1
	code=$(fw_s3_curl -o "$tmp.out" -w '%{http_code}' -X DELETE "$base/$bucket") || code="curl failed"
	[[ $code == 204 || $code == 200 ]] || { fw_err "S3 DeleteBucket: HTTP $code $(cat "$tmp.out" 2>/dev/null)"; return 1; }
	rm -f "$tmp.in" "$tmp.out"
}

fw_s3_start() {
	fw_versitygw_build || return 1
	local t0 dir log port attempt rc mode
	t0=$(fw_now_ms)
	fw_phase "S3: versitygw $FW_VERSITYGW_VERSION (posix backend)"
	dir=$FW_SVC_DIR/s3
	log=$dir/versitygw.log
	mkdir -p "$dir/root" || return 1
	FIELDWATCH_TEST_S3_ACCESS_KEY="fwtest$(fw_random_hex 6)" || return 1
	FIELDWATCH_TEST_S3_SECRET_KEY=$(fw_random_hex 20) || return 1
	export FIELDWATCH_TEST_S3_ACCESS_KEY FIELDWATCH_TEST_S3_SECRET_KEY
	export FIELDWATCH_TEST_S3_REGION=$FW_S3_REGION

	mode=${FIELDWATCH_S3_META:-auto}
	case $mode in
	auto | xattr) mode=xattr ;;
	sidecar) ;;
	*) fw_err "FIELDWATCH_S3_META must be auto, xattr or sidecar (got '$mode')"; return 1 ;;
	esac

	for attempt in 1 2 3 4; do
		fw_pick_port || return 1
		port=$FW_PORT
		: >"$log"
		fw_s3_launch "$port" "$mode" || return 1
		rc=0
		fw_s3_wait "$port" || rc=$?
		[[ $rc -eq 0 ]] && break
		fw_s3_kill
		if [[ $rc -eq 1 ]] && ((attempt < 4)); then
			if grep -qi 'address already in use' "$log"; then
				fw_info "port $port taken, retrying"
				continue
			fi
			if grep -qi 'xattr' "$log" && [[ $mode == xattr && ${FIELDWATCH_S3_META:-auto} == auto ]]; then
				fw_info "no user xattrs on $dir: using a sidecar metadata directory"
				mode=sidecar
				continue
			fi
		fi
		if [[ $rc -eq 2 ]]; then
			fw_err "versitygw did not answer HTTP on 127.0.0.1:$port within 30s"
		else
			fw_err "versitygw exited during startup"
		fi
		fw_dump_log "$log"
		return 1
	done

	if ! fw_s3_smoke "$port"; then
		fw_err "S3 smoke test (bucket create, object put/get/delete) failed"
		fw_dump_log "$log"
		return 1
	fi

	local modver
	modver=$(go version -m "$FW_S3_BIN" 2>/dev/null | awk '$1 == "mod" { print $3; exit }') || true
	export FIELDWATCH_TEST_S3_ENDPOINT="127.0.0.1:$port"
	# Fault tests start, stop and restart servers of their own from it.
	export FIELDWATCH_TEST_VERSITYGW="$FW_S3_BIN"
	fw_info "versitygw ${modver:-$FW_VERSITYGW_VERSION} (metadata: $FW_S3_META_MODE) on 127.0.0.1:$port, pid $FW_S3_PID (started in $(fw_since "$t0"))"
}

# ---------------------------------------------------------------- public

services_start() {
	if [[ -n $FW_SVC_DIR ]]; then
		fw_err "services_start: services already running in $FW_SVC_DIR"
		return 1
	fi
	local t0
	t0=$(fw_now_ms)
	fw_ensure_packages || return 1
	FW_SVC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/fieldwatch-services.XXXXXX") || return 1
	# The postgres user must be able to traverse into its data directory.
	chmod 0755 "$FW_SVC_DIR" || { services_stop; return 1; }
	export FIELDWATCH_SERVICES_DIR=$FW_SVC_DIR
	if ! fw_postgres_start || ! fw_s3_start; then
		services_stop
		return 1
	fi
	fw_info "services ready in $(fw_since "$t0"); data and logs in $FW_SVC_DIR"
}

services_stop() {
	# Keep going whatever fails: this runs from traps.
	[[ -n $FW_SVC_DIR || -n $FW_S3_PID || -n $FW_PG_STARTED ]] || return 0
	fw_phase "stopping services"
	fw_s3_kill || true
	fw_postgres_stop || true
	if [[ -n $FW_SVC_DIR ]]; then
		if [[ ${FIELDWATCH_KEEP_SERVICES_DIR:-} == 1 ]]; then
			fw_info "kept $FW_SVC_DIR"
		else
			rm -rf -- "$FW_SVC_DIR" || true
		fi
	fi
	FW_SVC_DIR=""
	unset FIELDWATCH_TEST_POSTGRES_URL FIELDWATCH_TEST_S3_ENDPOINT \
		FIELDWATCH_TEST_S3_ACCESS_KEY FIELDWATCH_TEST_S3_SECRET_KEY \
		FIELDWATCH_TEST_S3_REGION FIELDWATCH_SERVICES_DIR FIELDWATCH_TEST_VERSITYGW
	return 0
}
