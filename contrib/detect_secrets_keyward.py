"""keyward secrets for Yelp's detect-secrets.

    detect-secrets scan --plugin contrib/detect_secrets_keyward.py PATH

finds secrets shaped like keyward's (`PREFIX_` + 32 random base62
characters + a 6-character base62 CRC32 of them; PREFIX is 1-16 characters,
`[a-z][a-z0-9_]*`, `kw` unless the vault was told otherwise) and reports
only those whose checksum holds, so random strings of the same shape are
not reported. detect-secrets keeps only a hash of each secret in its
baseline; to end the keys it found, run this file as a script on the same
paths, which prints each secret found once, one per line:

    python3 contrib/detect_secrets_keyward.py PATH... | keyward revoke --leaked --yes
"""

import re
import sys
import zlib

from detect_secrets.plugins.base import RegexBasedDetector

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# A prefix, `_`, 38 base62 characters, with nothing alphanumeric (or `_`)
# on either side.
PATTERN = re.compile(r"(?<![0-9A-Za-z_])([a-z][a-z0-9_]{0,15}_[0-9A-Za-z]{38})(?![0-9A-Za-z_])")


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


def main(paths):
    seen = set()
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError as e:
            print(f"detect_secrets_keyward: cannot read {path}: {e.strerror}", file=sys.stderr)
            continue
        for secret in find(text):
            if secret not in seen:
                seen.add(secret)
                print(secret)


if __name__ == "__main__":
    main(sys.argv[1:])
