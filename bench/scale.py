#!/usr/bin/env python3
"""Helpers of bench/scale.sh (not meant to be run alone).

    scale.py ready PORT SECRET TIMEOUT_S START_NS
        Polls a starting `keyward serve` until /readyz answers 200 and then
        until /v1/authz allows SECRET; prints `READYZ_MS AUTHZ_MS` counted
        from START_NS (the wall clock in ns just before serve was spawned).
    scale.py writer KEYWARD VAULT ENV RATE SECONDS POOL_FILE
        Starts a write RATE times a second for SECONDS (without waiting for
        the one before, at most 8 in flight, never two on one key), cycling
        rotate (--grace 1h), update (--note), extend (--expires), revoke,
        each on a key of POOL_FILE (ids, one a line: keys made for this,
        none whose secret a load generator presents). Prints JSON: writes
        made, failures, by kind, the most in flight at once.
    scale.py verify-loop KEYWARD VAULT SECRETS_FILE SECONDS
        `keyward verify` (the secret on stdin) again and again; prints JSON:
        runs, and runs that did not say valid.
    scale.py revocation KEYWARD VAULT ENV SECONDS PORT[,PORT...]
        Trials until SECONDS have passed: create a key, wait until every
        replica allows it, revoke it, then poll every replica (one thread
        each) until it refuses. Prints JSON per port: the delays from the
        moment `keyward revoke` exited to the refusing answer (ms), and the
        answers that were neither the expected 200/401.
"""
import http.client
import json
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


class Conn:
    """A keep-alive connection to one serve, reopened after an error."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path, secret=None):
        headers = {"Authorization": "Bearer " + secret} if secret else {}
        for attempt in (0, 1):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
                self.conn.request("GET", path, headers=headers)
                r = self.conn.getresponse()
                r.read()
                return r.status
            except (OSError, http.client.HTTPException):
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                if attempt:
                    return 0  # no answer
                time.sleep(0.01)
        return 0


def ready(port, secret, timeout, start_ns):
    start_ns = int(start_ns)
    since = lambda: (time.time_ns() - start_ns) / 1e6
    c = Conn(int(port))
    readyz = authz = None
    while since() < float(timeout) * 1000:
        if readyz is None:
            if c.get("/readyz") == 200:
                readyz = since()
                continue
        elif c.get("/v1/authz", secret) == 200:
            authz = since()
            break
        time.sleep(0.005)
    if authz is None:
        sys.exit(f"serve on port {port} not ready within {timeout}s (readyz: {readyz})")
    print(f"{readyz:.0f} {authz:.0f}")


def run(kw, vault, *args):
    return subprocess.run([kw, "--vault", vault, *args], capture_output=True, text=True)


def writer(kw, vault, env, rate, seconds, pool_file):
    rate, seconds = float(rate), float(seconds)
    pool = [l.strip() for l in open(pool_file) if l.strip()]
    rng = random.Random(20)
    kinds = ["rotate", "update", "extend", "revoke"]
    made = {k: 0 for k in kinds}
    failed = {k: 0 for k in kinds}
    errors = []
    # A write starts at each tick without waiting for the one before (a
    # process takes longer than a tick on a loaded machine), on a key no
    # write in flight holds, at most MAX_IN_FLIGHT at once.
    MAX_IN_FLIGHT = 8
    inflight = {}  # Popen -> (kind, key)
    most = late = 0

    def reap(block=False):
        for p in list(inflight):
            if not block and p.poll() is None:
                continue
            out, err = p.communicate()
            kind, key = inflight.pop(p)
            made[kind] += 1
            if p.returncode != 0:
                failed[kind] += 1
                if len(errors) < 5:
                    errors.append(f"{kind}: exit {p.returncode}: {err.strip()[:200]}")
            elif kind == "rotate":
                pool[pool.index(key)] = json.loads(out)["key"]["id"]
            elif kind == "revoke":
                pool.remove(key)

    started = time.monotonic()
    n = 0
    while True:
        reap()
        due = started + n / rate
        now = time.monotonic()
        if due - started >= seconds:
            break
        if due > now:
            time.sleep(min(due - now, 0.005))
            continue
        busy = {key for _, key in inflight.values()}
        free = [k for k in pool if k not in busy]
        if len(inflight) >= MAX_IN_FLIGHT or not free:
            if not pool and not inflight:
                break
            time.sleep(0.002)
            continue
        if now - due > 0.1:
            late += 1
        kind = kinds[n % len(kinds)]
        n += 1
        key = rng.choice(free)
        if kind == "rotate":
            args = ["--json", "rotate", key, "--grace", "1h"]
        elif kind == "update":
            args = ["update", key, "--note", f"bench note {n}"]
        elif kind == "extend":
            args = ["extend", key, "--expires", f"{30 + n % 300}d"]
        else:
            args = ["revoke", key, "--yes", "--reason", "bench"]
        p = subprocess.Popen([kw, "--vault", vault, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        inflight[p] = (kind, key)
        most = max(most, len(inflight))
    elapsed = time.monotonic() - started
    reap(block=True)
    total = sum(made.values())
    print(json.dumps({"writes": total, "per_s": round(total / elapsed, 2),
                      "failed": sum(failed.values()), "made": made, "failed_by_kind": failed,
                      "errors": errors, "pool_left": len(pool), "most_in_flight": most,
                      "started_over_100ms_late": late}))


def verify_loop(kw, vault, secrets_file, seconds):
    secrets = [l.strip() for l in open(secrets_file) if l.strip()]
    started = time.monotonic()
    runs = refused = 0
    codes = {}
    while time.monotonic() - started < float(seconds):
        secret = secrets[runs % len(secrets)]
        r = subprocess.run([kw, "--vault", vault, "verify"], input=secret + "\n",
                           capture_output=True, text=True)
        runs += 1
        if r.returncode != 0:
            refused += 1
            codes[r.returncode] = codes.get(r.returncode, 0) + 1
    elapsed = time.monotonic() - started
    print(json.dumps({"runs": runs, "per_s": round(runs / elapsed, 2), "not_valid": refused,
                      "exit_codes": codes}))


def revocation(kw, vault, env, seconds, ports):
    ports = [int(p) for p in ports.split(",")]
    local = threading.local()

    def conn(port):
        if not hasattr(local, "conns"):
            local.conns = {}
        if port not in local.conns:
            local.conns[port] = Conn(port)
        return local.conns[port]

    limit = 30.0
    delays = {p: [] for p in ports}
    accept = {p: [] for p in ports}
    odd = {p: {} for p in ports}  # answers other than 200 before / 401 after the revoke
    first_allowed = {p: 0 for p in ports}
    never = {p: 0 for p in ports}

    def wait_accept(port, secret, created):
        c = conn(port)
        while True:
            s = c.get("/v1/authz", secret)
            if s == 200:
                accept[port].append((time.monotonic() - created) * 1000)
                return True
            if s != 401:
                odd[port][str(s)] = odd[port].get(str(s), 0) + 1
            if time.monotonic() - created > limit:
                return False
            time.sleep(0.001)

    def wait_refuse(port, secret, committed):
        c = conn(port)
        first = True
        while True:
            s = c.get("/v1/authz", secret)
            if s != 200:
                delays[port].append((time.monotonic() - committed) * 1000)
                if s != 401:
                    odd[port][str(s)] = odd[port].get(str(s), 0) + 1
                return
            if first:
                first_allowed[port] += 1
                first = False
            if time.monotonic() - committed > limit:
                never[port] += 1
                delays[port].append(float("inf"))
                return
            time.sleep(0.001)

    # The environment's first key is its default key, which cannot be revoked.
    run(kw, vault, "create", "--name", "keeper", "--env", env)
    started = time.monotonic()
    trials = failed = 0
    with ThreadPoolExecutor(max_workers=len(ports)) as pool:
        while time.monotonic() - started < float(seconds):
            name = f"probe-{trials}-{time.time_ns()}"
            r = run(kw, vault, "create", "--name", name, "--env", env)
            if r.returncode != 0:
                failed += 1
                time.sleep(0.1)
                continue
            secret = r.stdout.strip()
            created = time.monotonic()
            if not all(pool.map(lambda p: wait_accept(p, secret, created), ports)):
                failed += 1
                continue
            r = run(kw, vault, "revoke", name, "--env", env, "--yes")
            committed = time.monotonic()
            if r.returncode != 0:
                failed += 1
                continue
            list(pool.map(lambda p: wait_refuse(p, secret, committed), ports))
            trials += 1

    def pct(v, q):
        v = sorted(v)
        return v[min(len(v) - 1, int(len(v) * q))] if v else None

    def ms(x):
        return None if x is None else ("inf" if x == float("inf") else round(x, 1))

    out = {"trials": trials, "failed_trials": failed, "replicas": {}}
    for p in ports:
        d = delays[p]
        out["replicas"][str(p)] = {
            "n": len(d), "p50_ms": ms(pct(d, 0.5)), "p99_ms": ms(pct(d, 0.99)),
            "max_ms": ms(max(d) if d else None), "first_request_allowed": first_allowed[p],
            "never_refused": never[p], "accept_p50_ms": ms(pct(accept[p], 0.5)),
            "accept_max_ms": ms(max(accept[p]) if accept[p] else None), "odd_answers": odd[p]}
    print(json.dumps(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"ready": ready, "writer": writer, "verify-loop": verify_loop,
     "revocation": revocation}[cmd](*args)
