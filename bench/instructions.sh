#!/usr/bin/env bash
# The user-space work of one request, counted in instructions: serve and
# the hyper hello-world (crates/keyward-serve/examples/hello.rs) each run
# under valgrind's callgrind while wrk sends them requests; the counters
# are zeroed after a warm-up and dumped after the load, and divided by the
# requests answered in between. Instructions, unlike seconds, do not
# depend on what else the machine is doing, so two builds compare exactly
# (the kernel's share, about half of a request's time, is not counted, and
# valgrind's CPU has no SHA extensions: SHA-256 counts ~3,400 instructions
# here against a few hundred on the machine's own CPU).
#
#   bench/instructions.sh                       # this tree's release build
#   KW=/tmp/keyward-before bench/instructions.sh
#   OUT=/tmp/profile.txt bench/instructions.sh  # where the profile goes
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in valgrind callgrind_control callgrind_annotate wrk python3; do
    command -v "$tool" >/dev/null || { echo "bench/instructions.sh needs $tool" >&2; exit 1; }
done
if [ -z "${KW:-}" ]; then
    cargo build -q --release
    KW=$PWD/target/release/keyward
fi
cargo build -q --release -p keyward-serve --example hello
HELLO=$PWD/target/release/examples/hello
OUT=${OUT:-/dev/null}
TMP=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 600); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.1; done; echo "nothing on port $1" >&2; exit 1; }

SECRET=$("$KW" --vault "$TMP/vault.db" create --name bench 2>/dev/null)

# measure NAME URL COMMAND...: prints "NAME instructions-per-request".
measure() {
    local name=$1 url=$2 port=$3
    shift 3
    valgrind --tool=callgrind --callgrind-out-file="$TMP/$name.%p" "$@" 2>"$TMP/$name.log" &
    pid=$!
    wait_port "$port"
    wrk -t1 -c8 -d2s -H "Authorization: Bearer $SECRET" "$url" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    local n
    n=$(wrk -t1 -c8 -d4s -H "Authorization: Bearer $SECRET" "$url" | awk '/requests in/ {print $1}')
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    pid=
    local dump
    dump=$(ls "$TMP/$name".*.1)
    local total
    total=$(callgrind_annotate "$dump" | awk '/PROGRAM TOTALS/ {gsub(/,/, "", $1); print $1}')
    echo "$name $((total / n))"
    {
        echo "## $name: $((total / n)) instructions per request ($n requests)"
        callgrind_annotate --inclusive=yes "$dump" 2>/dev/null |
            grep -E '^ *[0-9,]+ ' | sed -E 's/^ *([0-9,]+) \( *[0-9.]+%\) +/\1 /' |
            awk -v n="$n" '{c=$1; gsub(/,/, "", c); $1=""; printf "%8.0f %s\n", c / n, substr($0, 1, 140)}' |
            head -80
    } >>"$OUT"
}

PORT=$(free_port)
measure serve "http://127.0.0.1:$PORT/v1/authz" "$PORT" "$KW" --vault "$TMP/vault.db" serve --listen "127.0.0.1:$PORT"
PORT=$(free_port)
measure hello "http://127.0.0.1:$PORT/" "$PORT" "$HELLO" "127.0.0.1:$PORT"
