#!/usr/bin/env bash
# The scale benchmark of issue 20; writes bench/RESULTS-scale.md.
#
#   bench/scale.sh        # KEYS=1000000 ENVS=10 EVENTS=1000000 REPLICAS=8 DURATION=60 WRITES=10
#   KEYS=20000 EVENTS=20000 REPLICAS=2 DURATION=10 bench/scale.sh     # a quick try
#
# In one run, on this machine (the load generators share its cores):
#  1. a vault of KEYS keys over ENVS environments and about EVENTS events
#     (the seed example, cached in target/bench-vaults), copied to a
#     throwaway PostgreSQL server and back to a new SQLite file with
#     `keyward copy`: wall time and peak RSS of each direction;
#  2. REPLICAS `keyward serve` on the PostgreSQL vault and 1 on the SQLite
#     copy, started one after another: time to /readyz and to the first
#     valid key allowed, RSS at rest;
#  3. a baseline: wrk (-t1 -c8, a Lua script presenting the seed's valid
#     secrets in turn on GET /v1/authz and counting answers by status)
#     against every replica at once for DURATION/2 s, no writes;
#  4. the same for DURATION s while, on each engine, a writer makes WRITES
#     writes/s (rotate --grace 1h, update --note, extend --expires, revoke,
#     in turn, on keys made for it), `keyward verify` runs in a loop, and a
#     revocation probe creates a key, waits until every replica allows it,
#     revokes it and polls every replica until it refuses (bench/scale.py);
#     every non-200 answer wrk gets is a valid key refused or a 5xx;
#     peak RSS (VmHWM) of every replica after;
#  5. the CLI at 1,000 keys and at KEYS keys on both engines (hyperfine
#     medians): verify, show, log --limit 50, rotate, revoke, and list --env
#     of one environment (time and peak RSS).
# Everything it starts it stops; it uses only its own vaults (--vault).
set -euo pipefail
cd "$(dirname "$0")/.."

KEYS=${KEYS:-1000000}
ENVS=${ENVS:-10}
EVENTS=${EVENTS:-1000000}
REPLICAS=${REPLICAS:-8}
DURATION=${DURATION:-60}
WRITES=${WRITES:-10}
RUNS=${RUNS:-30}            # hyperfine runs per CLI command (reads and writes)
LIST_RUNS=${LIST_RUNS:-5}   # hyperfine runs of list --env
MIN_FREE_MIB=${MIN_FREE_MIB:-1024} # the memory watchdog's floor (see below)
# LOGS_DIR=DIR keeps serve's logs, wrk's outputs and the helpers' JSON there.
DIR=${KEYWARD_BENCH_DIR:-$PWD/target/bench-vaults}
OUT=bench/RESULTS-scale.md
SMALL_KEYS=1000
SMALL_EVENTS=$(( EVENTS * SMALL_KEYS / KEYS > SMALL_KEYS ? EVENTS * SMALL_KEYS / KEYS : SMALL_KEYS ))
BASE_S=$(( DURATION / 2 > 1 ? DURATION / 2 : 1 ))
[ "$ENVS" -ge 2 ] && [ "$KEYS" -ge "$SMALL_KEYS" ] || { echo "bench/scale.sh needs ENVS >= 2 and KEYS >= $SMALL_KEYS" >&2; exit 2; }

need() {
    command -v "$1" >/dev/null && return
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    else
        echo "bench/scale.sh needs $1 (apt-get install $2)" >&2
        exit 1
    fi
}
need wrk wrk
need hyperfine hyperfine
need jq jq
need curl curl
need python3 python3
[ -x /usr/bin/time ] || need /usr/bin/time time
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { need initdb postgresql; PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1); }

cargo build -q --release --features seed --example seed
cargo build -q --release
KW=$PWD/target/release/keyward
SEED=$PWD/target/release/examples/seed
HELP="python3 $PWD/bench/scale.py"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

TMP=$(mktemp -d)
chmod 755 "$TMP"
pids=()
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ -n "${LOGS_DIR:-}" ]; then
        mkdir -p "$LOGS_DIR"
        cp "$TMP"/serve-*.log "$TMP"/wrk-*.txt "$TMP"/*.json "$TMP/pg/log" "$LOGS_DIR/" 2>/dev/null || true
    fi
    for p in "${pids[@]}"; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    as_owner "$PGBIN/pg_ctl" -D "$TMP/pg/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now_ns() { date +%s%N; }
mem_avail_mib() { awk '/^MemAvailable/ {printf "%d", $2/1024}' /proc/meminfo; }
hwm() { awk '/^VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "gone"; }
rss() { awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo "gone"; }
fmt() { awk -v a="$1" 'BEGIN { if (a ~ /^[0-9.eE+-]+$/) printf "%.2f", a; else print a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.eE+-]+$/ || b !~ /^[0-9.eE+-]+$/ || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# verdict VALUE GOAL: met when VALUE <= GOAL
verdict() { awk -v a="$1" -v t="$2" 'BEGIN { if (a !~ /^[0-9.eE+-]+$/) print "**not met**"; else print (a + 0 <= t + 0) ? "met" : "**not met**" }'; }

# --- 1. The vaults -------------------------------------------------------
# Seeded once per size into $DIR (a partial seed never lands there).
seed() { # keys events -> path of the vault; its secrets next to it
    local keys=$1 events=$2 base="$DIR/scale-$1-$ENVS-$2"
    if [ ! -f "$base.db" ] || [ ! -f "$base.secrets" ]; then
        mkdir -p "$DIR"
        rm -f "$base.db" "$base.secrets" "$base.tmp.db" "$base.tmp.db-wal" "$base.tmp.db-shm" "$base.tmp.secrets"
        log "seeding $keys keys over $ENVS environments, $events events"
        "$SEED" --vault "$base.tmp.db" --keys "$keys" --envs "$ENVS" --events "$events" \
            --secrets-out "$base.tmp.secrets" 2>"$TMP/seed.log" || { cat "$TMP/seed.log" >&2; exit 1; }
        tail -1 "$TMP/seed.log" >&2
        [ ! -e "$base.tmp.db-wal" ] || [ ! -s "$base.tmp.db-wal" ] || { echo "seed left a WAL" >&2; exit 1; }
        rm -f "$base.tmp.db-wal" "$base.tmp.db-shm"
        mv "$base.tmp.secrets" "$base.secrets"
        mv "$base.tmp.db" "$base.db"
    fi
    echo "$base"
}
BIG=$(seed "$KEYS" "$EVENTS")
SMALL=$(seed "$SMALL_KEYS" "$SMALL_EVENTS")
SECRETS=$BIG.secrets
SMALL_SECRETS=$SMALL.secrets
[ -s "$SECRETS" ] && [ -s "$SMALL_SECRETS" ] || { echo "no secrets in $SECRETS or $SMALL_SECRETS" >&2; exit 1; }

mkdir -p "$TMP/pg"
[ "$(id -u)" = 0 ] && chown postgres "$TMP/pg"
PGPORT=$(free_port)
as_owner "$PGBIN/initdb" -D "$TMP/pg/data" -A trust -U postgres --no-sync >/dev/null
as_owner "$PGBIN/pg_ctl" -D "$TMP/pg/data" -l "$TMP/pg/log" -w \
    -o "-p $PGPORT -k $TMP/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
PGURL() { echo "postgres://postgres@127.0.0.1:$PGPORT/$1?sslmode=disable"; }
PG=$(PGURL postgres)
"$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c 'create database small' postgres
PG_SMALL=$(PGURL small)
SQ=$TMP/back.db          # the big vault copied back from PostgreSQL: the SQLite vault of the run
SQ_SMALL=$TMP/small.db

# timed NAME CMD...: wall seconds and peak RSS (MiB) of CMD, from /usr/bin/time -v,
# written to $TMP/NAME.res (its output to $TMP/NAME.out)
timed() {
    local name=$1; shift
    /usr/bin/time -v -o "$TMP/$name.time" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" \
        || { echo "$name failed:" >&2; cat "$TMP/$name.err" "$TMP/$name.time" >&2; echo "failed failed" >"$TMP/$name.res"; return 1; }
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; w = s }
                /Maximum resident set size/ { r = $2 / 1024 }
                END { printf "%.1f %.1f\n", w, r }' "$TMP/$name.time" >"$TMP/$name.res"
}
log "copy SQLite -> PostgreSQL"
timed copy-to "$KW" --vault "$BIG.db" copy --to "$PG" || exit 1
read -r COPY_TO_S COPY_TO_RSS <"$TMP/copy-to.res"
log "  ${COPY_TO_S}s, ${COPY_TO_RSS} MiB"
log "copy PostgreSQL -> SQLite"
timed copy-back "$KW" --vault "$PG" copy --to "$SQ" || exit 1
read -r COPY_BACK_S COPY_BACK_RSS <"$TMP/copy-back.res"
log "  ${COPY_BACK_S}s, ${COPY_BACK_RSS} MiB"
"$KW" --vault "$SMALL.db" copy --to "$PG_SMALL" >/dev/null
"$KW" --vault "$PG_SMALL" copy --to "$SQ_SMALL" >/dev/null
BIG_LIST=$("$KW" --vault "$BIG.db" --json list --all --env env001 | jq length)
BACK_LIST=$("$KW" --vault "$SQ" --json list --all --env env001 | jq length)
[ "$BIG_LIST" = "$BACK_LIST" ] || { echo "the copy back lists $BACK_LIST keys of env001, the seed $BIG_LIST" >&2; exit 1; }

# Keys of our own for the writers, the CLI's rotate and revoke, and the probe:
# none of them is a key whose secret wrk presents. The first key of an
# environment is its default key, which cannot be revoked: a keeper.
POOL=$(( WRITES * DURATION / 4 + 20 ))
for v in "$PG" "$SQ" "$PG_SMALL" "$SQ_SMALL"; do
    "$KW" --vault "$v" config set max-keys 10000 >/dev/null
    "$KW" --vault "$v" create --name keeper --env bench-cli >/dev/null 2>&1
    "$KW" --vault "$v" create --name rot --env bench-cli >/dev/null 2>&1
done
log "creating $POOL keys for each writer"
for v in PG SQ; do
    "$KW" --vault "${!v}" create --name keeper --env bench-writes >/dev/null 2>&1
    for i in $(seq "$POOL"); do
        "$KW" --vault "${!v}" --json create --name "w$i" --env bench-writes | jq -r .key.id
    done >"$TMP/pool-$v.txt"
done

# --- 2. The replicas -----------------------------------------------------
# Started one after another, each timed alone. The memory watchdog: a
# replica is not started when MemAvailable would drop under
# MIN_FREE_MIB + twice the last replica's RSS; during the load phases a
# replica is killed (and reported) when MemAvailable drops under MIN_FREE_MIB.
NAMES=(); PORTS=(); PIDS=(); VAULTS=()
declare -A READYZ AUTHZ REST HWM SPLIT NOTE
FIRST_SECRET=$(head -1 "$SECRETS")
last_rss=256
start_replica() { # name vault
    local name=$1 vault=$2 port pid t0 out
    local avail; avail=$(mem_avail_mib)
    if [ "$avail" -lt $(( MIN_FREE_MIB + 2 * ${last_rss%.*} )) ]; then
        log "not starting $name: MemAvailable ${avail} MiB, the last replica used ${last_rss} MiB"
        SKIPPED+=("$name")
        return
    fi
    port=$(free_port)
    t0=$(now_ns)
    "$KW" --vault "$vault" serve --listen "127.0.0.1:$port" 2>"$TMP/serve-$name.log" &
    pid=$!
    pids+=("$pid")
    out=$($HELP ready "$port" "$FIRST_SECRET" 600 "$t0") || { tail -5 "$TMP/serve-$name.log" >&2; exit 1; }
    read -r READYZ[$name] AUTHZ[$name] <<<"$out"
    NAMES+=("$name"); PORTS+=("$port"); PIDS+=("$pid"); VAULTS+=("$vault")
    sleep 1
    REST[$name]=$(rss "$pid")
    last_rss=${REST[$name]}
    log "$name on port $port: /readyz after ${READYZ[$name]} ms, a valid key after ${AUTHZ[$name]} ms, RSS ${REST[$name]} MiB"
}
SKIPPED=()
for i in $(seq "$REPLICAS"); do start_replica "pg$i" "$PG"; done
last_rss=256
start_replica sqlite "$SQ"
sleep 2
for i in "${!NAMES[@]}"; do REST[${NAMES[$i]}]=$(rss "${PIDS[$i]}"); done

metric() { # port name -> value of the counter (no labels) or ""
    { curl -s --max-time 10 "http://127.0.0.1:$1/metrics" || true; } | awk -v m="$2" '$1 == m {print $2; exit}'
}
watchdog() { # killed replicas are written to $TMP/killed, MemAvailable's low to $TMP/memlow
    local low=999999999 a
    while :; do
        a=$(mem_avail_mib)
        [ "$a" -lt "$low" ] && { low=$a; echo "$low" >"$TMP/memlow"; }
        if [ "$a" -lt "$MIN_FREE_MIB" ]; then
            local big="" bigrss=0 r
            for i in "${!PIDS[@]}"; do
                r=$(awk '/^VmRSS/ {print $2}' "/proc/${PIDS[$i]}/status" 2>/dev/null || echo 0)
                [ "$r" -gt "$bigrss" ] && { bigrss=$r; big=$i; }
            done
            if [ -n "$big" ]; then
                kill -9 "${PIDS[$big]}" 2>/dev/null || true
                echo "${NAMES[$big]} $((bigrss / 1024))" >>"$TMP/killed"
            fi
        fi
        sleep 0.5
    done
}
: >"$TMP/killed"
watchdog &
WATCHDOG=$!
pids+=("$WATCHDOG")

# --- 3 and 4. Load -------------------------------------------------------
cat >"$TMP/authz.lua" <<'LUA'
-- Presents the valid secrets of SECRETS_FILE in turn; counts answers by status.
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
    secrets = {}
    for line in io.lines(os.getenv("SECRETS_FILE")) do secrets[#secrets + 1] = line end
    i = math.random(#secrets)
    s200, s401, s403, s503, s5xx, sother = 0, 0, 0, 0, 0, 0
end
function request()
    i = i + 1
    return wrk.format("GET", "/v1/authz", { ["Authorization"] = "Bearer " .. secrets[(i % #secrets) + 1] })
end
function response(status, headers, body)
    if status == 200 then s200 = s200 + 1
    elseif status == 401 then s401 = s401 + 1
    elseif status == 403 then s403 = s403 + 1
    elseif status == 503 then s503 = s503 + 1
    elseif status >= 500 then s5xx = s5xx + 1
    else sother = sother + 1 end
end
function done(summary, latency, requests)
    local t = { s200 = 0, s401 = 0, s403 = 0, s503 = 0, s5xx = 0, sother = 0 }
    for _, th in ipairs(threads) do
        for k, _ in pairs(t) do t[k] = t[k] + (th:get(k) or 0) end
    end
    local e = summary.errors
    io.write(string.format("KW %d %.1f %d %d %d %d %d %d %d %d %d %d %d %d\n",
        summary.requests, latency:percentile(99), t.s200, t.s401, t.s403, t.s503, t.s5xx, t.sother,
        e.connect, e.read, e.write, e.timeout, e.status, summary.duration))
end
LUA
# load PHASE SECONDS: wrk against every live replica at once
load() {
    local phase=$1 secs=$2 w=()
    for i in "${!NAMES[@]}"; do
        SECRETS_FILE=$SECRETS wrk -t1 -c8 -d"${secs}s" --timeout 5s --latency -s "$TMP/authz.lua" \
            "http://127.0.0.1:${PORTS[$i]}/v1/authz" >"$TMP/wrk-$phase-${NAMES[$i]}.txt" 2>&1 &
        w+=($!)
        pids+=($!)
    done
    for p in "${w[@]}"; do wait "$p" || true; done
}
# field PHASE NAME N: the Nth number of wrk's KW line (1 requests, 2 p99 us,
# 3..8 answers 200 401 403 503 other-5xx other, 9..13 socket errors
# connect read write timeout status, 14 duration us)
field() { awk -v n="$3" '$1 == "KW" {print $(n + 1)}' "$TMP/wrk-$1-$2.txt"; }

declare -A RELOAD0 RELOAD1 VERRS VERR0 VERR1
for i in "${!NAMES[@]}"; do VERRS[${NAMES[$i]}]=$(metric "${PORTS[$i]}" keyward_vault_errors_total); done
log "baseline: wrk against ${#NAMES[@]} replicas for ${BASE_S}s, no writes"
load base "$BASE_S"

for i in "${!NAMES[@]}"; do
    RELOAD0[${NAMES[$i]}]=$(metric "${PORTS[$i]}" keyward_keys_reloaded_total)
    VERR0[${NAMES[$i]}]=$(metric "${PORTS[$i]}" keyward_vault_errors_total)
done
PG_PORTS=(); SQ_PORTS=()
for i in "${!NAMES[@]}"; do
    if [ "${VAULTS[$i]}" = "$PG" ]; then PG_PORTS+=("${PORTS[$i]}"); else SQ_PORTS+=("${PORTS[$i]}"); fi
done
join() { local IFS=,; echo "$*"; }
log "loaded: ${DURATION}s of wrk with $WRITES writes/s, a verify loop and a revocation probe on each engine"
helpers=()
for v in PG SQ; do
    ports=$([ "$v" = PG ] && join "${PG_PORTS[@]}" || join "${SQ_PORTS[@]}")
    $HELP writer "$KW" "${!v}" bench-writes "$WRITES" "$DURATION" "$TMP/pool-$v.txt" >"$TMP/writer-$v.json" &
    helpers+=($!); pids+=($!)
    $HELP verify-loop "$KW" "${!v}" "$SECRETS" "$DURATION" >"$TMP/verify-$v.json" &
    helpers+=($!); pids+=($!)
    if [ -n "$ports" ]; then
        $HELP revocation "$KW" "${!v}" bench-revocation "$DURATION" "$ports" >"$TMP/revocation-$v.json" &
        helpers+=($!); pids+=($!)
    else
        echo '{"trials": 0, "failed_trials": 0, "replicas": {}}' >"$TMP/revocation-$v.json"
    fi
done
load loaded "$DURATION"
for p in "${helpers[@]}"; do wait "$p" || true; done
for i in "${!NAMES[@]}"; do
    HWM[${NAMES[$i]}]=$(hwm "${PIDS[$i]}")
    SPLIT[${NAMES[$i]}]=$(awk '/^RssAnon/ {a = $2} /^RssFile/ {f = $2} END {printf "%.1f / %.1f", a/1024, f/1024}' "/proc/${PIDS[$i]}/status" 2>/dev/null || echo gone)
    RELOAD1[${NAMES[$i]}]=$(metric "${PORTS[$i]}" keyward_keys_reloaded_total)
    VERR1[${NAMES[$i]}]=$(metric "${PORTS[$i]}" keyward_vault_errors_total)
done
kill "$WATCHDOG" 2>/dev/null || true
MEMLOW=$(cat "$TMP/memlow" 2>/dev/null || echo "?")
for i in "${!NAMES[@]}"; do
    if ! kill -0 "${PIDS[$i]}" 2>/dev/null; then NOTE[${NAMES[$i]}]="died"; fi
done
while read -r name mib; do [ -n "$name" ] && NOTE[$name]="killed by the memory watchdog at ${mib} MiB"; done <"$TMP/killed"
for i in "${!NAMES[@]}"; do
    kill "${PIDS[$i]}" 2>/dev/null || true
done
for i in "${!NAMES[@]}"; do
    for _ in $(seq 150); do kill -0 "${PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${PIDS[$i]}" 2>/dev/null || true
done

# --- 5. The CLI at 1k and at KEYS ----------------------------------------
# hyperfine medians (ms); rotate rotates the environment's active key "rot"
# (so every run rotates a key made by the run before), revoke revokes a key
# made by hyperfine's --prepare.
median_ms() { # name hyperfine-args...
    local name=$1; shift
    hyperfine -N --style none --export-json "$TMP/hf-$name.json" "$@" >/dev/null 2>"$TMP/hf-$name.err" \
        || { echo "hyperfine $name failed:" >&2; cat "$TMP/hf-$name.err" >&2; echo failed; return 0; }
    jq '.results[0].median * 1000' "$TMP/hf-$name.json"
}
declare -A CLI LISTMS LISTRSS LISTROWS
# Dirty pages of the copies and the load still being written back make a
# write's fsync wait for them: write them out first, on both engines.
settle() { sync; "$PGBIN/psql" -q -h 127.0.0.1 -p "$PGPORT" -U postgres -c checkpoint postgres >/dev/null; }
settle
for engine in sqlite pg; do
    for size in small big; do
        case $engine-$size in
            sqlite-small) V=$SQ_SMALL; S=$SMALL_SECRETS ;;
            sqlite-big) V=$SQ; S=$SECRETS ;;
            pg-small) V=$PG_SMALL; S=$SMALL_SECRETS ;;
            pg-big) V=$PG; S=$SECRETS ;;
        esac
        k=$engine-$size
        log "CLI: $engine, $([ $size = small ] && echo $SMALL_KEYS || echo "$KEYS") keys"
        export KW_SECRET; KW_SECRET=$(head -1 "$S")
        ID=$("$KW" --vault "$V" --json verify --key-env KW_SECRET | jq -r .key.id) || ID=unknown
        CLI[verify-$k]=$(median_ms "verify-$k" --warmup 5 --runs "$RUNS" "$KW --vault $V verify --key-env KW_SECRET")
        CLI[show-$k]=$(median_ms "show-$k" --warmup 5 --runs "$RUNS" "$KW --vault $V show $ID")
        CLI[showname-$k]=$(median_ms "showname-$k" --warmup 5 --runs "$RUNS" "$KW --vault $V show svc-1 --env env001")
        CLI[log-$k]=$(median_ms "log-$k" --warmup 5 --runs "$RUNS" "$KW --vault $V log --limit 50")
        CLI[showjson-$k]=$(median_ms "showjson-$k" --warmup 5 --runs "$RUNS" "$KW --vault $V --json show $ID")
        settle
        CLI[rotate-$k]=$(median_ms "rotate-$k" --warmup 3 --runs "$RUNS" "$KW --vault $V rotate rot --env bench-cli --grace 1h")
        settle
        CLI[revoke-$k]=$(median_ms "revoke-$k" --warmup 3 --runs "$RUNS" \
            --prepare "$KW --vault $V create --name victim --env bench-cli" \
            "$KW --vault $V revoke victim --env bench-cli --yes")
        LISTMS[$k]=$(median_ms "list-$k" --warmup 1 --runs "$LIST_RUNS" "$KW --vault $V list --env env001")
        timed "list-$k" "$KW" --vault "$V" list --env env001 || true
        read -r _ LISTRSS[$k] <"$TMP/list-$k.res"
        LISTROWS[$k]=$(( $(wc -l <"$TMP/list-$k.out" || echo 1) - 1 ))
        LISTMS[json-$k]=$(median_ms "listjson-$k" --warmup 1 --runs "$LIST_RUNS" "$KW --vault $V --json list --env env001")
        timed "listjson-$k" "$KW" --vault "$V" --json list --env env001 || true
        read -r _ LISTRSS[json-$k] <"$TMP/listjson-$k.res"
    done
done
CHAIN="intact on both"
"$KW" --vault "$PG" log --verify >/dev/null 2>"$TMP/chain.err" || CHAIN="**broken** on PostgreSQL: $(head -1 "$TMP/chain.err")"
"$KW" --vault "$SQ" log --verify >/dev/null 2>"$TMP/chain.err" || CHAIN="$CHAIN; **broken** on SQLite: $(head -1 "$TMP/chain.err")"

# --- Results -------------------------------------------------------------
n_keys() { awk -v n="$1" 'BEGIN { if (n >= 1000000 && n % 1000000 == 0) print n / 1000000 "M"; else if (n >= 1000 && n % 1000 == 0) print n / 1000 "k"; else print n }'; }
BIGN=$(n_keys "$KEYS"); SMALLN=$(n_keys "$SMALL_KEYS")
rev() { jq -r --arg p "$2" ".replicas[\$p].$3 // \"n/a\"" "$TMP/revocation-$1.json"; }
# The goals at a glance, gathered while the sections are written.
SUMMARY=()
goal() { SUMMARY+=("| $1 | $2 | $3 |"); }
# maxof VALUES...: the largest; a value that is no number (inf, gone, failed, n/a) is the worst
maxof() { printf '%s\n' "$@" | awk '!/^[0-9.eE+-]+$/ { bad = $0 } /^[0-9.eE+-]+$/ { if (m == "" || $1 + 0 > m + 0) m = $1 } END { print (bad != "" ? bad : (m == "" ? "n/a" : m)) }'; }
{
    echo "# Scale benchmark (bench/scale.sh)"
    echo
    echo "Made by \`bench/scale.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src Cargo.toml Cargo.lock || echo ' (with uncommitted changes)'); $("$KW" --version)."
    echo "Machine: $(nproc) cores, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | sed 's/^ *//'),"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r); PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on loopback (a throwaway server, default settings but max_connections=300)."
    echo "Everything (PostgreSQL, the replicas, wrk, the writers and probes) shares these cores."
    echo
    echo "Vault: the seed example's $KEYS keys over $ENVS environments and $EVENTS events (every"
    echo "1000th secret kept: $(wc -l <"$SECRETS") valid secrets for wrk), against $SMALL_KEYS keys and $SMALL_EVENTS events for the CLI ratios."
    echo "Settings: REPLICAS=$REPLICAS DURATION=$DURATION WRITES=$WRITES RUNS=$RUNS."
} >"$TMP/head.md"
{
    echo "## 1. copy (wall time and peak RSS from /usr/bin/time -v)"
    echo
    echo "| direction | wall time (s) | goal | | peak RSS (MiB) | goal | |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    echo "| SQLite → PostgreSQL | $COPY_TO_S | ≤ 60 | $(verdict "$COPY_TO_S" 60) | $COPY_TO_RSS | ≤ 256 | $(verdict "$COPY_TO_RSS" 256) |"
    echo "| PostgreSQL → SQLite | $COPY_BACK_S | ≤ 60 | $(verdict "$COPY_BACK_S" 60) | $COPY_BACK_RSS | ≤ 256 | $(verdict "$COPY_BACK_RSS" 256) |"
    goal "copy SQLite → PostgreSQL ≤ 60 s" "$COPY_TO_S s" "$(verdict "$COPY_TO_S" 60)"
    goal "copy PostgreSQL → SQLite ≤ 60 s" "$COPY_BACK_S s" "$(verdict "$COPY_BACK_S" 60)"
    m=$(maxof "$COPY_TO_RSS" "$COPY_BACK_RSS")
    goal "copy peak RSS ≤ 256 MiB (both ways)" "$m MiB" "$(verdict "$m" 256)"
    echo
    echo "## 2. serve replicas"
    echo
    echo "$REPLICAS on the PostgreSQL vault and 1 on the SQLite copy, started one after another."
    echo "Ready: from the spawn to the first 200 of /readyz, then to the first valid key allowed on"
    echo "/v1/authz. Peak RSS: VmHWM after both load phases. Re-reads: \`keyward_keys_reloaded_total\`"
    echo "over the loaded phase; vault errors: \`keyward_vault_errors_total\` over each phase. RSS after load:"
    echo "RssAnon / RssFile (RssFile counts the file pages mapped into memory: the binary, and a vault file SQLite maps)."
    echo
    echo "| replica | /readyz (ms) | valid key allowed (ms) | RSS at rest (MiB) | peak RSS (MiB) | goal ≤ 256 | | RSS after load: anon / file (MiB) | keys re-read | vault errors (base / loaded) | |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for n in "${NAMES[@]}"; do
        d=""
        [ -n "${RELOAD1[$n]}" ] && [ -n "${RELOAD0[$n]}" ] && d=$(( ${RELOAD1[$n]%.*} - ${RELOAD0[$n]%.*} ))
        e=""
        [ -n "${VERR1[$n]}" ] && [ -n "${VERR0[$n]}" ] && [ -n "${VERRS[$n]}" ] && \
            e="$(( ${VERR0[$n]%.*} - ${VERRS[$n]%.*} )) / $(( ${VERR1[$n]%.*} - ${VERR0[$n]%.*} ))"
        echo "| $n | ${READYZ[$n]} | ${AUTHZ[$n]} | ${REST[$n]} | ${HWM[$n]} | ≤ 256 | $(verdict "${HWM[$n]}" 256) | ${SPLIT[$n]} | ${d:-n/a} | ${e:-n/a} | ${NOTE[$n]:-} |"
    done
    for n in "${SKIPPED[@]}"; do echo "| $n | not started: too little memory left | | | | | **not met** | | | | |"; done
    pgh=(); for i in "${!NAMES[@]}"; do [ "${VAULTS[$i]}" = "$PG" ] && pgh+=("${HWM[${NAMES[$i]}]}"); done
    m=$(maxof "${pgh[@]}")
    goal "serve peak RSS ≤ 256 MiB, PostgreSQL (worst of ${#pgh[@]} replicas${SKIPPED:+, ${#SKIPPED[@]} not started})" "$m MiB" "$(verdict "$m" 256)"
    goal "serve peak RSS ≤ 256 MiB, SQLite" "${HWM[sqlite]:-n/a} MiB" "$(verdict "${HWM[sqlite]:-n/a}" 256)"
    echo
    echo "Lowest MemAvailable during the load phases: $MEMLOW MiB."
    echo
    echo "What the replicas logged besides their request lines (count, the line without its timestamp"
    echo "cut at 160 characters, the timestamps of the first and the last):"
    echo
    echo '```'
    for n in "${NAMES[@]}"; do
        echo "$n:"
        { grep -v ' INFO request \| INFO listening \| INFO stopping\| INFO stopped ' "$TMP/serve-$n.log" || true; } \
            | awk '{ t = $1; $1 = ""; sub(/^ +/, ""); m = substr($0, 1, 160);
                     if (!(m in c)) { o[++k] = m; f[m] = t }; c[m]++; l[m] = t }
                   END { for (i = 1; i <= k; i++) printf "  %6d  %s  (%s .. %s)\n", c[o[i]], o[i], f[o[i]], l[o[i]] }' \
            | head -12
    done
    echo '```'
    echo
    echo "## 3 and 4. wrk against every replica at once, without and with writes"
    echo
    echo "wrk -t1 -c8 per replica, a Lua script presenting the seed's valid secrets in turn"
    echo "(\`Authorization: Bearer\` on GET /v1/authz) and counting answers by status. Every presented"
    echo "key is valid all along, so every answer but 200 is a failure: \"refused or 5xx\" counts them"
    echo "(401/403 are valid keys refused, 503 the vault called unavailable), socket errors and"
    echo "timeouts (5 s) apart. Baseline ${BASE_S} s without writes; loaded ${DURATION} s while, on each engine,"
    echo "a writer made $WRITES writes/s, \`keyward verify\` ran in a loop and the revocation probe ran."
    echo
    echo "| replica | baseline req/s | baseline p99 (ms) | loaded req/s | loaded p99 (ms) | p99 loaded / baseline | goal ≤ 1.2 | | refused or 5xx (base / loaded) | of which 503 | 401 / 403 | socket errors |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    TOTAL_BAD=0; TOTAL_503=0; RATIOS=()
    for n in "${NAMES[@]}"; do
        bad() { local s=0 f; for f in 4 5 6 7 8; do s=$(( s + $(field "$1" "$n" $f || echo 0) )); done; echo $s; }
        if [ -z "$(field base "$n" 1)" ] || [ -z "$(field loaded "$n" 1)" ]; then
            echo "| $n | wrk gave no figures (see NOTE) | | | | | | **not met** | | | | |"
            RATIOS+=("n/a")
            continue
        fi
        br=$(awk -v r="$(field base "$n" 1)" -v d="$(field base "$n" 14)" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
        lr=$(awk -v r="$(field loaded "$n" 1)" -v d="$(field loaded "$n" 14)" 'BEGIN {printf "%.0f", r / (d / 1e6)}')
        bp=$(awk -v v="$(field base "$n" 2)" 'BEGIN {printf "%.2f", v / 1000}')
        lp=$(awk -v v="$(field loaded "$n" 2)" 'BEGIN {printf "%.2f", v / 1000}')
        r=$(ratio "$lp" "$bp")
        bb=$(bad base); lb=$(bad loaded)
        b503="$(field base "$n" 6) / $(field loaded "$n" 6)"
        b4="$(( $(field base "$n" 4) + $(field loaded "$n" 4) )) / $(( $(field base "$n" 5) + $(field loaded "$n" 5) ))"
        se=0; for f in 9 10 11 12; do se=$(( se + $(field base "$n" $f) + $(field loaded "$n" $f) )); done
        TOTAL_BAD=$(( TOTAL_BAD + bb + lb )); TOTAL_503=$(( TOTAL_503 + $(field base "$n" 6) + $(field loaded "$n" 6) ))
        RATIOS+=("$r")
        echo "| $n | $br | $bp | $lr | $lp | $r | ≤ 1.2 | $(verdict "$r" 1.2) | $bb / $lb | $b503 | $b4 | $se |"
    done
    echo
    echo "Valid keys refused or 5xx, all replicas, both phases: **$TOTAL_BAD** (goal 0: $( [ "$TOTAL_BAD" = 0 ] && echo met || echo '**not met**' )), of which 503: $TOTAL_503."
    goal "valid keys refused or 5xx from wrk: 0 (all replicas, both phases)" "$TOTAL_BAD (503: $TOTAL_503)" "$( [ "$TOTAL_BAD" = 0 ] && echo met || echo '**not met**' )"
    m=$(maxof "${RATIOS[@]}")
    goal "p99 with writes ≤ 1.2× without (worst replica)" "$m×" "$(verdict "$m" 1.2)"
    echo
    echo "Writers and the verify loop (over the loaded phase; a write is started at every tick without waiting"
    echo "for the one before, never two at once on one key):"
    echo
    echo "| engine | writes | writes/s | failed | by kind | most in flight | \`keyward verify\` runs | runs/s | not valid (goal 0) | |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for v in PG SQ; do
        w=$TMP/writer-$v.json; c=$TMP/verify-$v.json
        eng=$([ $v = PG ] && echo PostgreSQL || echo SQLite)
        if [ -s "$w" ] && [ -s "$c" ]; then
            nv=$(jq .not_valid "$c")
            goal "\`keyward verify\` in a loop, $([ $v = PG ] && echo PostgreSQL || echo SQLite): valid keys not valid: 0" "$nv of $(jq .runs "$c")" "$( [ "$nv" = 0 ] && echo met || echo '**not met**')"
            echo "| $eng | $(jq .writes "$w") | $(jq .per_s "$w") | $(jq .failed "$w") | $(jq -r '.made | to_entries | map("\(.key) \(.value)") | join(", ")' "$w") | $(jq .most_in_flight "$w") | $(jq .runs "$c") | $(jq .per_s "$c") | $nv | $( [ "$nv" = 0 ] && echo met || echo '**not met**') |"
            jq -r '.errors[] | "  - writer error: " + .' "$w"
        else
            echo "| $eng | the writer or the verify loop printed nothing | | | | | | | | **not met** |"
        fi
    done
    echo
    echo "## Revocation to refusal"
    echo
    echo "The probe (bench/scale.py revocation), on each engine, as long as the loaded phase: create a"
    echo "key, wait until every replica allows it, \`keyward revoke\` it, and from the moment revoke"
    echo "exited poll every replica (a thread each, a keep-alive connection, 1 ms apart) until it"
    echo "refuses; the delay is taken when the refusing answer arrives."
    echo
    echo "| replica | trials | p50 (ms) | p99 (ms) | max (ms) | goal p99 ≤ 1000 | | first request after revoke allowed | never refused (30 s) | create → allowed p50 / max (ms) | answers not 200/401 |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    P99S=()
    for i in "${!NAMES[@]}"; do
        n=${NAMES[$i]}; p=${PORTS[$i]}
        v=$([ "${VAULTS[$i]}" = "$PG" ] && echo PG || echo SQ)
        [ -s "$TMP/revocation-$v.json" ] || { echo "| $n | the probe printed nothing | | | | | **not met** | | | | |"; continue; }
        p99=$(rev $v "$p" p99_ms)
        P99S+=("$p99")
        echo "| $n | $(rev $v "$p" n) | $(rev $v "$p" p50_ms) | $p99 | $(rev $v "$p" max_ms) | ≤ 1000 | $(verdict "$p99" 1000) | $(rev $v "$p" first_request_allowed) | $(rev $v "$p" never_refused) | $(rev $v "$p" accept_p50_ms) / $(rev $v "$p" accept_max_ms) | $(jq -c --arg p "$p" '.replicas[$p].odd_answers' "$TMP/revocation-$v.json") |"
    done
    for v in PG SQ; do
        [ -s "$TMP/revocation-$v.json" ] && [ "$(jq .failed_trials "$TMP/revocation-$v.json")" != 0 ] && \
            echo "" && echo "$v: $(jq .failed_trials "$TMP/revocation-$v.json") probe trials failed (create, revoke, or a replica never allowed the new key within 30 s)."
    done
    echo
    m=$(maxof "${P99S[@]}")
    goal "revocation to refusal p99 ≤ 1000 ms (worst replica)" "$m ms" "$(verdict "$m" 1000)"
    echo "## 5. The CLI at $SMALLN and at $BIGN keys"
    echo
    echo "hyperfine medians of $RUNS runs (ms), the replicas stopped, dirty pages written out (sync, CHECKPOINT)"
    echo "before the CLI and before rotate and revoke. \`show ID\`: the key of the first kept secret by id"
    echo "(\`--json show\` skips the text's warning about default keys ending, which reads the environment's keys);"
    echo "\`show NAME\`: \`show svc-1 --env env001\` (the newest of its $((KEYS / (ENVS * 3))) keys of"
    echo "that name at $BIGN). rotate: \`rotate rot --env bench-cli --grace 1h\`, each run rotating the key the"
    echo "run before made; revoke: \`revoke victim --env bench-cli --yes\` of a key made by --prepare."
    echo
    echo "| command | engine | $SMALLN keys | $BIGN keys | ratio | goal ≤ 1.2 | |"
    echo "| --- | --- | --- | --- | --- | --- | --- |"
    for c in verify show showjson showname log rotate revoke; do
        case $c in
            verify) label="verify (secret from --key-env)" ;;
            show) label="show ID" ;;
            showjson) label="--json show ID" ;;
            showname) label="show NAME --env" ;;
            log) label="log --limit 50" ;;
            rotate) label="rotate KEY --grace 1h" ;;
            revoke) label="revoke KEY --yes" ;;
        esac
        for engine in sqlite pg; do
            a=${CLI[$c-$engine-small]}; b=${CLI[$c-$engine-big]}
            r=$(ratio "$b" "$a")
            echo "| $label | $([ $engine = pg ] && echo PostgreSQL || echo SQLite) | $(fmt "$a") | $(fmt "$b") | $r | ≤ 1.2 | $(verdict "$r" 1.2) |"
            goal "CLI $label at $BIGN ≤ 1.2× at $SMALLN, $([ $engine = pg ] && echo PostgreSQL || echo SQLite)" "$r×" "$(verdict "$r" 1.2)"
        done
    done
    echo
    echo "\`list --env env001\` (keys listed: $SMALLN vault ${LISTROWS[sqlite-small]}, $BIGN vault ${LISTROWS[sqlite-big]}):"
    echo "median of $LIST_RUNS runs and peak RSS (/usr/bin/time -v). It must stream: peak RSS at $BIGN"
    echo "within 1.2× of that at $SMALLN (plus 8 MiB of slack); time grows with the rows, so µs per row is shown."
    echo
    echo "| output | engine | $SMALLN: ms | $BIGN: ms | µs per row at $BIGN | $SMALLN: peak RSS (MiB) | $BIGN: peak RSS (MiB) | goal | |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    for o in text json; do
        for engine in sqlite pg; do
            if [ $o = json ]; then kk=json-$engine; else kk=$engine; fi
            a=${LISTRSS[$kk-small]}; b=${LISTRSS[$kk-big]}
            lim=$(awk -v a="$a" 'BEGIN {printf "%.1f", a * 1.2 + 8}')
            per=$(awk -v t="${LISTMS[$kk-big]}" -v n="${LISTROWS[$engine-big]}" 'BEGIN { if (n > 0) printf "%.1f", t * 1000 / n; else print "n/a" }')
            echo "| $([ $o = json ] && echo '--json' || echo text) | $([ $engine = pg ] && echo PostgreSQL || echo SQLite) | $(fmt "${LISTMS[$kk-small]}") | $(fmt "${LISTMS[$kk-big]}") | $per | $a | $b | ≤ $lim | $(verdict "$b" "$lim") |"
            goal "$([ $o = json ] && echo '--json ')list --env streams, $([ $engine = pg ] && echo PostgreSQL || echo SQLite): peak RSS at $BIGN ≤ 1.2× at $SMALLN + 8 MiB" "$b MiB (vs $a)" "$(verdict "$b" "$lim")"
        done
    done
    echo
    echo "The vaults' chains after the run (\`log --verify\`): $CHAIN."
} >"$TMP/body.md"
{
    cat "$TMP/head.md"
    echo
    echo "## Goals"
    echo
    echo "| goal | measured | |"
    echo "| --- | --- | --- |"
    printf '%s\n' "${SUMMARY[@]}"
    echo
    cat "$TMP/body.md"
} >"$OUT"
log "wrote $OUT"
cat "$OUT"
