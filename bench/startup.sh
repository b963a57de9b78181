#!/usr/bin/env bash
# The CLI's start-up: `keyward verify` as a process against the sqlite3
# baseline on the same vault, alternating rounds (baseline, default build,
# CLI-only build) so that a noisy neighbour hits all of them alike; then
# where a run's time goes (perf stat: page faults, instructions, user and
# system time) and the binaries' sizes. Writes bench/RESULTS-startup.md.
#
#   bench/startup.sh                 # 100k keys, 5 rounds of 100 runs
#   SIZE=1k ROUNDS=3 RUNS=50 bench/startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE=${SIZE:-100k}
ROUNDS=${ROUNDS:-5}
RUNS=${RUNS:-100}
DIR=${KEYWARD_BENCH_DIR:-$PWD/target/bench-vaults}
OUT=bench/RESULTS-startup.md

for tool in hyperfine sqlite3 jq perf; do
    command -v "$tool" >/dev/null || { echo "bench/startup.sh needs $tool" >&2; exit 1; }
done

case $SIZE in
    1k) plan="1000 10 2000" ;;
    100k) plan="100000 100 200000" ;;
    1m) plan="1000000 100 2000000" ;;
    *) echo "unknown SIZE $SIZE" >&2; exit 2 ;;
esac

cargo build -q --release --features seed --example seed
cargo build -q --release
FULL=$PWD/target/startup-full
cp target/release/keyward "$FULL"
cargo build -q --release --no-default-features
CLI=$PWD/target/startup-cli
cp target/release/keyward "$CLI"
# Leave the default build in place for whoever runs next.
cargo build -q --release
# The same, linked statically (docs/performance.md "Start-up"): no dynamic
# loader, and no libgcc_s, whose constructor runs CPUID (a VM traps each).
TRIPLE=$(rustc -vV | awk '/^host:/ {print $2}')
RUSTFLAGS="-C target-feature=+crt-static" cargo build -q --release --target "$TRIPLE" \
    --target-dir target/static
STATIC=$PWD/target/startup-static
cp "target/static/$TRIPLE/release/keyward" "$STATIC"

mkdir -p "$DIR"
V=$DIR/$SIZE.db
SECRETS=$DIR/$SIZE.secrets
if [ ! -s "$V" ] || [ ! -s "$SECRETS" ]; then
    read -r keys envs events <<<"$plan"
    rm -f "$V" "$V-wal" "$V-shm"
    target/release/examples/seed --vault "$V" --keys "$keys" --envs "$envs" \
        --events "$events" --secrets-out "$SECRETS"
fi
SECRET=$(head -1 "$SECRETS")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
printf '%s' "$SECRET" >"$TMP/secret"
# hyperfine -N runs no shell: the secret comes from the environment.
export KW_SECRET=$SECRET

median() { # name, then hyperfine's arguments
    local name=$1
    shift
    hyperfine -N --warmup 10 --runs "$RUNS" --export-json "$TMP/$name.json" "$@" >/dev/null 2>&1
    jq '.results[0].median * 1000 * 1000 | round / 1000' "$TMP/$name.json"
}

declare -a base full cli static
for round in $(seq "$ROUNDS"); do
    base+=("$(median base "sqlite3 $V 'select count(*) from sqlite_master'")")
    full+=("$(median full "$FULL --vault $V verify --key-env KW_SECRET")")
    cli+=("$(median cli "$CLI --vault $V verify --key-env KW_SECRET")")
    static+=("$(median static "$STATIC --vault $V verify --key-env KW_SECRET")")
    echo "round $round: sqlite3 ${base[-1]} ms, keyward ${full[-1]} ms, CLI-only ${cli[-1]} ms, static ${static[-1]} ms" >&2
done

mid() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratios() { # each round's ratio of $1[] to base[]
    local -n of=$1
    for i in "${!of[@]}"; do awk -v a="${of[$i]}" -v b="${base[$i]}" 'BEGIN {printf "%.3f\n", a/b}'; done
}
B=$(mid "${base[@]}")
F=$(mid "${full[@]}")
C=$(mid "${cli[@]}")
S=$(mid "${static[@]}")
RF=$(mid $(ratios full))
RC=$(mid $(ratios cli))
RS=$(mid $(ratios static))

stat() { # perf stat of 200 runs of a command
    perf stat -x, -r 200 -e page-faults,task-clock "$@" 2>&1 >/dev/null |
        awk -F, '{printf "%s=%s ", $3, $1}'
}
PB=$(stat sqlite3 "$V" 'select count(*) from sqlite_master')
PF=$(stat "$FULL" --vault "$V" verify --key-env KW_SECRET)
PC=$(stat "$CLI" --vault "$V" verify --key-env KW_SECRET)
PS=$(stat "$STATIC" --vault "$V" verify --key-env KW_SECRET)
size() { stat_size=$(wc -c <"$1"); echo $((stat_size / 1024)); }

{
    echo "# keyward start-up"
    echo
    echo "Made by \`bench/startup.sh\` on $(date -u +%F) at $(git rev-parse --short HEAD)$(git diff --quiet -- . ':!bench/RESULTS*' || echo ' (with uncommitted changes)')."
    echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r); sqlite3 $(sqlite3 --version | cut -d' ' -f1)."
    echo "Vault: $SIZE keys. $ROUNDS rounds, each of $RUNS runs of every command (hyperfine -N, medians),"
    echo "the baseline measured in every round before the builds."
    echo
    echo "| command | median ms | / baseline (median of rounds) |"
    echo "| --- | --- | --- |"
    echo "| \`sqlite3 VAULT 'select count(*) from sqlite_master'\` | $B | 1 |"
    echo "| \`keyward verify\` (default build: serve, postgres) | $F | $RF |"
    echo "| \`keyward verify\` (\`--no-default-features\`) | $C | $RC |"
    echo "| \`keyward verify\` (default build, linked statically: \`+crt-static\`) | $S | $RS |"
    echo
    echo "Rounds (sqlite3 / default / CLI-only / static, ms):"
    for i in "${!base[@]}"; do echo "- ${base[$i]} / ${full[$i]} / ${cli[$i]} / ${static[$i]}"; done
    echo
    echo "perf stat, 200 runs each:"
    echo
    echo "- sqlite3: $PB"
    echo "- keyward: $PF"
    echo "- keyward CLI-only: $PC"
    echo "- keyward static: $PS"
    echo
    echo "Binary sizes: default $(size "$FULL") KiB, CLI-only $(size "$CLI") KiB, static $(size "$STATIC") KiB, sqlite3 $(size "$(command -v sqlite3)") KiB."
} >"$OUT"
cat "$OUT"
