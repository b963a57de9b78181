#!/usr/bin/env bash
# PostgreSQL benchmarks; writes bench/RESULTS-postgres.md.
#
#   bench/postgres.sh                 # RUNS=200 ROUNDS=5 ROTATIONS=40
#
# Starts a throwaway PostgreSQL server (initdb + pg_ctl on a temp directory
# and a free port, as the postgres user when root), copies the 1k-key
# benchmark vault into it with `keyward copy`, and measures, in one run:
#  - `keyward verify` as a process against `psql -Atc 'select 1'`: both
#    connect to the same server and answer once (hyperfine medians);
#  - 8 writer processes rotating at once against the same rotations made
#    one after another (medians of ROUNDS wall-clock times).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-200}
ROUNDS=${ROUNDS:-5}
ROTATIONS=${ROTATIONS:-40}
DIR=${KEYWARD_BENCH_DIR:-$PWD/target/bench-vaults}
OUT=bench/RESULTS-postgres.md

need() {
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    else
        echo "bench/postgres.sh needs $1 (apt-get install $2)" >&2
        exit 1
    fi
}
need hyperfine hyperfine
need jq jq
need psql postgresql-client
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { need initdb postgresql; PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }

cargo build -q --release --features seed --example seed
cargo build -q --release
KW=$PWD/target/release/keyward
mkdir -p "$DIR"
if [ ! -f "$DIR/1k.db" ] || [ ! -f "$DIR/1k.secrets" ]; then
    rm -f "$DIR/1k.db" "$DIR/1k.secrets"
    target/release/examples/seed --vault "$DIR/1k.db" --keys 1000 --envs 10 --events 2000 \
        --secrets-out "$DIR/1k.secrets"
fi

TMP=$(mktemp -d)
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres "$TMP"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_owner "$PGBIN/initdb" -D "$TMP/data" -A trust -U postgres --no-sync >/dev/null
as_owner "$PGBIN/pg_ctl" -D "$TMP/data" -l "$TMP/log" -w \
    -o "-p $PORT -k $TMP -c listen_addresses=127.0.0.1" start >/dev/null
trap 'as_owner "$PGBIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1; rm -rf "$TMP"' EXIT

URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"
"$KW" --vault "$DIR/1k.db" copy --to "$URL" >/dev/null
SECRET=$(head -1 "$DIR/1k.secrets")

median_ms() { jq '.results[0].median * 1000' "$1"; }

export KW_SECRET=$SECRET
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$TMP/verify.json" \
    "$KW --vault $URL verify --key-env KW_SECRET" >/dev/null
hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$TMP/psql.json" \
    "psql -Atc 'select 1' $URL" >/dev/null
VERIFY=$(median_ms "$TMP/verify.json")
PSQL=$(median_ms "$TMP/psql.json")

# Writers: each of 8 processes rotates its own key ROTATIONS/8 times, at
# once; then the same rotations one after another. A fresh environment per
# round, so every round does the same work.
"$KW" --vault "$URL" config set max-keys 10000 >/dev/null
now() { date +%s.%N; }
parallel=()
serial=()
for round in $(seq "$ROUNDS"); do
    for mode in parallel serial; do
        env="bench-$mode-$round"
        for w in 1 2 3 4 5 6 7 8; do
            "$KW" --vault "$URL" create --name "w$w" --env "$env" >/dev/null 2>&1
        done
        per=$((ROTATIONS / 8))
        start=$(now)
        if [ "$mode" = parallel ]; then
            for w in 1 2 3 4 5 6 7 8; do
                ( for _ in $(seq "$per"); do
                      "$KW" --vault "$URL" rotate "w$w" --env "$env" --grace now >/dev/null 2>&1
                  done ) &
            done
            wait
        else
            for w in 1 2 3 4 5 6 7 8; do
                for _ in $(seq "$per"); do
                    "$KW" --vault "$URL" rotate "w$w" --env "$env" --grace now >/dev/null 2>&1
                done
            done
        fi
        end=$(now)
        t=$(echo "($end - $start) * 1000" | bc -l)
        if [ "$mode" = parallel ]; then parallel+=("$t"); else serial+=("$t"); fi
    done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
PAR=$(median "${parallel[@]}")
SER=$(median "${serial[@]}")
"$KW" --vault "$URL" log --verify >/dev/null

ratio() { printf "%.2f" "$(echo "$1 / $2" | bc -l)"; }
{
    echo "# PostgreSQL benchmarks"
    echo
    echo "Written by \`bench/postgres.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on loopback (no TLS)."
    echo "Medians; the machine is shared, so compare ratios from the same run."
    echo
    echo "| measure | median | ratio | target |"
    echo "| --- | --- | --- | --- |"
    printf '| `keyward verify` (a process: connect, one lookup, last-used) | %.2f ms | %sx psql | <= 1.0x |\n' "$VERIFY" "$(ratio "$VERIFY" "$PSQL")"
    printf "| \`psql -Atc 'select 1'\` (a process: connect, one query) | %.2f ms | 1.00x | |\n" "$PSQL"
    printf '| %d rotations by 8 processes at once | %.0f ms | %sx serial | <= 1.0x |\n' "$ROTATIONS" "$PAR" "$(ratio "$PAR" "$SER")"
    printf '| the same %d rotations one after another | %.0f ms | 1.00x | |\n' "$ROTATIONS" "$SER"
    echo
    echo "Runs: $RUNS per hyperfine command; $ROUNDS rounds of the writer comparison. The chain verified after."
} > "$OUT"
cat "$OUT"
