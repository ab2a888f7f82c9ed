"""Inputs that are not plain files and folders: named pipes, devices, unreadable and deep
folders, symbolic links, a path given as a string. Nothing hangs, nothing is lost, nothing
is skipped without a record saying why."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path


import ndrkb
from ndrkb.intake import containers

from .conftest import CORPUS

LINE = "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required\n"
MODERN = (CORPUS / "exo-sender-auth" / "exo-modern-5.7.12-01.eml").read_bytes()


def mbox_of(*messages: bytes) -> bytes:
    return b"".join(b"From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n" + m.rstrip(b"\n") + b"\n\n" for m in messages)


NDRKB = Path(sys.executable).parent / "ndrkb"  # the installed command


def run_python(code: str, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run code in a child process with a deadline (a hang fails the test instead of hanging it)."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=timeout, **kw)


def records(sources, **options):
    return [(Path(r.source).name, r.index, r.error) for r in ndrkb.classify(sources, **options)]


def test_a_named_pipe_in_a_folder_or_maildir_is_an_error_record_never_opened(tmp_path):
    (tmp_path / "a.txt").write_text(LINE)
    os.mkfifo(tmp_path / "b.fifo")  # nobody writes to it: opening it for reading would block
    maildir = tmp_path / "z"
    for d in ("cur", "new", "tmp"):
        (maildir / d).mkdir(parents=True)
    os.mkfifo(maildir / "new" / "1.host")
    code = ("import sys, ndrkb; [print(r.source, r.index, r.error) for r in ndrkb.classify([sys.argv[1]], "
            "workers=int(sys.argv[2]))]")
    for workers in ("1", "2"):
        done = run_python(code, str(tmp_path), workers, timeout=60)
        lines = done.stdout.splitlines()
        assert done.returncode == 0, done.stderr
        assert lines[0].endswith("a.txt 0 None")
        assert "b.fifo 0 not read:" in lines[1] and lines[1].endswith("is a named pipe, not a message file")
        assert "/z 0 not read:" in lines[2] and "new/1.host is a named pipe" in lines[2]
        assert len(lines) == 3


def test_a_named_pipe_named_directly_is_read_once_in_full(tmp_path):
    """``classify <(cat five.mbox)``: the pipe is read by the parent as a stream (it once lost
    the bytes the mbox sniff read, 3 of 5 messages, and 0 of 5 with the progress count)."""
    fifo = tmp_path / "five"
    os.mkfifo(fifo)
    box = mbox_of(*[MODERN] * 5)

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.write(box)

    for options in ({"workers": 1}, {"workers": 2}):
        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        got = records([str(fifo)], **options)
        writer.join(30)
        assert [(i, e) for _, i, e in got] == [(i, None) for i in range(5)]
    assert containers.count_messages([str(tmp_path / "x"), "-"]) is None  # a stream is not counted ahead


def test_process_substitution_with_the_progress_bar_keeps_every_message(tmp_path):
    box = tmp_path / "five.mbox"
    box.write_bytes(mbox_of(*[MODERN] * 5))
    done = subprocess.run(["bash", "-c", f'"{NDRKB}" classify --progress -j 2 <(cat "{box}")'],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 5 and "5 messages (5 diagnosed)" in done.stderr


def test_devices_and_a_path_given_as_a_string(tmp_path):
    assert records(["/dev/null"]) == [("null", 0, "not read: /dev/null is a character device, not a message file")]
    (tmp_path / "a.txt").write_text(LINE)
    # a str is one path, not its characters (it once walked / and blocked on /dev/console)
    assert records(str(tmp_path)) == records([str(tmp_path)]) == [("a.txt", 0, None)]
    d = ndrkb.diagnose(Path("/dev/zero"))
    assert d.error == "not read: /dev/zero is a character device, not a message file"


def test_unreadable_folders_and_maildirs_are_error_records(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text(LINE)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "y.txt").write_text(LINE)
    maildir = tmp_path / "c"
    for d in ("cur", "new", "tmp"):
        (maildir / d).mkdir(parents=True)
    (maildir / "new" / "1.host").write_text(LINE)
    (maildir / "cur" / "2.host").write_text(LINE)
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path):  # (tests run as root, where permissions do not stop a read)
        if str(path).endswith("/a"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    def listdir(path):
        if str(path).endswith("c/cur"):
            raise PermissionError(13, "Permission denied")
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    got = records([str(tmp_path)])
    assert got == [("a", 0, f"cannot read folder {tmp_path}/a: Permission denied"), ("y.txt", 0, None),
                   ("c", 0, None), ("c", 1, f"cannot read Maildir folder {tmp_path}/c/cur: Permission denied")]
    assert containers.count_messages([str(tmp_path)]) == 4


def test_symbolic_links_to_folders_are_followed_once_and_deep_folders_cut(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "m.txt").write_text(LINE)
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "real" / "loop").symlink_to(tmp_path)
    assert records([str(tmp_path)]) == [  # name order: link/ before real/, each folder walked once
        ("m.txt", 0, None),
        ("loop", 0, f"not walked: {tmp_path}/link/loop is a folder already walked (a symbolic link)"),
        ("real", 0, f"not walked: {tmp_path}/real is a folder already walked (a symbolic link)")]
    monkeypatch.setattr(containers, "MAX_WALK_DEPTH", 3)
    deep = tmp_path / "deep"
    (deep / "1" / "2" / "3" / "4" / "5").mkdir(parents=True)
    (deep / "1" / "2" / "3" / "m.txt").write_text(LINE)
    (deep / "1" / "2" / "3" / "4" / "5" / "n.txt").write_text(LINE)
    assert records([str(deep)]) == [("m.txt", 0, None), ("4", 0, f"not walked: {deep}/1/2/3/4 is nested deeper "
                                                                 "than 3 folders")]


def _on_a_terminal(args, stream):
    """What ``ndrkb ARGS`` writes to ``stream`` ('stdout' or 'stderr') when that is a terminal."""
    import pty

    controller, terminal = pty.openpty()
    other = subprocess.PIPE
    proc = subprocess.Popen([NDRKB, *args], stdout=terminal if stream == "stdout" else other,
                            stderr=terminal if stream == "stderr" else other)
    os.close(terminal)
    out = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.communicate(timeout=60)
    os.close(controller)
    return out


def test_escape_sequences_are_not_printed_raw_on_a_terminal(tmp_path):
    """A Subject and a file name holding ESC sequences (window title, clear screen) and a C1
    control: on a terminal they are shown as \\u00XX escapes instead of acting."""
    name = tmp_path / "a\x1b[2J.eml"
    name.write_bytes(MODERN.replace(b"Subject: ", b"Subject: \x1b]0;owned\x07\xc2\x9b2J ", 1))
    for args in (["diagnose", str(name)], ["explain", str(name)], ["classify", str(name)]):
        out = _on_a_terminal(args, "stdout")
        assert b"\x1b" not in out and "\x9b".encode() not in out, args
        assert b"\\u001b" in out, args


def test_error_messages_and_pack_output_are_not_printed_raw_on_a_terminal(tmp_path):
    """Error lines quote file names, and pack output quotes pack text: on a terminal their
    control characters are shown as escapes too (issue 16 item 11)."""
    missing = str(tmp_path / "gone\x1b]0;owned\x07.eml")
    err = _on_a_terminal(["diagnose", missing], "stderr")
    assert b"\x1b" not in err and b"\x07" not in err and b"\\u001b" in err, err
    pack = tmp_path / "p\x1b[2J"
    pack.mkdir()
    (pack / "pack.toml").write_text("[pack]\nid = 'p'\n")
    out = _on_a_terminal(["packs", "check", str(pack)], "stdout")
    assert b"\x1b" not in out and b"\\u001b" in out, out


def test_world_writable_pack_folders_are_refused(tmp_path):
    from ndrkb.errors import PackError
    from ndrkb.rules.discovery import PackSources, discover

    site = tmp_path / "site"
    (site / "mine").mkdir(parents=True)
    (site / "mine" / "pack.toml").write_text("[pack]\nid = 'mine'\n")
    discover(PackSources(env=(site,)))  # a private folder is fine
    site.chmod(0o777)
    try:
        discover(PackSources(env=(site,)))
    except PackError as exc:
        assert exc.problems == [f"{site} (from NDRKB_PACKS) is writable by every user, who could change what "
                                "ndrkb concludes: refused (chmod o-w)"]
    else:
        raise AssertionError("a world-writable NDRKB_PACKS folder was accepted")
