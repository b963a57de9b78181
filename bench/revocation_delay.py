#!/usr/bin/env python3
"""Revocation-to-refusal delay of a running `keyward serve`.

For each trial: create a key, wait until serve accepts it, revoke it with
the CLI, and from the moment `keyward revoke` has exited (its commit is
done) ask serve again and again until it refuses. Prints one JSON object:
how many first requests after a commit were still allowed, and the delay's
median, p99 and maximum in milliseconds.

    bench/revocation_delay.py KEYWARD VAULT PORT TRIALS
"""
import http.client
import json
import statistics
import subprocess
import sys
import time

kw, vault, port, trials = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = http.client.HTTPConnection("127.0.0.1", port)


def status(secret):
    conn.request("GET", "/v1/authz", headers={"Authorization": "Bearer " + secret})
    r = conn.getresponse()
    r.read()
    return r.status


def keyward(*args):
    return subprocess.run([kw, "--vault", vault, *args], capture_output=True, text=True, check=True).stdout


# The environment's first key is its default key, which cannot be revoked.
subprocess.run([kw, "--vault", vault, "create", "--name", "keeper", "--env", "revocation"],
               capture_output=True, check=False)
delays, stale_first = [], 0
for t in range(trials):
    name = f"revoke-{t}-{time.time_ns()}"
    secret = keyward("create", "--name", name, "--env", "revocation").strip()
    started = time.monotonic()
    while status(secret) != 200:
        if time.monotonic() - started > 10:
            sys.exit("serve never accepted a new key")
    keyward("revoke", name, "--env", "revocation", "--yes")
    committed = time.monotonic()
    answer = status(secret)
    if answer == 200:
        stale_first += 1
    while answer == 200:
        answer = status(secret)
    delays.append((time.monotonic() - committed) * 1000)

delays.sort()
print(json.dumps({
    "trials": trials,
    "first_request_allowed": stale_first,
    "p50_ms": round(statistics.median(delays), 2),
    "p99_ms": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 2),
    "max_ms": round(delays[-1], 2),
}))
