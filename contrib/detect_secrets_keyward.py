"""keyward secrets for Yelp's detect-secrets.

    detect-secrets scan --plugin contrib/detect_secrets_keyward.py PATH

finds secrets shaped like keyward's (`PREFIX_` + 32 random base62
characters + a 6-character base62 CRC32 of them; PREFIX is 1-16 characters,
`[a-z][a-z0-9_]*`, `kw` unless the vault was told otherwise) and reports
only those whose checksum holds, so random strings of the same shape are
not reported. detect-secrets keeps only a hash of each secret in its
baseline; to end the keys it found, run this file as a script on the same
paths (files or directories), which prints each secret found once, one
per line, and exits 1 if a path could not be read:

    python3 contrib/detect_secrets_keyward.py PATH... | keyward revoke --leaked --yes

The script reads every file; `detect-secrets scan` skips some lines and
files by its own heuristics (e.g. `api_key="kw_…"` passed as an argument,
lock files, files that are not UTF-8).
"""

import os
import re
import sys
import zlib

from detect_secrets.plugins.base import RegexBasedDetector

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# A prefix, `_`, 38 base62 characters, with no letter or digit on either
# side (an `_` may be: `STRIPE_kw_…`, `_kw_…_` in Markdown). Where lowercase
# text runs into the prefix (`token_kw_…`), the whole run is reported; the
# checksum does not cover the prefix, and `keyward revoke --leaked` tries
# each shorter prefix after an `_`.
PATTERN = re.compile(r"(?<![0-9A-Za-z])([a-z][a-z0-9_]{0,15}_[0-9A-Za-z]{38})(?![0-9A-Za-z])")


def checksum(random):
    """The CRC32 of the random part as 6 base62 digits, most significant first."""
    n = zlib.crc32(random.encode("ascii")) & 0xFFFFFFFF
    digits = []
    for _ in range(6):
        digits.append(BASE62[n % 62])
        n //= 62
    return "".join(reversed(digits))


def is_keyward_secret(candidate):
    prefix, _, body = candidate.rpartition("_")
    if not (1 <= len(prefix) <= 16 and re.fullmatch(r"[a-z][a-z0-9_]*", prefix)):
        return False
    if len(body) != 38:
        return False
    return checksum(body[:32]) == body[32:]


def find(text):
    """Every keyward secret in `text` whose checksum holds."""
    return [m for m in PATTERN.findall(text) if is_keyward_secret(m)]


class KeywardDetector(RegexBasedDetector):
    """keyward API keys, checked by their CRC32."""

    secret_type = "keyward API key"
    denylist = [PATTERN]

    def analyze_string(self, string):
        for match in super().analyze_string(string):
            if is_keyward_secret(match):
                yield match


def files(path):
    """`path`, or every file below it when it is a directory."""
    if os.path.isdir(path):
        for root, dirs, names in os.walk(path):
            dirs.sort()
            for name in sorted(names):
                yield os.path.join(root, name)
    else:
        yield path


def main(paths):
    """Prints each secret found once; exit 1 if a path could not be read
    (a scan that silently skipped a file would look like a clean one)."""
    if not paths:
        print("usage: detect_secrets_keyward.py PATH...", file=sys.stderr)
        return 2
    seen = set()
    failed = False
    for path in paths:
        if not os.path.exists(path):
            print(f"detect_secrets_keyward: {path}: no such file or directory", file=sys.stderr)
            failed = True
            continue
        for name in files(path):
            try:
                with open(name, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                print(f"detect_secrets_keyward: cannot read {name}: {e.strerror}", file=sys.stderr)
                failed = True
                continue
            for secret in find(text):
                if secret not in seen:
                    seen.add(secret)
                    print(secret)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
