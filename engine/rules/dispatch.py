"""Dispatch: which packs run for a message, chosen by its status code and token.

The cost of choosing depends on the packs that match, not on how many are installed.
"""
from __future__ import annotations

import re
from typing import Optional

from .schema import STAGES, CODE, CauseSpec, Pack, RemediationSpec, code_matches


class PackSet:
    """The loaded packs, their dispatch index, and look-ups for causes and remediations."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs
        self.by_id = {p.id: p for p in packs}
        self._always: dict[str, list[Pack]] = {s: [] for s in STAGES}
        self._exact: dict[str, list[Pack]] = {}
        self._wide: dict[tuple[str, str], list[tuple[str, Pack]]] = {}
        self._tokens: dict[str, list[tuple[str, Pack]]] = {}
        #: pack id -> packs whose rules follow its rules: dispatched together with it
        self._dependents: dict[str, list[Pack]] = {}
        for p in packs:
            for dep in p.depends_on:
                self._dependents.setdefault(dep, []).append(p)
            meta = p.spec.pack
            if meta.always or meta.stage != "diagnose":
                self._always[meta.stage].append(p)
                continue
            for code in meta.codes:
                if re.fullmatch(CODE, code):
                    self._exact.setdefault(code, []).append(p)
                else:
                    cls, subject = code.split(".")[:2]
                    self._wide.setdefault((cls, subject), []).append((code, p))
            for token in meta.tokens:
                self._tokens.setdefault(token.split(".")[0].lower(), []).append((token.lower(), p))

    def select(self, stage: str, status: Optional[str], token: Optional[str]) -> tuple[Pack, ...]:
        """The packs to run for a message: the stage's always-on packs, those its code or token
        names, and the packs that follow their rules (``when.after``), sorted by id.

        The cost depends on the packs that match, not on how many are installed.
        """
        chosen = list(self._always[stage])
        if stage == "diagnose":
            if status:
                chosen += self._exact.get(status, [])
                cls, subject = status.split(".")[:2]
                for key in ((cls, subject), (cls, "*"), (cls, "x"), ("x", subject), ("x", "x"), ("x", "*"),
                            ("*", subject), ("*", "*"), ("*", "x")):
                    chosen += [p for pattern, p in self._wide.get(key, []) if code_matches(pattern, status)]
            if token:
                low = token.lower()
                chosen += [p for prefix, p in self._tokens.get(low.split(".")[0], []) if low.startswith(prefix)]
        unique: dict[str, Pack] = {}
        while chosen:
            p = chosen.pop()
            if p.id not in unique:
                unique[p.id] = p
                chosen += [d for d in self._dependents.get(p.id, []) if d.spec.pack.stage == stage]
        return tuple(unique[k] for k in sorted(unique))

    def cause(self, pack_id: str, cause_id: str) -> CauseSpec:
        return self.by_id[pack_id].spec.cause[cause_id]

    def remediation(self, pack_id: str, rem_id: str) -> RemediationSpec:
        return self.by_id[pack_id].spec.remediation[rem_id]
