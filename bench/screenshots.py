"""Make the README's screenshots: docs/serve.png (the page with a pasted 5.7.12 NDR and a
chosen recipient type) and docs/report.png (the report of the bundled corpus).

    python bench/screenshots.py          # needs the test extras and Debian's chromium
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.test_browser import CHROMIUM, FLAGS  # noqa: E402
from tests.webserver import serving  # noqa: E402

from ndrkb.web import create_app  # noqa: E402


def main() -> None:
    docs = REPO / "docs"
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.html"
        subprocess.run([sys.executable, "-c", "from ndrkb.cli import main; main()", "classify", str(REPO / "corpus"),
                        "-j", "1", "-o", str(Path(tmp) / "r.jsonl"), "--report", str(report)], check=True)
        with sync_playwright() as p, serving(create_app()) as url:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1200, "height": 1500})
            page.goto(url)
            page.fill("#text", (REPO / "corpus" / "exo-sender-auth" / "line-5.7.12-01.txt").read_text())
            page.click("#diagnose")
            page.select_option("#recipient_type", "m365_group")
            page.click("#narrow")
            page.wait_for_selector("#diagnosis")
            page.click("details.why summary")
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(docs / "serve.png"))
            page.set_viewport_size({"width": 1200, "height": 1700})
            page.goto(report.as_uri())
            page.wait_for_selector(".chart > svg")
            page.screenshot(path=str(docs / "report.png"))
            browser.close()
    print("wrote docs/serve.png and docs/report.png")


if __name__ == "__main__":
    main()
