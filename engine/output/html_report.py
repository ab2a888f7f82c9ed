"""The HTML report of a corpus: batch records in, one self-contained HTML file out.

Records are aggregated as they are read (100,000 records make a file about the size 100
do): counts by who must act, reason, status code, recipient domain and cause as charts
drawn by matplotlib into inline SVG (no script, no network, opens at once); a sortable,
filterable table of the distinct (domain, status, reason, role, cause) combinations with
their counts; and the error records apart. Same records in, same bytes out.
"""
from __future__ import annotations

import io
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

import jinja2
import matplotlib
from matplotlib.figure import Figure

from ..errors import InputError
from ..models import RECORD_FIELDS, domain_of as address_domain
from ..vocabulary import ROLES

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
_FIELDS = frozenset(RECORD_FIELDS)
_TEXT_FIELDS = ("source", "recipient", "status", "reason", "role", "cause", "error")


@dataclass
class Summary:
    """What the report shows, aggregated from the records: per distinct (domain, status, reason,
    role, cause) its count and first source; error records counted by kind, the first listed."""

    records: int = 0
    errors: int = 0
    messages: set = field(default_factory=set)
    groups: Counter = field(default_factory=Counter)
    example: dict[tuple, str] = field(default_factory=dict)
    error_kinds: Counter = field(default_factory=Counter)
    error_list: list[tuple[str, str]] = field(default_factory=list)

    def add(self, rec: dict) -> None:
        """Count one batch record (values as ``ndrkb classify`` writes them: text or null)."""
        self.records += 1
        source = rec.get("source") or "-"
        self.messages.add((source, rec.get("index", 0)))
        error = rec.get("error")
        if error is not None:
            self.errors += 1
            self.error_kinds[_error_kind(error)] += 1
            if len(self.error_list) < MAX_ERRORS_LISTED:
                self.error_list.append((_label(source, 300), _label(error, 300)))
            return
        row = (domain_of(rec.get("recipient")), rec.get("status") or "-", rec.get("reason") or "-",
               rec.get("role") or "-", rec.get("cause") or "-")
        self.groups[row] += 1
        if row not in self.example:
            self.example[row] = source

    def table(self) -> tuple[Counter, dict[tuple, str]]:
        """The groups with their values as short labels (groups whose labels agree are merged)."""
        groups: Counter = Counter()
        example: dict[tuple, str] = {}
        labels: dict[str, str] = {}
        for row, n in self.groups.items():
            key = tuple([labels[v] if v in labels else labels.setdefault(v, _label(v)) for v in row])
            groups[key] += n
            source = _label(self.example[row], 300)
            example[key] = min(example[key], source) if key in example else source
        return groups, example


def read_records(lines: Iterable[str], name: str = "records") -> Iterator[dict]:
    """The batch records of JSON Lines (blank lines skipped); a line that is not a record is an error."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            raise InputError(f"{name} line {n}: not JSON") from None
        if not isinstance(rec, dict) or not rec.keys() <= _FIELDS or "error" not in rec or any(
                not isinstance(rec.get(f), (str, type(None))) for f in _TEXT_FIELDS):
            raise InputError(f"{name} line {n}: not a batch record (fields: {', '.join(RECORD_FIELDS)}; "
                             f"{', '.join(_TEXT_FIELDS)} text or null)")
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
    domain = (address_domain(str(recipient)) or "").strip().strip(">")
    return domain if _DOMAIN.fullmatch(domain) else "(invalid)"


def render_html(summary: Summary, title: str = "ndrkb report") -> str:
    """The self-contained HTML file of a summary."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("ndrkb", "output/templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    groups, example = summary.table()
    by = {name: Counter() for name in _COLUMNS}
    for row, n in groups.items():
        for name, value in zip(_COLUMNS, row):
            by[name][value] += n
    rows = sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
    return env.get_template("report.html").render(
        title=title, s=summary, charts=_charts(summary, groups, by),
        rows=[(*row, n, example[row]) for row, n in rows[:MAX_TABLE_ROWS]], groups=len(rows),
        max_rows=MAX_TABLE_ROWS, error_kinds=_top(summary.error_kinds, len(summary.error_kinds)),
        roles={r: by["role"][r] for r in ROLES})


#: Bar colour per role (the same in every chart).
ROLE_COLOURS = {"sender": "#4c78a8", "sender_admin": "#f58518", "recipient_admin": "#e45756", "none": "#72b7b2"}
_SVG_STYLE = {"svg.fonttype": "none", "svg.hashsalt": "ndrkb", "font.size": 9, "axes.spines.top": False,
              "axes.spines.right": False}


def _charts(s: Summary, groups: Counter, by: dict[str, Counter]) -> list[tuple[str, str]]:
    """(title, inline SVG) of each chart; none when there is no diagnosed record."""
    if s.records == s.errors:
        return []
    reason_by_role: Counter = Counter()
    for (_, _, reason, role, _), n in groups.items():
        reason_by_role[reason, role] += n
    roles = [r for r in ROLES if by["role"][r]] + sorted(set(by["role"]) - set(ROLES))
    reasons = [k for k, _ in _top(by["reason"], len(by["reason"]))][:TOP]
    charts = []
    with matplotlib.rc_context(_SVG_STYLE):
        fig, ax = _bars(len(reasons), "Reasons, by who must act")
        left = [0] * len(reasons)
        for role in roles:
            widths = [reason_by_role[reason, role] for reason in reasons]
            ax.barh(_tex(reasons), widths, left=left, label=_tex([role])[0], color=ROLE_COLOURS.get(role, "#9d755d"))
            left = [a + b for a, b in zip(left, widths)]
        ax.legend(title="who must act", frameon=False, loc="lower right")
        charts.append(fig)
        fig, ax = _bars(len(roles), "Who must act")
        ax.barh(_tex(roles), [by["role"][r] for r in roles], color=[ROLE_COLOURS.get(r, "#9d755d") for r in roles])
        charts.append(fig)
        for name, title in (("status", "Status codes"), ("domain", "Recipient domains"), ("cause", "Causes")):
            top = _top(by[name], TOP)
            fig, ax = _bars(len(top), f"{title} (top {TOP})" if len(by[name]) > TOP else title)
            ax.barh(_tex([k for k, _ in top]), [n for _, n in top], color="#4c78a8")
            charts.append(fig)
        return [(fig.axes[0].get_title(), _svg(fig)) for fig in charts]


def _bars(n: int, title: str) -> tuple[Figure, object]:
    """A figure for n horizontal bars, largest on top."""
    fig = Figure(figsize=(6.4, 0.6 + 0.24 * max(n, 3)))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=11)
    ax.invert_yaxis()
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    return fig, ax


def _svg(fig: Figure) -> str:
    """The figure as an inline <svg> element (no XML prolog, no date: same figure, same bytes),
    cut to what is drawn (half the time of a constrained layout)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight", pad_inches=0.1)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _tex(labels: list[str]) -> list[str]:
    """Labels matplotlib shows as written (a '$' would start mathtext)."""
    return [label.replace("$", r"\$") for label in labels]


def _top(counter: Counter, n: int) -> list[tuple[str, int]]:
    """The n largest counts (ties by name); the rest summed into "(other)"."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) <= n:
        return items
    return items[:n - 1] + [("(other)", sum(v for _, v in items[n - 1:]))]


def _label(value: object, limit: int = MAX_LABEL) -> str:
    """A value as a short one-line label."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def _error_kind(error: str) -> str:
    """An error message with its varying details (numbers, quoted parts) folded, to count alike errors together."""
    return _label(re.sub(r"\d+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", error[:1000])))
