"""``ndrkb serve``: the local web page (paste a bounce, read the diagnosis) and its JSON endpoint."""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from ..output.terminal import echo
from .options import load_diagnoser, pack_option


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (loopback by default; anyone who can reach another address can use it).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port to listen on.")
@pack_option
def serve(host: str, port: int, packs: tuple[Path, ...]) -> None:
    """Serve the paste-a-bounce page and POST /api/diagnose (the Diagnosis as JSON)."""
    try:
        import uvicorn

        from ..web import create_app
    except ImportError as exc:
        raise click.ClickException(f"ndrkb serve needs the web extra (pip install 'ndrkb[web]'): {exc}") from None
    app = create_app(load_diagnoser(packs))
    if not _loopback(host):
        echo(f"Warning: listening on {host}: anyone who can reach it can use this page.", err=True)
    echo(f"ndrkb: serving http://{host}:{port}/ (Ctrl+C stops)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", limit_concurrency=2048, server_header=False)
    except SystemExit as exc:  # uvicorn has printed why (e.g. the address is in use); exit 1 like every command
        if exc.code:
            sys.exit(1)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
