#!/usr/bin/env python3
"""Regenerate the hostile inputs of issue 16 and measure each: seconds and peak memory of
one diagnosis (in a fresh process), and the parent's peak memory in a batch run with 1
and 2 workers.

usage: python bench/attacks.py [--only NAME ...] [--no-batch]

A message must take under 2 s and 500 MB (the bound the README promises), and the
parent's memory must not grow with the number of workers.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HEAD = (b"From: MAILER-DAEMON@example.net\nTo: s@example.org\nSubject: Undelivered\nMIME-Version: 1.0\n")
DSN = (b"Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: text/plain\n\n"
       b"failed\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\n"
       b"Final-Recipient: rfc822; u@example.com\nAction: failed\nStatus: 5.1.1\n\n--B--\n")


def attacks() -> dict[str, bytes]:
    """Name -> message bytes, each built to make one standard-library call or reader slow."""
    return {
        "encoded-word subject 128 KB": HEAD.replace(b"Subject: Undelivered", b"Subject: " + b"=?a?q?x " * 16384) + DSN,
        "content-type params 1 MB": HEAD + b"Content-Type: text/plain" + b"; a=b" * 200_000 + b"\n\n550 5.1.1 x\n",
        "rfc2231 continuations 200k": HEAD + b"Content-Type: text/plain" +
        b"".join(b"; charset*%d*=x" % i for i in range(200_000)) + b"\n\n550 5.1.1 x\n",
        "punycode body 400 KB": HEAD + b"Content-Type: text/plain; charset=punycode\n\n" + b"a-" * 200_000,
        "boundary 7 MB": HEAD + b"Content-Type: multipart/report; boundary=" + b"b" * 7_000_000 + b"\n\nx\n",
        "2.7 M header lines": b"From: a@b\nTo: c@d\n" + b"X:\n" * 2_700_000 + b"\n550 5.1.1 x\n",
        "X-Failed-Recipients 7 MB": HEAD.replace(b"MIME", b"X-Failed-Recipients: " + b"a@b.c," * 1_160_000 + b"\nMIME")
        + DSN,
        "8 M short lines": HEAD + b"Content-Type: text/plain\n\n" + b"\n" * 8_000_000,
        "charset undefined": HEAD + b"Content-Type: text/plain; charset=undefined\n\n550 5.1.1 <u@example.com>: "
                                    b"user unknown\n",
    }


MEASURE = r"""
import resource, sys, time, ndrkb
ndrkb.default_diagnoser()
data = open(sys.argv[1], 'rb').read()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
d = ndrkb.diagnose(data)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, repr(d.error)[:80])
"""

PARENT = r"""
import resource, sys, ndrkb
n = sum(1 for _ in ndrkb.classify([sys.argv[1]], workers=int(sys.argv[2])))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, n)
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--no-batch", action="store_true")
    args = ap.parse_args(argv)
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in attacks().items():
            if args.only and not any(o in name for o in args.only):
                continue
            path = Path(tmp) / "m.eml"
            path.write_bytes(data)
            out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True,
                                 timeout=300)
            seconds, mb, error = out.stdout.split(" ", 2) if out.returncode == 0 else ("nan", "nan", out.stderr[-200:])
            worst = max(worst, float(seconds))
            print(json.dumps({"attack": name, "seconds": round(float(seconds), 2), "peak_mb": round(float(mb)),
                              "error": error.strip()}))
        if not args.no_batch:
            box = Path(tmp) / "big.mbox"
            with open(box, "wb") as fh:  # 40 messages of 8 MiB read from standard input
                for _ in range(40):
                    fh.write(b"From x Thu Nov 26 10:00:00 2026\n" + HEAD + b"Content-Type: text/plain\n\n" +
                             (b"y" * 1023 + b"\n") * 8192)
            for workers in (1, 2):
                for how in ("file", "stdin"):
                    cmd = [sys.executable, "-c", PARENT, str(box) if how == "file" else "-", str(workers)]
                    with open(box, "rb") as stdin:
                        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, stdin=stdin)
                    mb, n = out.stdout.split()
                    print(json.dumps({"parent": f"{how}, {workers} worker(s)", "peak_mb": round(float(mb)),
                                      "records": int(n)}))
    print(json.dumps({"worst_seconds": round(worst, 2)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
