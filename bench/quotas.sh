#!/usr/bin/env bash
# What a quota costs serve: /v1/authz req/s for a key with a rate limit and
# credits against a key without, in one run, alternating (wrk -t1 -c64,
# ROUNDS rounds of DURATION s); on SQLite (one serve) and on PostgreSQL (two
# replicas on one throwaway server, one wrk each, summed). The limit and the
# credits are large enough never to refuse: the cost measured is the
# bookkeeping. Writes bench/RESULTS-quotas.md (OUT= to write elsewhere).
#
#   bench/quotas.sh                 # ROUNDS=3 DURATION=5
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
OUT=${OUT:-bench/RESULTS-quotas.md}
for tool in wrk python3; do
    command -v "$tool" >/dev/null || { echo "bench/quotas.sh needs $tool" >&2; exit 1; }
done
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "bench/quotas.sh needs PostgreSQL (apt-get install postgresql)" >&2; exit 1; }

if [ -z "${KW:-}" ]; then
    cargo build -q --release
    KW=$PWD/target/release/keyward
fi
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

SQLITE=$TMP/vault.db
PLAIN=$("$KW" --vault "$SQLITE" create --name plain 2>/dev/null)
METERED=$("$KW" --vault "$SQLITE" create --name metered --ratelimit api=1000000000/1m --credits 1000000000000 2>/dev/null)
mkdir -p "$TMP/pg"
chmod 755 "$TMP"
[ "$(id -u)" = 0 ] && chown postgres "$TMP/pg"
PGPORT=$(free_port)
as_owner "$PGBIN/initdb" -D "$TMP/pg/data" -A trust -U postgres --no-sync >/dev/null
as_owner "$PGBIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/log" -w \
    -o "-p $PGPORT -k $TMP/pg -c listen_addresses=127.0.0.1" start >/dev/null
PG="postgres://postgres@127.0.0.1:$PGPORT/postgres?sslmode=disable"
"$KW" --vault "$SQLITE" copy --to "$PG" >/dev/null

start() { # vault port
    "$KW" --vault "$1" serve --listen "127.0.0.1:$2" 2>>"$TMP/serve.log" </dev/null >/dev/null &
    pids+=($!)
    wait_port "$2"
}
S=$(free_port); start "$SQLITE" "$S"
P1=$(free_port); start "$PG" "$P1"
P2=$(free_port); start "$PG" "$P2"

load() { # secret port… → summed req/s (one wrk per port, at once)
    local secret=$1 i=0 loaders=()
    shift
    for port in "$@"; do
        wrk -t1 -c64 -d"${DURATION}s" -H "Authorization: Bearer $secret" "http://127.0.0.1:$port/v1/authz" >"$TMP/wrk.$i" &
        loaders+=($!)
        i=$((i + 1))
    done
    wait "${loaders[@]}"
    for f in "$TMP"/wrk.*; do
        if grep -q Non-2xx "$f"; then echo "non-2xx answers:" >&2; cat "$f" >&2; exit 1; fi
    done
    awk '/^Requests\/sec:/ {s += $2} END {printf "%.0f", s}' "$TMP"/wrk.*
    rm -f "$TMP"/wrk.*
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

: >"$TMP/rounds"
for round in $(seq "$ROUNDS"); do
    sp=$(load "$PLAIN" "$S"); sm=$(load "$METERED" "$S")
    pp=$(load "$PLAIN" "$P1" "$P2"); pm=$(load "$METERED" "$P1" "$P2")
    echo "$sp $sm $pp $pm" >>"$TMP/rounds"
    echo "round $round: SQLite $sp vs $sm; PostgreSQL (2 replicas) $pp vs $pm" >&2
done
col() { awk -v c="$1" '{print $c}' "$TMP/rounds" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
LEFT=$("$KW" --vault "$PG" --json show metered | python3 -c 'import json,sys; print(json.load(sys.stdin)["credits"])')
{
    echo "# What a quota costs serve"
    echo
    echo "Made by \`bench/quotas.sh\` on $(date -u +%F) at $(git rev-parse --short HEAD)$(git diff --quiet -- . ':!bench/RESULTS*' || echo ' (with uncommitted changes)')."
    echo "Machine: $(nproc) cores, Linux $(uname -r); wrk -t1 -c64 -d${DURATION}s per serve, $ROUNDS rounds alternating;"
    echo "a key with \`--ratelimit api=1000000000/1m --credits 1000000000000\` (never refused) against one without."
    echo
    echo "| | no quota (req/s) | rate limit + credits (req/s) | ratio (goal ≥ 0.5) |"
    echo "| --- | --- | --- | --- |"
    echo "| SQLite, one serve | $(col 1) | $(col 2) | $(ratio "$(col 2)" "$(col 1)") |"
    echo "| PostgreSQL, two replicas (summed) | $(col 3) | $(col 4) | $(ratio "$(col 4)" "$(col 3)") |"
    echo
    echo "Rounds (SQLite plain, metered; PostgreSQL plain, metered):"
    while read -r a b c d; do echo "- $a, $b; $c, $d"; done <"$TMP/rounds"
    echo
    echo "Credits left on PostgreSQL with both replicas still running (each holds at most 4,096 reserved): $LEFT."
} >"$OUT"
cat "$OUT"
