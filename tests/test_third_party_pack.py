"""A third-party pack installed as its own Python package (entry point ``ndrkb.packs``) in a fresh venv.

One virtual environment (~10-30 s): ndrkb built from a copy of this repository and the
pack package are installed into it; ndrkb's dependencies (experta, lark, pydantic, click)
come from the environment running the tests, whether that is a virtualenv or not, and
the venv's own ndrkb comes first.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PACK_TOML = """\
[pack]
id = "mygateway"
title = "MyGateway: partner quota exceeded (5.2.950)"
version = "1.2.0"
requires = ">=0.1,<2"
codes = ["5.2.950"]

[[rule]]
id = "partner-quota"
description = "5.2.950 from MyGateway: the sending partner used up its daily quota"
salience = 80
reference = "https://mygateway.example/docs/errors/5.2.950"
when.status = ["5.2.950"]
then = { reason = "exceedlimit", role = "sender_admin", cause = "partner-quota" }

[cause.partner-quota]
summary = "MyGateway limits how much each partner domain may send per day, and your domain reached its limit."
sender = "Send again tomorrow, or ask your email admin to raise the partner quota."
admin = "Ask the recipient's MyGateway admin to raise your domain's partner quota."
remediation = ["raise-quota"]

[remediation.raise-quota]
title = "Ask for a higher MyGateway partner quota"
actor = "sender_admin"
steps = ["Write to the recipient's mail team with your sending domain and the bounce."]

[[example]]
file = "examples/quota.eml"
expect = { status = "5.2.950", reason = "exceedlimit", role = "sender_admin", cause = "partner-quota", rules = ["mygateway/partner-quota"] }
"""

BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@gw.mygateway.example>
To: alice@example.com
Subject: Undelivered Mail Returned to Sender
Date: Tue, 02 Jan 2024 09:00:00 +0000
Message-ID: <quota-test@gw.mygateway.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain; charset=us-ascii

Your message to bob@partner.example was refused: partner quota exceeded.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; gw.mygateway.example

Final-Recipient: rfc822; bob@partner.example
Action: failed
Status: 5.2.950
Diagnostic-Code: smtp; 552 5.2.950 partner daily quota exceeded

--b1--
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "mypack-ndrkb"
version = "1.2.0"

[project.entry-points."ndrkb.packs"]
mypack = "mypack_ndr"

[tool.setuptools]
packages = ["mypack_ndr"]

[tool.setuptools.package-data]
mypack_ndr = ["*/pack.toml", "*/examples/*"]
"""


def _run(*args: object, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_installed_third_party_pack_is_found_used_and_explained(tmp_path):
    src = tmp_path / "ndrkb-src"
    src.mkdir()
    for name in ("engine", "grammar", "kb"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)

    project = tmp_path / "mypack"
    pack = project / "mypack_ndr" / "mygateway"
    (pack / "examples").mkdir(parents=True)
    (project / "pyproject.toml").write_text(PYPROJECT)
    marker = tmp_path / "pack-code-ran"
    # Code in the pack's package must never run: ndrkb only locates the package.
    (project / "mypack_ndr" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    (pack / "pack.toml").write_text(PACK_TOML)
    (pack / "examples" / "quota.eml").write_text(BOUNCE)
    bounce = tmp_path / "quota.eml"
    bounce.write_text(BOUNCE)

    venv = tmp_path / "venv"
    env = {k: v for k, v in os.environ.items() if k not in ("NDRKB_PACKS", "PYTHONPATH", "VIRTUAL_ENV")}
    base = getattr(sys, "_base_executable", sys.executable)
    created = _run(base, "-m", "venv", venv, cwd=tmp_path, env=env)
    assert created.returncode == 0, created.stderr
    python, ndrkb = venv / "bin" / "python", venv / "bin" / "ndrkb"
    # ndrkb's dependencies come from the environment running this test (a virtualenv or not),
    # after the new venv's own packages: its site-packages folders, as plain path entries.
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path, env=env)
    outer = [p for p in sys.path if p.endswith("site-packages")]
    (Path(purelib.stdout.strip()) / "outer-dependencies.pth").write_text("\n".join(outer) + "\n")
    installed = _run(python, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", src, project,
                     cwd=tmp_path, env=env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    where = _run(python, "-c", "import ndrkb; print(ndrkb.__file__)", cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr

    listed = _run(ndrkb, "packs", "list", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "mygateway 1.2.0  [knowledge, diagnose]  1 rules  (entry point mypack of mypack-ndrkb)" in listed.stdout

    report = _run(ndrkb, "diagnose", bounce, cwd=tmp_path, env=env)
    assert report.returncode == 0, report.stderr
    assert "reason exceedlimit" in report.stdout
    assert "who must act: the sender's email admin" in report.stdout
    assert "MyGateway limits how much each partner domain may send per day" in report.stdout
    assert "1. Ask for a higher MyGateway partner quota" in report.stdout

    trace = _run(ndrkb, "explain", bounce, cwd=tmp_path, env=env)
    assert "[diagnose] mygateway/partner-quota  (pack mygateway, salience 380)" in trace.stdout
    assert "source:    https://mygateway.example/docs/errors/5.2.950" in trace.stdout

    tested = _run(ndrkb, "packs", "test", "mygateway", cwd=tmp_path, env=env)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "PASS  mygateway  examples/quota.eml" in tested.stdout

    other = tmp_path / "other.txt"
    other.write_text("550 5.2.2 mailbox full\n")
    untouched = _run(ndrkb, "explain", other, cwd=tmp_path, env=env)
    assert untouched.returncode == 0 and "mygateway" not in untouched.stdout  # a code it does not declare
    assert not marker.exists(), "the pack's package was imported"
