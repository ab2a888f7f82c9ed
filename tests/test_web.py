"""The web application, served by uvicorn on loopback: page, consultation, JSON endpoint, bounds."""
from __future__ import annotations

import json
import os
import tempfile
import threading
import time

import pytest

pytest.importorskip("starlette", reason="the web extra is not installed (pip install '.[web]')")
import httpx  # noqa: E402

from ndrkb.intake.message import from_bytes  # noqa: E402
from ndrkb.limits import MAX_MESSAGE_BYTES  # noqa: E402
from ndrkb.web import app as web_app  # noqa: E402
from ndrkb.web import create_app  # noqa: E402

from .conftest import CORPUS  # noqa: E402
from .webserver import serving  # noqa: E402

GROUP = (CORPUS / "exo-sender-auth" / "line-5.7.133-01.txt").read_text()
ORG = "550 5.7.12 Sender was not authenticated by organization"


@pytest.fixture(scope="module")
def client(diagnoser):
    with serving(create_app(diagnoser)) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def post(client, **fields):
    return client.post("/", files={k: (None, v) if k != "file" else v for k, v in fields.items()})


def test_the_page_has_the_form_and_forbids_scripts(client):
    res = client.get("/")
    assert res.status_code == 200 and 'name="text"' in res.text and 'type="file"' in res.text
    assert "default-src 'none'" in res.headers["content-security-policy"]
    assert "<script" not in res.text
    assert client.get("/static/style.css").status_code == 200


def test_an_inferred_status_is_marked_on_the_page(client, diagnoser):
    line = "451 Greylisted, try again later"
    status = diagnoser.diagnose(line).recipients[0].status
    assert f"<td>{status} (inferred)</td>" in post(client, text=line).text
    assert "<td>4.7.1</td>" in post(client, text="451 4.7.1 Greylisted, try again later").text


def test_a_pasted_5_7_133_says_who_must_act_and_how(client):
    res = post(client, text=GROUP)
    assert res.status_code == 200
    assert "recipient&#39;s email admin" in res.text
    assert "RequireSenderAuthenticationEnabled" in res.text
    assert "exo-sender-auth/group-by-token" in res.text and "<details" in res.text
    assert "https://learn.microsoft.com/" in res.text
    assert "Check first (read-only)" in res.text and "PS&gt; Get-DistributionGroup -Identity" in res.text
    assert "Affects: Every sender on the internet" in res.text


def test_the_page_asks_for_the_recipient_type_and_narrows_to_the_answer(client):
    res = post(client, text=ORG)
    assert 'id="consult"' in res.text and "Set-MailUser" in res.text and "Set-UnifiedGroup" in res.text
    res = post(client, text=ORG, recipient_type="m365_group")
    assert "Set-UnifiedGroup" in res.text and "Set-MailUser" not in res.text and "Set-Mailbox" not in res.text
    assert '<option value="m365_group" selected>' in res.text
    assert post(client, text=ORG, recipient_type="robot").status_code == 400


def test_an_upload_is_read_like_a_file(client):
    data = (CORPUS / "exo-sender-auth" / "exo-modern-5.7.133-01.eml").read_bytes()
    res = post(client, file=("bounce.eml", data, "message/rfc822"))
    assert res.status_code == 200 and "5.7.133" in res.text and "bounce.eml" in res.text
    assert "RequireSenderAuthenticationEnabled" in res.text


def test_markup_in_a_bounce_is_shown_escaped(client):
    res = post(client, text="550 5.1.1 <script>alert(1)</script> user unknown <img src=x onerror=alert(2)>")
    assert res.status_code == 200
    assert "<script>alert(1)" not in res.text and "<img src=x" not in res.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in res.text


def test_a_path_is_never_read_from_the_server_disk(client):
    res = post(client, text="/etc/hostname")
    assert "no SMTP reply, status code or failed recipient found" in res.text


def test_empty_too_large_and_malformed_bodies_are_refused_clearly(client):
    assert "paste a bounce" in post(client, text="  ").text
    big = b"x" * (web_app.MAX_BODY + 1)
    res = client.post("/", content=big, headers={"content-type": "multipart/form-data; boundary=b"})
    assert res.status_code == 413 and f"at most {MAX_MESSAGE_BYTES >> 20} MiB" in res.text
    res = client.post("/api/diagnose", content=big)
    assert res.status_code == 413 and "at most" in res.json()["detail"]
    res = client.post("/", content=b"text=x", headers={"content-type": "text/plain"})
    assert res.status_code == 400 and "expected a form body" in res.text
    many = "&".join(f"f{n}=1" for n in range(20))
    res = client.post("/", content=many, headers={"content-type": "application/x-www-form-urlencoded"})
    assert res.status_code == 400 and "more than 8 form fields" in res.text


def test_nothing_is_written_to_disk(client, monkeypatch, tmp_path):
    written = []
    real_open = open

    def spy(file, mode="r", *args, **kwargs):
        if any(m in mode for m in "wax+"):
            written.append(file)
        return real_open(file, mode, *args, **kwargs)

    def no_temporary_file(*args, **kwargs):
        written.append("temporary file")
        raise AssertionError("a temporary file was made")

    monkeypatch.setattr("builtins.open", spy)
    for name in ("TemporaryFile", "NamedTemporaryFile", "mkstemp"):  # what a spooled upload rolls over to
        monkeypatch.setattr(tempfile, name, no_temporary_file)
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # the temporary folder, for this process only
    data = b"Subject: x\r\n\r\n" + (CORPUS / "exo-sender-auth" / "line-5.7.133-01.txt").read_bytes() * 40000
    assert len(data) > 2 * 1024 * 1024  # past the 1 MiB where Starlette's form reader spools to disk
    res = post(client, file=("big.eml", data, "message/rfc822"))
    assert res.status_code == 200
    assert written == [] and os.listdir(private) == []


def test_the_json_endpoint_gives_what_diagnose_json_prints(client, diagnoser):
    data = (CORPUS / "exo-sender-auth" / "exo-modern-5.7.133-01.eml").read_bytes()
    res = client.post("/api/diagnose", content=data)
    assert res.status_code == 200 and res.headers["content-type"] == "application/json"
    assert res.text == diagnoser.diagnose_message(from_bytes(data)).model_dump_json(indent=2) + "\n"
    res = client.post("/api/diagnose?recipient_type=m365_group", content=ORG)
    assert json.loads(res.text)["recipients"][0]["recipient_types_covered"] == ["m365_group"]
    assert client.post("/api/diagnose?recipient_type=robot", content=ORG).status_code == 400


def test_a_full_queue_is_answered_busy_not_hung(client, monkeypatch):
    monkeypatch.setattr(web_app, "MAX_WAITING", 0)
    res = client.post("/api/diagnose", content=ORG)
    assert res.status_code == 503 and "busy" in res.json()["detail"]


class SlowDiagnoser:
    """A diagnoser that takes its time, to show that a slow diagnosis stops nothing else."""

    def __init__(self, real, seconds):
        self.real, self.seconds = real, seconds

    def diagnose(self, *args, **kwargs):
        time.sleep(self.seconds)
        return self.real.diagnose(*args, **kwargs)


def test_a_slow_diagnosis_does_not_block_the_server(diagnoser, monkeypatch):
    with serving(create_app(SlowDiagnoser(diagnoser, 1.5))) as url, httpx.Client(base_url=url, timeout=30) as c:
        slow = threading.Thread(target=c.post, args=("/api/diagnose",), kwargs={"content": ORG})
        slow.start()
        time.sleep(0.2)
        started = time.monotonic()
        assert c.get("/").status_code == 200
        assert time.monotonic() - started < 0.5  # the page is served while the worker is busy
        monkeypatch.setattr(web_app, "WAIT_SECONDS", 0.3)
        res = c.post("/api/diagnose", content=ORG)  # waits behind the slow one, then gives up
        assert res.status_code == 503 and "no answer within" in res.json()["detail"]
        slow.join()


def test_ndrkb_serve_listens_on_loopback_by_default():
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "from ndrkb.cli import main; main()", "serve", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                res = httpx.post(f"http://127.0.0.1:{port}/api/diagnose", content=ORG, timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "ndrkb serve did not start"
                time.sleep(0.1)
        assert res.json()["recipients"][0]["status"] == "5.7.12"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"serving http://127.0.0.1:{port}/" in err and "Warning" not in err


def test_ndrkb_serve_on_a_taken_port_says_so_and_exits_1():
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = subprocess.run([sys.executable, "-c", "from ndrkb.cli import main; main()", "serve", "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert res.returncode == 1 and "address already in use" in res.stderr and "Traceback" not in res.stderr
