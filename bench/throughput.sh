#!/usr/bin/env bash
# serve's pace against nginx's, the measure of the throughput goal: nginx
# answering `return 200;` (1 worker, access_log off) and `keyward serve` on
# SQLite answering /v1/authz for a valid key with its request log on (to a
# file), the same wrk (-t1 -c64 -d5s) alternating, ROUNDS times. Reports
# the median of each round's ratio, the medians of req/s and p99, and
# writes bench/RESULTS-throughput.md. Each round also measures the floor
# under serve: hyper and tokio set up as serve sets them up, answering 200
# and doing nothing else (crates/keyward-serve/examples/hello.rs).
#
#   bench/throughput.sh                # ROUNDS=5 DURATION=5
#   LOG_FORMAT=json bench/throughput.sh
#   KW=/tmp/keyward-before OUT=/tmp/before.md bench/throughput.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/nginx.sh

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
LOG_FORMAT=${LOG_FORMAT:-text}
OUT=${OUT:-bench/RESULTS-throughput.md}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for tool in wrk jq python3 "$NGINX"; do
    command -v "$tool" >/dev/null || [ -x "$tool" ] || { echo "bench/throughput.sh needs $tool" >&2; exit 1; }
done

# KW=path/to/keyward measures another build (e.g. one from before a change).
if [ -z "${KW:-}" ]; then
    cargo build -q --release
    KW=$PWD/target/release/keyward
fi
cargo build -q --release -p keyward-serve --example hello
HELLO=$PWD/target/release/examples/hello
TMP=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 200); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return; sleep 0.05; done; echo "nothing on port $1" >&2; exit 1; }

SQLITE=$TMP/vault.db
SECRET=$("$KW" --vault "$SQLITE" create --name bench 2>/dev/null)

NGINX_PORT=$(free_port)
write_nginx_conf "$TMP/nginx" "$NGINX_PORT" 1
"$NGINX" -e "$TMP/nginx/error.log" -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" &
pids+=($!)
PORT=$(free_port)
"$KW" --vault "$SQLITE" serve --listen "127.0.0.1:$PORT" --log-format "$LOG_FORMAT" 2>"$TMP/serve.log" &
pids+=($!)
HELLO_PORT=$(free_port)
"$HELLO" "127.0.0.1:$HELLO_PORT" &
pids+=($!)
wait_port "$NGINX_PORT"
wait_port "$PORT"
wait_port "$HELLO_PORT"

load() { # url → "req/s p99-ms"
    wrk -t1 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $SECRET" "$1" >"$TMP/wrk.txt"
    if grep -q Non-2xx "$TMP/wrk.txt"; then echo "non-2xx answers from $1" >&2; cat "$TMP/wrk.txt" >&2; exit 1; fi
    awk '/^Requests\/sec:/ {r=$2}
         $1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; p=v}
         END {print r, p}' "$TMP/wrk.txt"
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

load "http://127.0.0.1:$NGINX_PORT/" >/dev/null # warm-up
load "http://127.0.0.1:$PORT/v1/authz" >/dev/null
load "http://127.0.0.1:$HELLO_PORT/" >/dev/null
: >"$TMP/rounds"
for round in $(seq "$ROUNDS"); do
    read -r n_rps n_p99 < <(load "http://127.0.0.1:$NGINX_PORT/")
    read -r k_rps k_p99 < <(load "http://127.0.0.1:$PORT/v1/authz")
    read -r h_rps h_p99 < <(load "http://127.0.0.1:$HELLO_PORT/")
    ratio=$(awk -v k="$k_rps" -v n="$n_rps" 'BEGIN {printf "%.3f", k/n}')
    h_ratio=$(awk -v h="$h_rps" -v n="$n_rps" 'BEGIN {printf "%.3f", h/n}')
    echo "$n_rps $n_p99 $k_rps $k_p99 $ratio $h_rps $h_p99 $h_ratio" >>"$TMP/rounds"
    echo "round $round: nginx $n_rps req/s (p99 $n_p99 ms), serve $k_rps req/s (p99 $k_p99 ms): $ratio; hyper hello $h_rps (p99 $h_p99 ms): $h_ratio" >&2
done
col() { awk -v c="$1" '{print $c}' "$TMP/rounds" | median; }
LINES=$(wc -l <"$TMP/serve.log")

{
    echo "# serve against nginx"
    echo
    echo "Made by \`bench/throughput.sh\` on $(date -u +%F) at $(git rev-parse --short HEAD)$(git diff --quiet -- . ':!bench/RESULTS*' || echo ' (with uncommitted changes)')."
    echo "Machine: $(nproc) cores, Linux $(uname -r); $("$NGINX" -v 2>&1 | sed 's/.*: //'); wrk -t1 -c64 -d${DURATION}s, $ROUNDS rounds alternating."
    echo "serve on SQLite, one valid key, \`/v1/authz\`, request log ($LOG_FORMAT) to a file ($LINES lines written)."
    echo
    echo "| | nginx \`return 200\` | keyward serve | serve / nginx | hyper hello-world | hello / nginx |"
    echo "| --- | --- | --- | --- | --- | --- |"
    echo "| req/s (median) | $(col 1) | $(col 3) | $(col 5) (median of rounds) | $(col 6) | $(col 8) |"
    echo "| p99 ms (median) | $(col 2) | $(col 4) | | $(col 7) | |"
    echo
    echo "Rounds (nginx req/s, p99; serve req/s, p99; ratio; hello req/s, p99; ratio):"
    while read -r a b c d e f g h; do echo "- $a, $b; $c, $d; $e; $f, $g; $h"; done <"$TMP/rounds"
} >"$OUT"
cat "$OUT"
