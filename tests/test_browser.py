"""In a real browser: headless Chromium (Debian's /usr/bin/chromium) driven by Playwright.

The tests start the browser and an ``ndrkb serve`` application themselves. They are skipped,
with the reason, only where no Chromium is installed (``apt-get install chromium``; CI's
``.ci/run`` installs it). ``NDRKB_CHROMIUM`` names another Chromium binary.
"""
from __future__ import annotations

import os
import shutil

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install '.[web]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")

from ndrkb.cli import main  # noqa: E402
from ndrkb.web import create_app  # noqa: E402

from .conftest import CORPUS  # noqa: E402
from .webserver import serving  # noqa: E402

CHROMIUM = os.environ.get("NDRKB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
#: Chromium flags for a closed network and a root user (see docs: no sandbox as root, no background calls).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
GROUP = (CORPUS / "exo-sender-auth" / "line-5.7.133-01.txt").read_text()
ORG = "550 5.7.12 Sender was not authenticated by organization"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium browser installed (apt-get install chromium)")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        # Playwright gives each launch a fresh, empty profile (--user-data-dir) of its own
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


@pytest.fixture(scope="module")
def url(diagnoser):
    with serving(create_app(diagnoser)) as base:
        yield base


def diagnose(page, url, text):
    page.goto(url)
    page.fill("#text", text)
    page.click("#diagnose")
    page.wait_for_selector("#diagnosis")


def test_a_pasted_5_7_133_ndr(page, url):
    diagnose(page, url, GROUP)
    assert page.inner_text(".role") == "the recipient's email admin"
    assert "RequireSenderAuthenticationEnabled" in page.inner_text("#diagnosis")
    assert not page.is_visible("text=exo-sender-auth/group-by-token")  # the trace is folded
    page.click("details.why summary")
    assert page.is_visible("text=exo-sender-auth/group-by-token")


def test_an_uploaded_eml(page, url):
    page.goto(url)
    page.set_input_files("#file", str(CORPUS / "exo-sender-auth" / "exo-modern-5.7.133-01.eml"))
    page.click("#diagnose")
    page.wait_for_selector("#diagnosis")
    assert "exo-modern-5.7.133-01.eml" in page.inner_text("#diagnosis")
    assert page.inner_text(".role") == "the recipient's email admin"


def test_choosing_a_recipient_type_narrows_the_remediation(page, url):
    diagnose(page, url, ORG)
    before = page.locator("ol.remediation > li").count()
    assert page.is_visible("#consult") and "What kind of recipient is it?" in page.inner_text("#consult")
    page.select_option("#recipient_type", "mail_user")
    page.click("#narrow")
    page.wait_for_selector("#diagnosis")
    types = page.locator("ol.remediation > li").evaluate_all("els => els.map(e => e.dataset.types)")
    assert 0 < len(types) < before and set(types) - {""} == {"mail_user"}  # "": a fix for any type
    assert "Set-MailUser" in page.inner_text("#diagnosis") and "Set-UnifiedGroup" not in page.inner_text("#diagnosis")
    assert page.input_value("#recipient_type") == "mail_user"


def test_a_script_inside_a_bounce_is_shown_escaped_and_never_runs(page, url):
    ran = []
    page.on("dialog", lambda d: (ran.append(d.message), d.dismiss()))
    diagnose(page, url, "550 5.1.1 <script>alert('x')</script><img src=x onerror=alert('y')> no such user")
    page.wait_for_timeout(300)
    assert ran == []
    assert "<script>alert('x')</script>" in page.input_value("#text")
    assert page.locator("#diagnosis script, #diagnosis img").count() == 0
    assert "<img src=x onerror=alert('y')>" in page.inner_text("#diagnosis")


def test_the_report_of_the_bundled_corpus_renders_its_charts(page, tmp_path):
    from click.testing import CliRunner

    out = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["classify", str(CORPUS), "-j", "1", "-o", str(tmp_path / "r.jsonl"),
                                    "--report", str(out)])
    assert res.exit_code == 0, res.output
    page.route("**/*", lambda route: route.abort() if not route.request.url.startswith("file:") else route.continue_())
    page.goto(out.as_uri())
    charts = page.locator(".chart > svg")
    assert charts.count() == 5
    for n in range(charts.count()):
        assert charts.nth(n).locator("path").count() > 5  # bars, axes, ticks
        box = charts.nth(n).bounding_box()
        assert box["width"] > 300 and box["height"] > 100
    rows = page.locator("#records tbody tr")
    total = rows.count()
    page.fill("#filter", "recipient_admin 5.7.133")
    visible = page.locator("#records tbody tr:visible").count()
    assert 0 < visible < total
    assert "not-bounces" in page.inner_text("#error-list")
