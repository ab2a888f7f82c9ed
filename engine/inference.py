"""The rule engine: pack rules compiled into experta, run in three stages, with a trace.

This is the only module that imports experta (through :mod:`ndrkb.experta_compat`).
Stages: ``infer`` (a status code when the bounce gives none), ``diagnose`` (reason,
role, cause, recipient type; the packs dispatched by status code and token plus the
always-on core and fallback), ``finalize`` (permanent, hard bounce).  Within a stage a
conclusion is decided by the fired rule of highest salience; every fired rule is kept
in the trace with what it matched and concluded.  The packs of a stage run in groups
(a pack and those whose rules follow its rules), one engine per group, their fired
rules merged in one order.  Inference is a pure function of the facts the rules read,
so each group's result is memoized by the facts its rules read.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from .experta_compat import load_experta
from .models import RecipientFacts, TraceStep
from .packs import STAGES, Pack, PackSet, RuleSpec, code_matches, reply_matches

experta = load_experta()

SLOTS = ("status", "reason", "role", "cause", "causes", "recipient_type", "permanent", "hard_bounce")
MEMO_SIZE = 8192
PLAN_CACHE_SIZE = 4096


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


class Phrases:
    """A fixed set of phrases, and which of them occur in a text: exactly
    ``{p for p in phrases if p in text}`` (``text`` as :class:`Text` normalises it), but a
    phrase of several words is tested only when the text has a word it needs."""

    def __init__(self, phrases: Iterable[str]):
        self._direct: list[str] = []
        #: a middle word of a phrase of 3+ words: in the text it has a space on both sides, so it is a word
        self._by_word: dict[str, list[str]] = {}
        #: the first 3 letters of a 2-word phrase's second word: in the text a word starts with them
        self._by_head: dict[str, list[str]] = {}
        for p in sorted(set(phrases)):
            words = p.split(" ")
            if p != " ".join(p.split()) or len(words) == 1 or (len(words) == 2 and len(words[1]) < 3):
                self._direct.append(p)
            elif len(words) == 2:
                self._by_head.setdefault(words[1][:3], []).append(p)
            else:
                self._by_word.setdefault(max(words[1:-1], key=len), []).append(p)

    def found(self, text: Text) -> frozenset[str]:
        """The phrases that occur in the text."""
        hits = [p for p in self._direct if p in text.text]
        for w in text.words & self._by_word.keys():
            hits += [p for p in self._by_word[w] if p in text.text]
        for h in text.heads & self._by_head.keys():
            hits += [p for p in self._by_head[h] if p in text.text]
        return frozenset(hits)


class Text:
    """A recipient's diagnostic text as the rules read it: lower case, single-spaced; with its words."""

    def __init__(self, diagnostic: str):
        self.text = " ".join(diagnostic.lower().split())
        self.words = frozenset(self.text.split(" "))
        self.heads = frozenset(w[:3] for w in self.words)


def _fact_fields(f: RecipientFacts, text: Text, phrases: Phrases, decided: dict[str, Any],
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
        fields["keywords"] = phrases.found(text)
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
    """The rules of a fixed group of packs for one stage; the experta network is built on first run."""

    def __init__(self, stage: str, packs: tuple[Pack, ...]):
        self.stage = stage
        self.packs = packs
        self.key = (stage, tuple(p.id for p in packs))
        self.phrases = Phrases(ph for p in packs for r in p.spec.rule for ph in r.when.phrases())
        #: The fact fields some rule here tests: the only ones declared, and the memo key.
        self.reads = frozenset(k for p in packs for r in p.spec.rule for k in _tests(r))
        self.steps: list[Step] = []
        self.engine: Any = None

    def _build(self) -> Any:
        depth: dict[str, int] = {}
        rules = {p.rule_id(r): (p, r) for p in self.packs for r in p.spec.rule}

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
        engine = type("PackEngine", (experta.KnowledgeEngine,), attrs)()
        # The network is fixed once built: answer experta's two per-run look-ups from a cache
        # (its own is a per-class lru_cache(maxsize=1), missed whenever engines alternate, and
        # its deffacts are found by inspecting every attribute of the engine on each reset).
        deffacts, nodes = engine.get_deffacts(), engine.matcher._get_conflict_set_nodes()
        engine.get_deffacts = lambda: deffacts
        engine.matcher._get_conflict_set_nodes = lambda: nodes
        return engine

    def _action(self, pack: Pack, rule: RuleSpec, rid: str, read: tuple[str, ...], depth: int) -> Callable:
        concluded = tuple((k, v) for k, v in rule.then.model_dump(exclude_defaults=True).items())
        phrases = frozenset(rule.when.phrases())
        steps = self.steps

        def fire(engine: Any, fact: Any) -> None:
            # keywords: this rule's own phrases found in the text (the fact holds its group's)
            matched = tuple((k, sorted(fact[k] & phrases) if k == "keywords" else fact[k]) for k in read)
            matched += (("after", list(rule.when.after)),) if rule.when.after else ()
            steps.append(Step(self.stage, rid, pack.id, pack.salience(rule), depth, rule.description,
                              matched, concluded, rule.reference))
            engine.declare(Fired(rule=rid))

        fire.__name__ = rid.replace("/", "__").replace("-", "_").replace(".", "_")
        fire.__doc__ = rule.description
        return fire

    def run(self, fields: dict) -> tuple[Step, ...]:
        if self.engine is None:
            self.engine = self._build()
        self.steps.clear()
        self.engine.reset()
        self.engine.declare(Facts(**fields))
        self.engine.run()
        return tuple(self.steps)


def _step_order(s: Step) -> tuple:
    return (s.depth, -s.salience, s.rule)


def _groups(packs: PackSet) -> dict[str, str]:
    """Pack id -> its group: packs linked by ``when.after`` (either way) share one; others stand alone.

    Rules of different groups cannot affect each other, so each group runs in its own
    engine and their fired rules merge in one order: the engines stay one per group, not
    one per combination of dispatched packs, and the always-on packs are built once.
    """
    root = {p.id: p.id for p in packs.packs}

    def find(x: str) -> str:
        while root[x] != x:
            x = root[x]
        return x

    for p in packs.packs:
        for dep in p.depends_on:
            if dep in root:
                a, b = sorted((find(p.id), find(dep)))
                root[b] = a
    return {k: find(k) for k in root}


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
        self._group = _groups(packs)
        #: one engine per group of packs dispatched together: bounded by the pack set, built on first use
        self._engines: dict[tuple[str, tuple[str, ...]], _Engine] = {}
        self._plan = functools.lru_cache(maxsize=PLAN_CACHE_SIZE)(self._make_plan)
        self._memo: OrderedDict[tuple, tuple[Step, ...]] = OrderedDict()

    def _make_plan(self, stage: str, status: Optional[str], token: Optional[str]) -> tuple[_Engine, ...]:
        """The engines a stage runs for this code and token: one per group of the dispatched packs."""
        groups: dict[str, list[Pack]] = {}
        for p in self.packs.select(stage, status, token):
            groups.setdefault(self._group.get(p.id, p.id), []).append(p)
        plan = []
        for group in groups.values():
            key = (stage, tuple(p.id for p in group))
            if key not in self._engines:
                self._engines[key] = _Engine(stage, tuple(group))
            plan.append(self._engines[key])
        return tuple(plan)

    def _fired(self, plan: tuple[_Engine, ...], facts: RecipientFacts, text: Text,
               decided: dict[str, Any]) -> list[Step]:
        """The rules that fire in the plan's engines, in trace order."""
        fired: list[Step] = []
        for engine in plan:
            fields = _fact_fields(facts, text, engine.phrases, decided, engine.reads)
            key = (engine.key, tuple(sorted(fields.items())))
            steps = self._memo.get(key) if self.memoize else None
            if steps is None:
                steps = engine.run(fields)
                if self.memoize:
                    self._memo[key] = steps
                    if len(self._memo) > MEMO_SIZE:
                        self._memo.popitem(last=False)
            fired.extend(steps)
        fired.sort(key=_step_order)
        return fired

    def run(self, facts: RecipientFacts) -> Outcome:
        """Infer conclusions for one recipient's facts."""
        text = Text(facts.diagnostic)
        decided: dict[str, Any] = {}
        decided_by: dict[str, str] = {}
        salience_of: dict[str, int] = {}
        trace: list[Step] = []
        added: list[tuple[str, str, str]] = []
        notes: list[str] = []
        for stage in STAGES:
            plan = self._plan(stage, decided.get("status") or facts.status, facts.token)
            for step in self._fired(plan, facts, text, decided):
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
