#!/usr/bin/env python3
"""Benchmark the HTML corpus report (issue 13): 100,000 records written in under 10 s, and opened.

The records are those of the bundled corpus (``ndrkb classify corpus``), repeated with varied
recipient domains and sources until there are ``--records`` of them (errors included), written
to a temporary JSON Lines file. Reports
  * the wall time of ``ndrkb report RECORDS -o report.html`` (a fresh process; goal < 10 s)
    and the file's size;
  * the time headless Chromium (Debian's, via Playwright) takes to load the file and render
    every chart (non-empty SVG), when a browser is installed.

Usage: python bench/bench_report.py [--records N]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from ndrkb.cli import main; main()"]


def records(n: int, tmp: Path) -> Path:
    """A JSON Lines file of n records made from the corpus's own."""
    base = tmp / "corpus.jsonl"
    subprocess.run(CLI + ["classify", str(REPO / "corpus"), "-j", "1", "-o", str(base), "--quiet"], check=True)
    seed = [json.loads(line) for line in base.read_text().splitlines()]
    out = tmp / "records.jsonl"
    with open(out, "w") as fh:
        for i in range(n):
            rec = dict(seed[i % len(seed)])
            rec["source"] = f"{rec['source']}#{i // len(seed)}"
            if rec["recipient"]:
                rec["recipient"] = f"user{i % 97}@d{i % 1500}.{rec['recipient'].rsplit('@', 1)[1]}"
            fh.write(json.dumps(rec) + "\n")
    return out


def open_in_browser(report: Path) -> list[float]:
    """Seconds from navigation to every chart drawn, in headless Chromium: a first and a second opening."""
    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, FLAGS

    if CHROMIUM is None:
        raise RuntimeError("no Chromium installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        times = []
        for _ in range(2):
            page = browser.new_page()
            started = time.perf_counter()
            page.goto(report.as_uri())
            page.wait_for_function("document.querySelectorAll('.chart > svg path').length > 25")
            times.append(time.perf_counter() - started)
            rows = page.locator("#records tbody tr").count()
            page.close()
        browser.close()
    print(f"  table rows embedded: {rows:,}")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = records(args.records, Path(tmp))
        report = Path(tmp) / "report.html"
        started = time.perf_counter()
        subprocess.run(CLI + ["report", str(jsonl), "-o", str(report)], check=True, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        print(f"ndrkb report, {args.records:,} records ({jsonl.stat().st_size / 2**20:.1f} MiB of JSON Lines): "
              f"{seconds:.2f} s wall, process start included (goal < 10 s); "
              f"report {report.stat().st_size / 2**20:.1f} MiB")
        try:
            first, second = open_in_browser(report)
            print(f"opened in headless Chromium, every chart drawn: {first:.2f} s (first opening), "
                  f"{second:.2f} s (second)")
        except (ImportError, RuntimeError) as exc:
            print(f"not opened in a browser: {exc}")
        if seconds >= 10:
            sys.exit(1)


if __name__ == "__main__":
    main()
