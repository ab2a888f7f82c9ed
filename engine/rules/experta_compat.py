"""Make experta 1.9.4 importable on Python >= 3.10 without global side effects.

experta pins ``frozendict==1.2``, whose class body subclasses ``collections.Mapping``
(removed in Python 3.10), and it calls ``logging.basicConfig()`` at import time,
which would configure the host application's root logger.  :func:`load_experta`
imports experta with both problems contained: ``collections.Mapping`` exists only
while frozendict's module body runs, and the root logger's handlers and level are
restored afterwards.  Import experta only through this module.
"""
from __future__ import annotations

import collections
import collections.abc
import importlib
import logging
import sys
from types import ModuleType

__all__ = ["load_experta"]


def _import_frozendict() -> None:
    if "frozendict" in sys.modules:
        return
    added = not hasattr(collections, "Mapping")
    if added:
        collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
    try:
        importlib.import_module("frozendict")
    finally:
        if added:
            del collections.Mapping  # type: ignore[attr-defined]


def load_experta() -> ModuleType:
    """Import and return the ``experta`` package, leaving global state untouched."""
    if "experta" in sys.modules:
        return sys.modules["experta"]
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        _import_frozendict()
        module = importlib.import_module("experta")
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)
    return module
