"""The rule engine: pack rules compiled into experta, run in three stages, with a trace.

This is the only module that imports experta (through :mod:`ndrkb.experta_compat`).
Stages: ``infer`` (a status code when the bounce gives none), ``diagnose`` (reason,
role, cause, recipient type; the packs dispatched by status code and token plus the
always-on core and fallback), ``finalize`` (permanent, hard bounce).  Within a stage a
conclusion is decided by the fired rule of highest salience; every fired rule is kept
in the trace with what it matched and concluded.  Inference is a pure function of the
facts the rules read, so results are memoized by those facts.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .experta_compat import load_experta
from .models import RecipientFacts, TraceStep
from .packs import STAGES, Pack, PackSet, RuleSpec, code_matches, reply_matches

experta = load_experta()

SLOTS = ("status", "reason", "role", "cause", "causes", "recipient_type", "permanent", "hard_bounce")
MEMO_SIZE = 8192
ENGINE_CACHE_SIZE = 256


class Facts(experta.Fact):
    """The flat fact the rules match: what the bounce says plus what earlier stages decided."""


class Fired(experta.Fact):
    """Declared when a rule fires, so another rule can require it (``when.after``)."""


@dataclass(frozen=True)
class Step:
    """A fired rule, before it is numbered into a :class:`TraceStep`."""

    stage: str
    rule: str
    pack: str
    salience: int
    depth: int
    description: str
    matched: tuple[tuple[str, Any], ...]
    concluded: tuple[tuple[str, Any], ...]
    reference: str


def _fact_fields(f: RecipientFacts, text: str, phrases: frozenset[str], decided: dict[str, Any],
                 reads: frozenset[str]) -> dict:
    """The fields of the fact the rules match, limited to those they read (``reads``)."""
    status = decided.get("status") or f.status
    fields = {
        "status": status or "",
        "reply": f.reply_code or 0,
        "token": (f.token or "").lower(),
        "mta": f.mta or "",
        "action": f.action or "",
        "kind": f.kind,
        "reason": decided.get("reason") or "",
    }
    if "keywords" in reads:
        fields["keywords"] = frozenset(p for p in phrases if p in text)
    return {k: v for k, v in fields.items() if k in reads}


def _tests(rule: RuleSpec) -> dict[str, Callable[[Any], bool]]:
    w = rule.when
    tests: dict[str, Callable[[Any], bool]] = {}
    if w.status:
        pats = tuple(w.status)
        tests["status"] = lambda s: any(code_matches(p, s) for p in pats)
    if w.has_status is not None:
        want = w.has_status
        prev = tests.get("status")
        tests["status"] = (lambda s: bool(s) == want and prev(s)) if prev else (lambda s: bool(s) == want)
    if w.reply:
        pats = tuple(w.reply)
        tests["reply"] = lambda r: any(reply_matches(p, r) for p in pats)
    if w.has_reply is not None:
        want_r = w.has_reply
        prev_r = tests.get("reply")
        tests["reply"] = (lambda r: bool(r) == want_r and prev_r(r)) if prev_r else (lambda r: bool(r) == want_r)
    if w.token:
        prefixes = tuple(t.lower() for t in w.token)
        tests["token"] = lambda t: bool(t) and t.startswith(prefixes)
    for name in ("mta", "action", "kind", "reason"):
        values = frozenset(getattr(w, name))
        if values:
            tests[name] = lambda v, values=values: v in values
    if w.text or w.text_all or w.not_text:
        any_of, all_of, none_of = frozenset(w.text), frozenset(w.text_all), frozenset(w.not_text)
        tests["keywords"] = lambda k: ((not any_of or bool(any_of & k)) and all_of <= k and not (none_of & k))
    return tests


class _Engine:
    """One experta engine holding the rules of a fixed set of packs for one stage."""

    def __init__(self, stage: str, packs: tuple[Pack, ...]):
        self.stage = stage
        self.phrases = frozenset(ph for p in packs for r in p.spec.rule for ph in r.when.phrases())
        #: The fact fields some rule here tests: the only ones declared, and the memo key.
        self.reads = frozenset(k for p in packs for r in p.spec.rule for k in _tests(r))
        self.steps: list[Step] = []
        depth: dict[str, int] = {}
        rules = {p.rule_id(r): (p, r) for p in packs for r in p.spec.rule}

        def depth_of(rid: str, seen: tuple[str, ...] = ()) -> int:
            if rid not in depth:
                deps = [d for d in rules[rid][1].when.after if d in rules and d not in seen]
                depth[rid] = 1 + max((depth_of(d, seen + (rid,)) for d in deps), default=-1)
            return depth[rid]

        attrs: dict[str, Any] = {}
        for n, (rid, (pack, rule)) in enumerate(sorted(rules.items())):
            tests = _tests(rule)
            pattern = Facts(**{k: experta.P(t) for k, t in tests.items()})
            ces = [experta.AS.fact << pattern]
            missing_dep = False
            for dep in rule.when.after:
                if dep in rules:
                    ces.append(Fired(rule=dep))
                else:
                    missing_dep = True  # its pack was not dispatched: the rule cannot fire
            if missing_dep:
                continue
            attrs[f"r{n}"] = experta.Rule(*ces, salience=pack.salience(rule))(
                self._action(pack, rule, rid, tuple(sorted(tests)), depth_of(rid)))
        self.engine = type("PackEngine", (experta.KnowledgeEngine,), attrs)()
        # The network is fixed once built: answer experta's two per-run look-ups from a cache
        # (its own is a per-class lru_cache(maxsize=1), missed whenever engines alternate, and
        # its deffacts are found by inspecting every attribute of the engine on each reset).
        deffacts, nodes = self.engine.get_deffacts(), self.engine.matcher._get_conflict_set_nodes()
        self.engine.get_deffacts = lambda: deffacts
        self.engine.matcher._get_conflict_set_nodes = lambda: nodes

    def _action(self, pack: Pack, rule: RuleSpec, rid: str, read: tuple[str, ...], depth: int) -> Callable:
        concluded = tuple((k, v) for k, v in rule.then.model_dump(exclude_defaults=True).items())
        steps = self.steps

        def fire(engine: Any, fact: Any) -> None:
            matched = tuple((k, sorted(fact[k]) if k == "keywords" else fact[k]) for k in read)
            matched += (("after", list(rule.when.after)),) if rule.when.after else ()
            steps.append(Step(self.stage, rid, pack.id, pack.salience(rule), depth, rule.description,
                              matched, concluded, rule.reference))
            engine.declare(Fired(rule=rid))

        fire.__name__ = rid.replace("/", "__").replace("-", "_").replace(".", "_")
        fire.__doc__ = rule.description
        return fire

    def run(self, fields: dict) -> tuple[Step, ...]:
        self.steps.clear()
        self.engine.reset()
        self.engine.declare(Facts(**fields))
        self.engine.run()
        return tuple(sorted(self.steps, key=lambda s: (s.depth, -s.salience, s.rule)))


@dataclass
class Outcome:
    """Decided conclusions and the ordered trace."""

    decided: dict[str, Any]
    decided_by: dict[str, str]
    steps: list[Step]
    added_remediation: list[tuple[str, str, str]]  # (pack, remediation id, rule)
    notes: list[str]


class Inference:
    """Runs the three stages over a :class:`PackSet`, with engines and results cached."""

    def __init__(self, packs: PackSet, memoize: bool = True):
        self.packs = packs
        self.memoize = memoize
        self._engines: OrderedDict[tuple, _Engine] = OrderedDict()
        self._memo: OrderedDict[tuple, tuple[Step, ...]] = OrderedDict()

    def _engine(self, stage: str, chosen: tuple[Pack, ...]) -> _Engine:
        key = (stage, tuple(p.id for p in chosen))
        eng = self._engines.get(key)
        if eng is None:
            eng = _Engine(stage, chosen)
            self._engines[key] = eng
            if len(self._engines) > ENGINE_CACHE_SIZE:
                self._engines.popitem(last=False)
        else:
            self._engines.move_to_end(key)
        return eng

    def run(self, facts: RecipientFacts) -> Outcome:
        """Infer conclusions for one recipient's facts."""
        text = " ".join(facts.diagnostic.lower().split())
        decided: dict[str, Any] = {}
        decided_by: dict[str, str] = {}
        salience_of: dict[str, int] = {}
        trace: list[Step] = []
        added: list[tuple[str, str, str]] = []
        notes: list[str] = []
        for stage in STAGES:
            chosen = self.packs.select(stage, decided.get("status") or facts.status, facts.token)
            if not chosen:
                continue
            engine = self._engine(stage, chosen)
            fields = _fact_fields(facts, text, engine.phrases, decided, engine.reads)
            key = (stage, tuple(p.id for p in chosen), tuple(sorted(fields.items())))
            steps = self._memo.get(key) if self.memoize else None
            if steps is None:
                steps = engine.run(fields)
                if self.memoize:
                    self._memo[key] = steps
                    if len(self._memo) > MEMO_SIZE:
                        self._memo.popitem(last=False)
            for step in steps:
                trace.append(step)
                for slot, value in step.concluded:
                    if slot == "add_remediation":
                        added.extend((step.pack, rem, step.rule) for rem in value)
                    elif slot == "note":
                        notes.append(value)
                    elif slot in SLOTS:
                        key = "cause" if slot == "causes" else slot
                        if key in decided_by and step.salience <= salience_of[key]:
                            continue
                        decided_by[key] = step.rule
                        salience_of[key] = step.salience
                        if key == "cause":
                            causes = list(value) if slot == "causes" else [value]
                            decided.update(cause=causes[0], causes=causes, cause_pack=step.pack,
                                           certain=len(causes) == 1)
                        else:
                            decided[key] = value
        return Outcome(decided, decided_by, trace, added, notes)


def trace_steps(steps: list[Step], decided_by: dict[str, str]) -> list[TraceStep]:
    """Number the fired rules and mark which of their conclusions were kept."""
    out = []
    for n, s in enumerate(steps, 1):
        won = sorted(slot for slot, rid in decided_by.items() if rid == s.rule
                     and any(k == slot or (slot == "cause" and k == "causes") for k, _ in s.concluded))
        won += [k for k, _ in s.concluded if k in ("add_remediation", "note")]  # these always accumulate
        out.append(TraceStep(seq=n, stage=s.stage, rule=s.rule, pack=s.pack, salience=s.salience,
                             description=s.description, matched=dict(s.matched), concluded=dict(s.concluded),
                             reference=s.reference, won=won))
    return out


__all__ = ["Inference", "Outcome", "Step", "trace_steps"]
