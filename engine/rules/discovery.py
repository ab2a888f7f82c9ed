"""Finding packs: built-in ``kb/``, installed packages (entry points), ``NDRKB_PACKS`` and ``--pack``.

An entry point's package is located on disk, never imported.
"""
from __future__ import annotations

import importlib.resources
import os
import re
import stat
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Optional

from ..errors import PackError

BUILTIN_DIR = Path(str(importlib.resources.files("ndrkb.kb")))


class PackSources(NamedTuple):
    """Pack folders to load besides the built-in and installed ones: those ``NDRKB_PACKS``
    names (``env``) and those given with ``--pack`` or by a caller (``extra``).

    Nothing below the program's edge reads the environment: the CLI and the API build this
    with :meth:`from_environment` and pass it down.
    """

    env: tuple[Path, ...] = ()
    extra: tuple[Path, ...] = ()

    @classmethod
    def from_environment(cls, extra: Iterable[Path] = (),
                         environ: Optional[Mapping[str, str]] = None) -> "PackSources":
        """The folders ``NDRKB_PACKS`` names (``os.pathsep``-separated), plus ``extra``."""
        value = (os.environ if environ is None else environ).get("NDRKB_PACKS", "")
        return cls(tuple(Path(p) for p in value.split(os.pathsep) if p), tuple(Path(p) for p in extra))


def _world_writable(path: Path) -> bool:
    """True for a file or folder any user may change (a folder with the sticky bit, as /tmp,
    still lets only owners replace its entries)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return bool(mode & stat.S_IWOTH) and not (path.is_dir() and mode & stat.S_ISVTX)


def discover(sources: PackSources = PackSources()) -> list[tuple[Path, str]]:
    """Pack folders with their origin: built-in ``kb/``, entry points ``ndrkb.packs``, then ``sources``.

    Each folder appears once (by resolved path).  An entry point names a package holding
    pack folders (or one pack); the package is located, never imported.  Every place that
    holds no pack is reported in one :class:`PackError`.
    """
    from importlib.metadata import entry_points

    problems: list[str] = []
    found: list[tuple[Path, str]] = []
    found += [(folder, "builtin") for folder in pack_folders(BUILTIN_DIR)]
    for ep in sorted(entry_points(group="ndrkb.packs"), key=lambda e: (e.name, e.value)):
        dist = f" of {ep.dist.name}" if getattr(ep, "dist", None) is not None else ""
        name = f"entry point {ep.name}{dist}"
        package = _locate_package(ep.value)
        if package is None:
            problems.append(f"{name} (group ndrkb.packs): cannot find package {ep.value!r}")
            continue
        folders = pack_folders(package)
        if not folders:
            problems.append(f"{name} (group ndrkb.packs): package {ep.value} ({package}) holds no pack.toml")
        found += [(folder, name) for folder in folders]
    roots = [(p, "NDRKB_PACKS") for p in sources.env] + [(p, "--pack") for p in sources.extra]
    for root, how in roots:
        folders = pack_folders(root)
        if not folders:
            problems.append(f"{root} (from {how}): no pack.toml here and not a folder of packs")
        open_to_all = [p for p in (root, *folders, *(f / "pack.toml" for f in folders)) if _world_writable(p)]
        if open_to_all:
            problems.append(f"{open_to_all[0]} (from {how}) is writable by every user, who could change what "
                            f"ndrkb concludes: refused (chmod o-w)")
            continue
        found += [(folder, f"{how} {root}") for folder in folders]
    if problems:
        raise PackError(problems)
    unique: dict[Path, tuple[Path, str]] = {}
    for folder, origin in found:
        unique.setdefault(folder.resolve(), (folder, origin))
    return list(unique.values())


def pack_folders(root: Path) -> list[Path]:
    """``root`` if it is a pack folder, else its sub-folders that are, sorted."""
    if (root / "pack.toml").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "pack.toml").is_file())


def _locate_package(value: str) -> Optional[Path]:
    """The folder of an installed package named ``pkg`` or ``pkg.sub``, found without importing it."""
    from importlib.util import find_spec

    name = value.split(":")[0].strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
        return None
    top, *rest = name.split(".")
    try:
        spec = find_spec(top)  # a top-level name: finders only, no module code runs
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location).joinpath(*rest)
        if folder.is_dir():
            return folder
    return None
