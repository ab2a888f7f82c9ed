#!/usr/bin/env python3
"""Benchmark ``ndrkb serve`` (issue 13) on loopback only.

Starts ``ndrkb serve`` on 127.0.0.1 (a free port) in a child process, then
  * warm answer time: after a warm-up, ``--rounds`` sequential POSTs of a pasted NDR to the page
    (``/``) and to ``/api/diagnose``; prints the median and 95th percentile as seen by the client
    on loopback (goal: median < 100 ms; the server-side time is below this);
  * load: ``--concurrent`` requests at once (page and API alternating, pasted NDRs from the
    corpus), ``--waves`` times; every answer must be 200 and complete (checked against the
    answer of the same input alone), or the run fails.
Every loop is bounded; the server is stopped at the end.

Usage: python bench/bench_serve.py [--rounds N] [--concurrent N] [--waves N]
"""
from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
NDR = (REPO / "corpus" / "exchange" / "pasted-5.7.1-01.txt").read_bytes()
LINES = [p.read_bytes() for p in sorted((REPO / "corpus" / "exo-sender-auth").glob("line-*.txt"))] + [NDR]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", "from ndrkb.cli import main; main()", "serve",
                             "--host", "127.0.0.1", "--port", str(port)], stderr=subprocess.DEVNULL)
    for _ in range(300):  # at most 30 s
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def post(client: httpx.Client, path: str, data: bytes) -> httpx.Response:
    if path == "/":
        return client.post(path, files={"text": (None, data)})
    return client.post(path, content=data)


def warm(url: str, rounds: int) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for path in ("/", "/api/diagnose"):
            for _ in range(20):
                post(client, path, NDR)
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                res = post(client, path, NDR)
                times.append((time.perf_counter() - started) * 1000)
                assert res.status_code == 200, res.status_code
            times.sort()
            print(f"POST {path:14} pasted NDR ({len(NDR)} bytes), warm, {rounds} requests: median "
                  f"{statistics.median(times):.1f} ms, p95 {times[int(0.95 * len(times)) - 1]:.1f} ms "
                  f"(client on loopback; goal < 100 ms)")


async def load(url: str, concurrent: int, waves: int) -> bool:
    limits = httpx.Limits(max_connections=concurrent, max_keepalive_connections=concurrent)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def one(n: int) -> tuple[int, str, bytes]:
            data, path = LINES[n % len(LINES)], ("/", "/api/diagnose")[n % 2]
            if path == "/":
                res = await client.post(path, files={"text": (None, data)})
            else:
                res = await client.post(path, content=data)
            return res.status_code, path, res.content

        expected = {}
        for n in range(2 * len(LINES)):  # the answer of each input alone
            expected[n] = (await one(n))[2]
        ok = True
        for wave in range(waves):
            started = time.perf_counter()
            results = await asyncio.gather(*(one(n) for n in range(concurrent)), return_exceptions=True)
            seconds = time.perf_counter() - started
            errors = [r for r in results if isinstance(r, BaseException)]
            bad = [r for r in results if not isinstance(r, BaseException) and r[0] != 200]
            lost = [n for n, r in enumerate(results) if not isinstance(r, BaseException) and r[0] == 200
                    and r[2] != expected[n % (2 * len(LINES))]]
            ok &= not (errors or bad or lost)
            print(f"wave {wave + 1}: {concurrent} concurrent requests in {seconds:.2f} s: "
                  f"{len(results) - len(errors) - len(bad) - len(lost)} complete and identical to the answer alone, "
                  f"{len(errors)} transport errors, {len(bad)} non-200, {len(lost)} incomplete or different")
        return ok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--concurrent", type=int, default=200)
    ap.add_argument("--waves", type=int, default=3)
    args = ap.parse_args()
    port = free_port()
    proc = start(port)
    try:
        url = f"http://127.0.0.1:{port}"
        warm(url, args.rounds)
        ok = asyncio.run(load(url, args.concurrent, args.waves))
    finally:
        proc.terminate()
        proc.wait(10)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
