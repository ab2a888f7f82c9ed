"""The HTML report of a corpus: batch records in, one self-contained HTML file out.

Records are aggregated as they are read (100,000 records make a file of the same size as
100 do): counts by who must act, reason, status code, recipient domain and cause as plotly
charts, with plotly.js inlined so the file opens offline; a sortable, filterable table of
the distinct (domain, status, reason, role, cause) combinations with their counts; and the
error records apart. Same records in, same bytes out.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import jinja2
import plotly.graph_objects as go
import plotly.offline

from ..errors import InputError
from ..models import RECORD_FIELDS, ROLES

#: Bars per chart at most (the rest are summed into one "other" bar).
TOP = 20
#: Rows of the combinations table at most (the largest groups).
MAX_TABLE_ROWS = 2000
#: Error records listed one by one at most (all are counted by message).
MAX_ERRORS_LISTED = 500
#: Characters of one label or cell kept.
MAX_LABEL = 120

_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
_COLUMNS = ("domain", "status", "reason", "role", "cause")


@dataclass
class Summary:
    """What the report shows, aggregated from the records."""

    records: int = 0
    errors: int = 0
    messages: set = field(default_factory=set)
    by: dict[str, Counter] = field(default_factory=lambda: {c: Counter() for c in _COLUMNS})
    reason_by_role: Counter = field(default_factory=Counter)
    groups: Counter = field(default_factory=Counter)
    example: dict[tuple, str] = field(default_factory=dict)
    error_kinds: Counter = field(default_factory=Counter)
    error_list: list[tuple[str, str]] = field(default_factory=list)

    def add(self, rec: dict) -> None:
        """Count one batch record."""
        self.records += 1
        source = _label(rec.get("source") or "-", 300)
        self.messages.add((source, rec.get("index", 0)))
        if rec.get("error") is not None:
            self.errors += 1
            error = _label(rec["error"], 300)
            self.error_kinds[_error_kind(error)] += 1
            if len(self.error_list) < MAX_ERRORS_LISTED:
                self.error_list.append((source, error))
            return
        row = (domain_of(rec.get("recipient")), *(_label(rec.get(c) or "-") for c in _COLUMNS[1:]))
        for name, value in zip(_COLUMNS, row):
            self.by[name][value] += 1
        self.reason_by_role[row[2], row[3]] += 1
        self.groups[row] += 1
        self.example.setdefault(row, source)


def read_records(lines: Iterable[str], name: str = "records") -> Iterator[dict]:
    """The batch records of JSON Lines (blank lines skipped); a line that is not a record is an error."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise InputError(f"{name} line {n}: not JSON") from None
        if not isinstance(rec, dict) or not set(rec) <= set(RECORD_FIELDS) or "error" not in rec:
            raise InputError(f"{name} line {n}: not a batch record (fields: {', '.join(RECORD_FIELDS)})")
        yield rec


def summarize(records: Iterable[dict]) -> Summary:
    """Aggregate records for the report."""
    summary = Summary()
    for rec in records:
        summary.add(rec)
    return summary


def domain_of(recipient: Optional[str]) -> str:
    """The recipient's domain, lowercased; "(not named)" or "(invalid)" when there is none."""
    if not recipient or "@" not in recipient:
        return "(not named)"
    domain = str(recipient).rsplit("@", 1)[1].strip().strip(">").lower()
    return domain if _DOMAIN.fullmatch(domain) else "(invalid)"


def render_html(summary: Summary, title: str = "ndrkb report") -> str:
    """The self-contained HTML file of a summary."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("ndrkb", "output/templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    rows = sorted(summary.groups.items(), key=lambda kv: (-kv[1], kv[0]))
    return env.get_template("report.html").render(
        title=title, s=summary, charts=_charts(summary), plotlyjs=plotly.offline.get_plotlyjs(),
        rows=[(*row, n, summary.example[row]) for row, n in rows[:MAX_TABLE_ROWS]], groups=len(rows),
        max_rows=MAX_TABLE_ROWS, error_kinds=_top(summary.error_kinds, len(summary.error_kinds)),
        roles={r: summary.by["role"][r] for r in ROLES})


def _charts(s: Summary) -> list[tuple[str, str]]:
    """(title, HTML) of each chart; empty when there is no diagnosed record."""
    if s.records == s.errors:
        return []
    charts = []
    roles = [r for r in ROLES if s.by["role"][r]] + sorted(set(s.by["role"]) - set(ROLES))
    reasons = [k for k, _ in _top(s.by["reason"], len(s.by["reason"]))][:TOP]
    fig = go.Figure([go.Bar(name=role, y=reasons, x=[s.reason_by_role[reason, role] for reason in reasons],
                            orientation="h") for role in roles])
    fig.update_layout(barmode="stack", legend_title_text="who must act")
    charts.append(("Reasons, by who must act", fig))
    fig = go.Figure(go.Bar(x=roles, y=[s.by["role"][r] for r in roles]))
    charts.append(("Who must act", fig))
    for name, title in (("status", "Status codes"), ("domain", "Recipient domains"), ("cause", "Causes")):
        top = _top(s.by[name], TOP)
        fig = go.Figure(go.Bar(y=[k for k, _ in top], x=[n for _, n in top], orientation="h"))
        charts.append((f"{title} (top {TOP})" if len(s.by[name]) > TOP else title, fig))
    out = []
    for n, (title, fig) in enumerate(charts):
        bars = max(len(trace.y if trace.orientation == "h" else trace.x) for trace in fig.data)
        fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=max(260, 24 * bars + 80),
                          template="plotly_white", title_text=title)
        if fig.data[0].orientation == "h":
            fig.update_yaxes(autorange="reversed", automargin=True)
        out.append((title, fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{n}",
                                       config={"displaylogo": False, "responsive": True})))
    return out


def _top(counter: Counter, n: int) -> list[tuple[str, int]]:
    """The n largest counts (ties by name); the rest summed into "(other)"."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) <= n:
        return items
    return items[:n - 1] + [("(other)", sum(v for _, v in items[n - 1:]))]


def _label(value: object, limit: int = MAX_LABEL) -> str:
    """A value as a short label that chart text cannot read as markup."""
    text = " ".join(str(value).split())
    text = text.replace("<", "\u2039").replace(">", "\u203a")
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _error_kind(error: str) -> str:
    """An error message with its varying details (numbers, quoted parts) folded, to count alike errors together."""
    return re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", error))[:MAX_LABEL]
