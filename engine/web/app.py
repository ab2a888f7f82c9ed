"""The ``ndrkb serve`` application: paste or upload a bounce, read the diagnosis.

Starlette routes, Jinja2 templates (autoescaped), served by uvicorn. Routes:

* ``GET /``: the page; ``POST /``: the page with the diagnosis of the form's bounce
  (``text`` or ``file``; ``recipient_type`` answers the page's consultation);
* ``POST /api/diagnose[?recipient_type=TYPE]``: the bounce as the raw body; the answer is
  the Diagnosis as JSON, exactly as ``ndrkb diagnose --json`` prints it.

Untrusted input: a body over :data:`MAX_BODY` is refused (413) before it is read whole;
the bounce then meets the same bounds as on the command line (``ndrkb.limits``); nothing
is written to disk; every value is escaped on output and the page runs no script at all
(its Content-Security-Policy forbids scripts). Diagnosis runs off the event loop in one
worker thread (the engine is not thread-safe); a request waits for it at most
:data:`WAIT_SECONDS` and at most :data:`MAX_WAITING` requests wait at once (503 past either).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import json
from typing import Any, Callable, Optional

import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..diagnoser import Diagnoser, check_recipient_type
from ..limits import MAX_MESSAGE_BYTES
from ..models import Diagnosis
from ..output.report import ROLE_TEXT
from ..vocabulary import RECIPIENT_TYPE_MEANINGS, RECIPIENT_TYPES, TYPE_EXPANSION
from .forms import FormError, read_form

#: Largest request body read: a message at the CLI's bound plus room for the form around it.
MAX_BODY = MAX_MESSAGE_BYTES + 64 * 1024
#: Requests that may wait for the diagnosis worker at once; more are answered 503.
MAX_WAITING = 512
#: Seconds a request waits for its diagnosis before it is answered 503.
WAIT_SECONDS = 30.0

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class HTTPError(Exception):
    """A request refused with a status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


class Worker:
    """One diagnosis thread, with a bounded number of waiting requests and a bounded wait."""

    def __init__(self) -> None:
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="ndrkb-diagnose")
        self.waiting = 0

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        if self.waiting >= MAX_WAITING:
            raise HTTPError(503, "busy: too many requests waiting; try again")
        self.waiting += 1
        try:
            future = asyncio.get_running_loop().run_in_executor(self.pool, fn, *args)
            return await asyncio.wait_for(future, WAIT_SECONDS)
        except asyncio.TimeoutError:
            raise HTTPError(503, f"busy: no answer within {WAIT_SECONDS:.0f} s; try again") from None
        finally:
            self.waiting -= 1


def create_app(diagnoser: Optional[Diagnoser] = None) -> Starlette:
    """The web application, diagnosing with ``diagnoser`` (default: the shared one)."""
    if diagnoser is None:
        from .. import default_diagnoser

        diagnoser = default_diagnoser()
    env = jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    worker = Worker()

    def answer_page(content_type: str, body: bytes) -> tuple[int, str]:
        try:
            form = read_form(content_type, body)
            upload = form.get("file")
            text = form.get("text")
            data = upload.data if upload and upload.data else (text.data if text else b"")
            rtype = (form["recipient_type"].data.decode("utf-8", "replace") if "recipient_type" in form else "") or None
            check_recipient_type(rtype)
        except (FormError, ValueError) as exc:
            return 400, render(error=str(exc))
        if not data.strip():
            return 400, render(error="paste a bounce or choose a file first")
        source = upload.filename if upload and upload.data else None
        d = diagnoser.diagnose(data, name=source, recipient_type=rtype)  # bytes: never a path on this server
        return 200, render(d=d, text=data.decode("utf-8", "replace"), given=rtype or "")

    def render(d: Optional[Diagnosis] = None, text: str = "", given: str = "", error: str = "") -> str:
        return env.get_template("page.html").render(
            d=d, text=text, given=given, error=error, ask=_ask(d), role_text=ROLE_TEXT, max_mib=MAX_MESSAGE_BYTES >> 20,
            meaning=RECIPIENT_TYPE_MEANINGS)

    async def page(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(render(), headers=HEADERS)
        try:
            body = await _body(request)
            status, html = await worker.run(answer_page, request.headers.get("content-type", ""), body)
        except HTTPError as exc:
            status, html = exc.status, render(error=str(exc))
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def api(request: Request) -> Response:
        rtype = request.query_params.get("recipient_type") or None
        try:
            try:
                check_recipient_type(rtype)
            except ValueError as exc:
                raise HTTPError(400, str(exc)) from None
            body = await _body(request)
            d = await worker.run(functools.partial(diagnoser.diagnose, body, recipient_type=rtype))
        except HTTPError as exc:
            return Response(json.dumps({"detail": str(exc)}) + "\n", status_code=exc.status,
                            media_type="application/json", headers=HEADERS)
        return Response(d.model_dump_json(indent=2) + "\n", media_type="application/json", headers=HEADERS)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        worker.pool.shutdown(wait=False, cancel_futures=True)

    return Starlette(routes=[
        Route("/", page, methods=["GET", "POST"]),
        Route("/api/diagnose", api, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[(__package__, "static")]), name="static"),
    ], lifespan=lifespan)


async def _body(request: Request) -> bytes:
    """The request body, refused (413) past :data:`MAX_BODY` without reading it all."""
    length = request.headers.get("content-length", "")
    too_large = HTTPError(413, f"too large: a bounce may be at most {MAX_MESSAGE_BYTES >> 20} MiB")
    if length.isdigit() and int(length) > MAX_BODY:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _ask(d: Optional[Diagnosis]) -> list[str]:
    """The recipient types to ask about: those the NDR leaves open where the remediation depends on it."""
    if d is None:
        return []
    open_types: set[str] = set()
    for r in d.recipients:
        typed = any(rem.recipient_types for info in r.cause_info for rem in info.remediation)
        if typed and r.recipient_type in TYPE_EXPANSION:
            open_types.update(TYPE_EXPANSION[r.recipient_type])
    return [t for t in RECIPIENT_TYPES if t in open_types]
