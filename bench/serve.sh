#!/usr/bin/env bash
# `keyward serve` benchmarks; writes the "serve" section of bench/RESULTS.md.
#
#   bench/serve.sh                    # DURATION=10 ROUNDS=3 SOAK=60 TRIALS=50
#
# In one run, on this machine, with one load generator (wrk: keep-alive,
# 64 connections, 2 threads) and a valid key:
#  - nginx answering `return 200;` (the floor: the cost of HTTP itself),
#    keyward serve on SQLite, and on PostgreSQL (a throwaway server), each
#    ROUNDS times, alternating; medians of requests/s and of p99 latency;
#  - peak RSS of each serve after its load;
#  - revocation-to-refusal delay on both engines (bench/revocation_delay.py);
#  - RSS of serve on SQLite over a SOAK-second run presenting a million
#    distinct well-formed secrets that belong to no key (no cache may grow).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/nginx.sh

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SOAK=${SOAK:-60}
TRIALS=${TRIALS:-50}
OUT=bench/RESULTS.md

need() {
    command -v "$1" >/dev/null || [ -x "/usr/sbin/$1" ] && return
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    else
        echo "bench/serve.sh needs $1 (apt-get install $2)" >&2
        exit 1
    fi
}
need wrk wrk
need nginx nginx
need jq jq
need python3 python3
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { need initdb postgresql; PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

cargo build -q --release
cargo build -q --release --example secrets
KW=$PWD/target/release/keyward
TMP=$(mktemp -d)
pids=()
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    as_owner "$PGBIN/pg_ctl" -D "$TMP/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }

# The vaults: one key on SQLite, copied to a throwaway PostgreSQL server.
SQLITE=$TMP/vault.db
SECRET=$("$KW" --vault "$SQLITE" create --name bench 2>/dev/null)
mkdir -p "$TMP/pg"
chmod 755 "$TMP"
[ "$(id -u)" = 0 ] && chown postgres "$TMP/pg"
PGPORT=$(free_port)
as_owner "$PGBIN/initdb" -D "$TMP/pg/data" -A trust -U postgres --no-sync >/dev/null
as_owner "$PGBIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/log" -w \
    -o "-p $PGPORT -k $TMP/pg -c listen_addresses=127.0.0.1" start >/dev/null
PG="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
"$KW" --vault "$SQLITE" copy --to "$PG" >/dev/null

# nginx answering `return 200;`, as many workers as cores, no access log.
NGINX_PORT=$(free_port)
write_nginx_conf "$TMP/nginx" "$NGINX_PORT" auto
"$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
pids+=($!)

# serve on each engine; its log (one line per request) goes to a file.
SQLITE_PORT=$(free_port)
"$KW" --vault "$SQLITE" serve --listen "127.0.0.1:$SQLITE_PORT" 2>"$TMP/serve-sqlite.log" &
SQLITE_PID=$!
pids+=($SQLITE_PID)
PG_PORT=$(free_port)
"$KW" --vault "$PG" serve --listen "127.0.0.1:$PG_PORT" 2>"$TMP/serve-pg.log" &
PG_PID=$!
pids+=($PG_PID)
wait_port "$NGINX_PORT"; wait_port "$SQLITE_PORT"; wait_port "$PG_PORT"

# wrk's requests/s and p99 latency (in ms) of one run.
load() {
    wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $SECRET" "$1" >"$TMP/wrk.txt"
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$TMP/wrk.txt")
    local non2xx
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$TMP/wrk.txt")
    [ -z "$non2xx" ] || { echo "non-2xx answers from $1: $non2xx" >&2; exit 1; }
    echo "$rps $p99"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$TMP/nginx.runs"; : >"$TMP/sqlite.runs"; : >"$TMP/pg.runs"
for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    load "http://127.0.0.1:$NGINX_PORT/" >>"$TMP/nginx.runs"
    load "http://127.0.0.1:$SQLITE_PORT/v1/authz" >>"$TMP/sqlite.runs"
    load "http://127.0.0.1:$PG_PORT/v1/authz" >>"$TMP/pg.runs"
done
rps() { awk '{print $1}' "$TMP/$1.runs" | median; }
p99() { awk '{print $2}' "$TMP/$1.runs" | median; }
hwm() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }
NGINX_RPS=$(rps nginx); SQLITE_RPS=$(rps sqlite); PG_RPS=$(rps pg)
NGINX_P99=$(p99 nginx); SQLITE_P99=$(p99 sqlite); PG_P99=$(p99 pg)
SQLITE_HWM=$(hwm $SQLITE_PID); PG_HWM=$(hwm $PG_PID)

echo "revocation delay" >&2
REV_SQLITE=$(python3 bench/revocation_delay.py "$KW" "$SQLITE" "$SQLITE_PORT" "$TRIALS")
REV_PG=$(python3 bench/revocation_delay.py "$KW" "$PG" "$PG_PORT" "$TRIALS")

echo "soak: ${SOAK}s of distinct unknown secrets" >&2
target/release/examples/secrets 1000000 >"$TMP/keys.txt"
cat >"$TMP/distinct.lua" <<'LUA'
local counter = 0
function setup(thread)
    thread:set("tid", counter)
    counter = counter + 1
end
function init(args)
    keys = {}
    for line in io.lines(os.getenv("KEYS_FILE")) do keys[#keys + 1] = line end
    i = tid * math.floor(#keys / 2)
end
function request()
    i = i + 1
    return wrk.format("GET", "/v1/authz", { ["Authorization"] = "Bearer " .. keys[(i % #keys) + 1] })
end
LUA
SOAK_START=$(rss $SQLITE_PID)
KEYS_FILE=$TMP/keys.txt wrk -t2 -c64 -d"${SOAK}s" -s "$TMP/distinct.lua" "http://127.0.0.1:$SQLITE_PORT/v1/authz" >"$TMP/soak.txt" &
WRK=$!
samples=()
for _ in $(seq $((SOAK / 5))); do sleep 5; samples+=("$(rss $SQLITE_PID)"); done
wait $WRK
SOAK_END=$(rss $SQLITE_PID)
SOAK_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$TMP/soak.txt")
SOAK_REQS=$(awk '/requests in/ {print $1}' "$TMP/soak.txt")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
section=$(cat <<MD
<!-- serve:begin -->
## serve (bench/serve.sh)

Made on $(date -u +%Y-%m-%d) at $(git rev-parse --short HEAD): wrk, keep-alive, 64 connections, 2 threads,
a valid key on \`/v1/authz\`, ${DURATION} s per run, medians of ${ROUNDS} alternating rounds; load
generator and servers share the machine's 2 cores. serve's request log went to a file.

| server | requests/s | p99 latency (ms) | vs nginx | peak RSS (MiB) |
| --- | --- | --- | --- | --- |
| nginx \`return 200;\` (the floor) | $NGINX_RPS | $NGINX_P99 | 1.00 | |
| keyward serve, SQLite | $SQLITE_RPS | $SQLITE_P99 | $(ratio "$SQLITE_RPS" "$NGINX_RPS") | $SQLITE_HWM |
| keyward serve, PostgreSQL | $PG_RPS | $PG_P99 | $(ratio "$PG_RPS" "$NGINX_RPS") | $PG_HWM |

PostgreSQL / SQLite: $(ratio "$PG_RPS" "$SQLITE_RPS").

Revocation to refusal, ${TRIALS} trials each, from the moment \`keyward revoke\` exited:
- SQLite: \`$REV_SQLITE\`
- PostgreSQL: \`$REV_PG\`

Distinct unknown secrets: ${SOAK} s of wrk cycling through 1,000,000 well-formed secrets (valid
checksums, so each is hashed and looked up) that belong to no key: $SOAK_REQS requests
($SOAK_RPS/s). RSS of serve (SQLite) before: $SOAK_START MiB; every 5 s: ${samples[*]} MiB; after:
$SOAK_END MiB.
<!-- serve:end -->
MD
)
if grep -q '<!-- serve:begin -->' "$OUT"; then
    python3 - "$OUT" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
text = re.sub(r"<!-- serve:begin -->.*<!-- serve:end -->", lambda m: section, text, flags=re.S)
open(path, "w").write(text)
PY
else
    printf '\n%s\n' "$section" >>"$OUT"
fi
echo "$section"
