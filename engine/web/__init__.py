"""The local web page of ``ndrkb serve`` (paste a bounce, read the diagnosis) and its JSON endpoint."""
from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
