"""Fault injection: workers killed at random points, SIGINT/SIGTERM mid-run and --resume,
full and closed output devices, outputs that name inputs. The output holds whole records
only, one set per input message, and stderr and the exit status say what happened."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import multiprocessing

import pytest

import ndrkb

from .conftest import CORPUS

NDRKB = str(Path(sys.executable).parent / "ndrkb")
MODERN = (CORPUS / "exo-sender-auth" / "exo-modern-5.7.12-01.eml").read_bytes()


def mbox_of(*messages: bytes) -> bytes:
    return b"".join(b"From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n" + m.rstrip(b"\n") + b"\n\n" for m in messages)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faults") / "in"
    shutil.copytree(CORPUS, folder)
    return folder


def keys(lines: list[str]) -> list[tuple[str, int]]:
    """The (source, index) of each message, in order, from JSON Lines."""
    out: list[tuple[str, int]] = []
    for line in lines:
        rec = json.loads(line)
        if not out or out[-1] != (rec["source"], rec["index"]):
            out.append((rec["source"], rec["index"]))
    return out


def test_workers_killed_at_random_points_lose_nothing(inputs, tmp_path):
    box = tmp_path / "box.mbox"
    box.write_bytes(mbox_of(*[MODERN] * 2000))  # a run long enough for kills to land
    sources = [str(inputs), str(box)]
    expected = [r.model_dump() for r in ndrkb.classify(sources)]
    stop = threading.Event()
    kills = []

    def killer() -> None:
        rng = random.Random(16)
        while not stop.is_set():
            time.sleep(rng.uniform(0.05, 0.3))
            victims = multiprocessing.active_children()
            if victims:
                victim = rng.choice(victims)
                os.kill(victim.pid, signal.SIGKILL)
                kills.append(victim.pid)

    for _ in range(5):  # an idle machine can finish a run before the first kill: run again
        stop.clear()
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        try:
            got = [r.model_dump() for r in ndrkb.classify(sources, workers=2)]
        finally:
            stop.set()
            thread.join()
        # a message whose worker was killed is run again alone; killed again, it says so
        died = [r for r in got if r["error"] and r["error"].startswith("worker process died on this message")]
        assert [r for r in got if r not in died] == [r for r in expected if (r["source"], r["index"]) not in
                                                    {(d["source"], d["index"]) for d in died}]
        if kills:
            break
    assert kills


#: Messages of the run that is interrupted: on an idle machine 1,500 could all be done before
#: the signal arrived.
SLOW_MESSAGES = 6000


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_run_says_how_far_and_resume_finishes_without_duplicates(inputs, tmp_path, signum):
    whole = subprocess.run([NDRKB, "classify", "-j", "2", str(inputs)], capture_output=True, text=True, timeout=300)
    expected = whole.stdout.splitlines()
    out = tmp_path / "out.jsonl"
    slow = tmp_path / "in"
    slow.mkdir()
    (slow / "box.mbox").write_bytes(mbox_of(*[MODERN] * SLOW_MESSAGES))  # long enough to be interrupted
    proc = subprocess.Popen([NDRKB, "classify", "-j", "2", "-o", str(out), str(inputs), str(slow)],
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while (not out.exists() or out.stat().st_size < 100_000) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum
    lines = out.read_text().splitlines()
    done = len(keys(lines))
    assert f"interrupted by {signal.Signals(signum).name} after {done} messages" in err and "--resume" in err
    assert "Traceback" not in err
    assert all(json.loads(line) for line in lines)  # whole records only
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
    assert children == ""  # no worker left behind
    with open(out, "ab") as fh:
        fh.write(b'{"source": "cut sh')  # as a record cut short by a crash would be
    again = subprocess.run([NDRKB, "classify", "-j", "2", "--resume", "-o", str(out), str(inputs), str(slow)],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    final = out.read_text().splitlines()
    assert final[:len(expected)] == expected
    assert keys(final) == keys(expected) + [(str(slow / "box.mbox"), i) for i in range(SLOW_MESSAGES)]


def test_a_parent_killed_outright_leaves_no_worker(tmp_path):
    """SIGKILL to the parent alone (no handler runs): its workers go with it (PR_SET_PDEATHSIG)."""
    box = tmp_path / "box.mbox"
    box.write_bytes(mbox_of(*[MODERN] * 3000))
    code = "import sys, ndrkb\nfor r in ndrkb.classify([sys.argv[1]], workers=2): pass"
    proc = subprocess.Popen([sys.executable, "-c", code, str(box)])
    deadline = time.monotonic() + 60
    workers: list[str] = []
    while len(workers) < 2 and time.monotonic() < deadline:
        workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
        time.sleep(0.05)
    assert len(workers) == 2
    proc.send_signal(signal.SIGKILL)  # not even a handler runs
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
              for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
                   for pid in workers)


LINE = "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required\n"


def run(*args: str, stdout=subprocess.PIPE, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([NDRKB, *args], stdout=stdout, stderr=subprocess.PIPE, timeout=120, **kw)


def test_full_and_closed_outputs_are_one_line_errors(tmp_path):
    (tmp_path / "a.txt").write_text(LINE)
    for args in (["classify", "-o", "/dev/full", str(tmp_path)], ["classify", str(tmp_path)],
                 ["diagnose", str(tmp_path / "a.txt")], ["explain", str(tmp_path / "a.txt")]):
        with open("/dev/full", "wb") as full:
            res = run(*args, stdout=full) if "-o" not in args else run(*args)
        assert res.returncode == 1 and res.stderr.decode().startswith("Error: cannot write ") and \
            "No space left on device" in res.stderr.decode() and b"Traceback" not in res.stderr, (args, res.stderr)
        if "-o" not in args:
            res = subprocess.run(f'"{NDRKB}" {" ".join(args)} >&-', shell=True, capture_output=True, timeout=120)
            assert res.returncode == 1 and b"Error: cannot write standard output" in res.stderr, (args, res.stderr)


def test_disk_full_mid_run_leaves_whole_records(tmp_path):
    """A write failing mid-message cuts the file back to the last whole message."""
    from ndrkb.cli import records

    out = tmp_path / "out.jsonl"
    writer = records.RecordWriter(str(out), "jsonl")
    writer.write([("a", 0) + (None,) * (len(records.RECORD_FIELDS) - 2)])
    size = out.stat().st_size
    real = writer.out.write

    def full(data):
        real(bytes(data[:10]))
        raise OSError(28, "No space left on device")

    writer.out = type("Full", (), {"write": staticmethod(full), "truncate": writer.out.truncate})()
    with pytest.raises(Exception) as exc:
        writer.write([("b", 0) + (None,) * (len(records.RECORD_FIELDS) - 2)])
    assert str(exc.value.message) == f"cannot write {out}: No space left on device"
    assert out.stat().st_size == size and json.loads(out.read_text())["source"] == "a"


def test_output_naming_an_input_and_output_inside_the_walked_folder(tmp_path):
    (tmp_path / "a.txt").write_text(LINE)
    res = run("classify", "-o", str(tmp_path / "a.txt"), str(tmp_path / "a.txt"))
    assert res.returncode == 2 and b"is one of the inputs: it would be emptied before it is read" in res.stderr
    res = run("classify", "-o", str(tmp_path / "a.txt"), str(tmp_path))
    assert res.returncode == 2 and f"is read by the walk of {tmp_path}".encode() in res.stderr
    assert (tmp_path / "a.txt").read_text() == LINE  # not emptied
    out = tmp_path / "out.txt"  # an ending a walk would read
    res = run("classify", "-o", str(out), str(tmp_path))
    assert res.returncode == 0
    assert [json.loads(line)["source"] for line in out.read_text().splitlines()] == [str(tmp_path / "a.txt")]


def test_file_names_that_are_not_utf8(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / os.fsdecode(b"caf\xe9.txt")).write_text(LINE)
    for env in ({}, {"LC_ALL": "C", "PYTHONIOENCODING": "latin-1"}):
        res = run("classify", str(folder), env={**os.environ, **env})
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["source"] == os.fsdecode(bytes(folder) + b"/caf\xe9.txt")
    res = run("classify", "-o", str(tmp_path / os.fsdecode(b"out\xff.jsonl")), str(folder))
    assert res.returncode == 0 and res.stderr.startswith(b"ndrkb classify: 1 message (1 diagnosed)")  # no error


def test_packs_new_into_a_place_it_cannot_write(tmp_path):
    (tmp_path / "file").write_text("x")  # a file where a folder should be (root ignores read-only modes)
    res = run("packs", "new", "5.7.999", "--dir", str(tmp_path / "file" / "sub"))
    assert res.returncode == 1 and b"Traceback" not in res.stderr
    assert res.stderr.decode().startswith("Error: ") and "cannot write: Not a directory" in res.stderr.decode()


def test_a_closed_standard_input(tmp_path):
    for args in (["classify", "-"], ["diagnose", "-"]):
        res = subprocess.run(f'"{NDRKB}" {" ".join(args)} <&-', shell=True, capture_output=True, timeout=120)
        assert res.returncode == 1 and b"Traceback" not in res.stderr
        assert b"cannot read standard input: it is closed" in res.stdout + res.stderr
