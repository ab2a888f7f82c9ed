"""The rule engine: pack rules compiled into experta, run in four stages, with a trace.

This is the only module that imports experta (through :mod:`ndrkb.rules.experta_compat`).
Stages, in order: ``reason`` (the reason procedure: candidates ranked by the one
precedence list, ``vocabulary.REASON_PROCEDURE``, through the salience it gives each
step; it reads only the bounce's own status code), ``infer`` (a status code when the
bounce gives none, from the reply code and the decided reason), ``diagnose`` (role,
cause, recipient type, and a knowledge pack's own reason; the packs dispatched by status
code and token plus the always-on core and fallback), ``finalize`` (permanent, hard
bounce).  Within a stage a
conclusion is decided by the fired rule of highest salience; every fired rule is kept
in the trace with what it matched and concluded.  The packs of a stage run in groups
(a pack and those whose rules follow its rules), one engine per group, their fired
rules merged in one order.  Inference is a pure function of the facts the rules read,
so a whole run is memoized by the fields any rule reads, and (for the runs that miss)
each group's result by the fields its own rules read.
"""
from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from .experta_compat import load_experta
from ..models import RecipientFacts, TraceStep, domain_of
from ..vocabulary import status_name
from .dispatch import PackSet
from .schema import ORDERED, STAGES, Pack, RuleSpec, code_matches, reply_matches

experta = load_experta()

SLOTS = ("status", "reason", "role", "cause", "causes", "recipient_type", "permanent", "hard_bounce")
MEMO_SIZE = 8192
PLAN_CACHE_SIZE = 4096


class Observed(experta.Fact):
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


def occurs(phrase: str, text: str) -> bool:
    """Whether the phrase occurs in the text; an ordered phrase when its fragments occur in order."""
    if ORDERED not in phrase:
        return phrase in text
    at = 0
    for fragment in phrase.split(ORDERED):
        found = text.find(fragment, at)
        if found < 0:
            return False
        at = found + len(fragment)
    return True


class Phrases:
    """A fixed set of phrases, and which of them occur in a text: exactly
    ``{p for p in phrases if occurs(p, text)}`` (``text`` as :class:`Text` normalises it), but a
    phrase of several words is tested only when the text has a word it needs.  Phrases
    ``within`` a larger set are found as those of the larger set found in the text, which
    a :class:`Text` finds once for all the sets within it."""

    def __init__(self, phrases: Iterable[str], within: Optional[Phrases] = None):
        self.within = within
        self.own = frozenset(phrases)
        self._direct: list[str] = []
        self._ordered: list[str] = []
        #: a middle word of a phrase of 3+ words: in the text it has a space on both sides, so it is a word
        self._by_word: dict[str, list[str]] = {}
        #: the first 3 letters of a 2-word phrase's second word: in the text a word starts with them
        self._by_head: dict[str, list[str]] = {}
        for p in sorted(self.own) if within is None else ():
            words = p.split(" ")
            if ORDERED in p:
                self._ordered.append(p)
            elif p != " ".join(p.split()) or len(words) == 1 or (len(words) == 2 and len(words[1]) < 3):
                self._direct.append(p)
            elif len(words) == 2:
                self._by_head.setdefault(words[1][:3], []).append(p)
            else:
                self._by_word.setdefault(max(words[1:-1], key=len), []).append(p)

    def found(self, text: Text) -> frozenset[str]:
        """The phrases that occur in the text."""
        if self.within is not None:
            return self.own & text.found(self.within)
        hits = [p for p in self._direct if p in text.text]
        hits += [p for p in self._ordered if occurs(p, text.text)]
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
        self._found: dict[int, frozenset[str]] = {}

    def found(self, phrases: Phrases) -> frozenset[str]:
        """The phrases of the set that occur in the text, found once per set."""
        if id(phrases) not in self._found:
            self._found[id(phrases)] = phrases.found(self)
        return self._found[id(phrases)]


def provider_hosts(f: RecipientFacts, fragments: frozenset[str]) -> frozenset[str]:
    """The host name fragments (``when.rhost``) that name the receiving provider: the remote
    host contains the fragment, or the fragment contains the recipient's domain (fact sheet 3.3)."""
    host, domain = (f.remote_mta or "").lower(), domain_of(f.recipient)
    return frozenset(h for h in fragments if (host and h in host) or (domain and domain in h))


def _fact_fields(f: RecipientFacts, text: Text, phrases: Phrases, decided: dict[str, Any],
                 reads: frozenset[str], hosts: frozenset[str] = frozenset()) -> dict:
    """The fields of the fact the rules match, limited to those they read (``reads``);
    ``hosts``: the provider host fragments that hold (:func:`provider_hosts`)."""
    status = decided.get("status") or f.status
    fields = {
        "status": status or "",
        "reply": f.reply_code or 0,
        "token": (f.token or "").lower(),
        "mta": f.mta or "",
        "action": f.action or "",
        "kind": f.kind,
        "form": f.form,
        "reason": decided.get("reason") or "",
        "command": f.command or "none",
        "status_name": status_name(f.status),
        "has_text": bool(text.text),
        "extensions": frozenset(f"{k}: {v}" for k, v in f.extensions.items()),
        "rhost": hosts,
    }
    if "keywords" in reads:
        fields["keywords"] = phrases.found(text)
    return {k: v for k, v in fields.items() if k in reads}


def _tests(rule: RuleSpec) -> dict[str, Callable[[Any], bool]]:
    w = rule.when
    tests: dict[str, Callable[[Any], bool]] = {}
    if w.status:
        codes = tuple(w.status)
        tests["status"] = lambda s: any(code_matches(p, s) for p in codes)
    if w.has_status is not None:
        want = w.has_status
        prev = tests.get("status")
        tests["status"] = (lambda s: bool(s) == want and prev(s)) if prev else (lambda s: bool(s) == want)
    if w.reply:
        replies = tuple(w.reply)
        tests["reply"] = lambda r: any(reply_matches(p, r) for p in replies)
    if w.has_reply is not None:
        want_r = w.has_reply
        prev_r = tests.get("reply")
        tests["reply"] = (lambda r: bool(r) == want_r and prev_r(r)) if prev_r else (lambda r: bool(r) == want_r)
    if w.has_text is not None:
        want_t = w.has_text
        tests["has_text"] = lambda t: t == want_t
    if w.token:
        prefixes = tuple(t.lower() for t in w.token)
        tests["token"] = lambda t: bool(t) and t.startswith(prefixes)
    for name in ("mta", "action", "kind", "form", "reason", "command", "status_name"):
        values, unwanted = frozenset(getattr(w, name)), frozenset(getattr(w, "not_" + name, ()))
        if values or unwanted:
            tests[name] = lambda v, values=values, unwanted=unwanted: (not values or v in values) and v not in unwanted
    if w.field:
        wanted = tuple(frozenset(f"{name}: {v}" for v in values) for name, values in sorted(w.field.items()))
        tests["extensions"] = lambda e: all(any_of & e for any_of in wanted)
    if w.rhost:
        hosts = frozenset(w.rhost)
        tests["rhost"] = lambda h: bool(hosts & h)
    if w.text or w.text_all or w.not_text:
        any_of, all_of, none_of = frozenset(w.text), frozenset(w.text_all), frozenset(w.not_text)
        tests["keywords"] = lambda k: ((not any_of or bool(any_of & k)) and all_of <= k and not (none_of & k))
    return tests


class _Rule:
    """A rule compiled for one engine: its tests on the fact, and the trace step it gives when it fires."""

    def __init__(self, stage: str, pack: Pack, rule: RuleSpec, rid: str, depth: int):
        self.stage, self.pack, self.rule, self.rid, self.depth = stage, pack, rule, rid, depth
        self.tests = _tests(rule)
        self.read = tuple(sorted(self.tests))
        self.concluded = tuple((k, v) for k, v in rule.then.model_dump(exclude_defaults=True).items())
        self.phrases = frozenset(rule.when.phrases())
        self.hosts = frozenset(rule.when.rhost)

    def matches(self, fields: dict) -> bool:
        """Whether the fact passes every test of the rule (its ``after`` rules aside)."""
        return all(test(fields[k]) for k, test in self.tests.items())

    def _shown(self, key: str, value: Any) -> Any:
        """A matched field as the trace shows it: of the text, the provider hosts and the vendor
        fields, what this rule read (the fact holds its group's phrases and hosts, every vendor field)."""
        if key == "keywords":
            return sorted(value & self.phrases)
        if key == "rhost":
            return sorted(value & self.hosts)
        if key == "extensions":
            return sorted(e for e in value if e.split(":")[0] in self.rule.when.field)
        return value

    def step(self, fields: dict) -> Step:
        """The trace step of the rule fired on this fact."""
        matched = tuple((k, self._shown(k, fields[k])) for k in self.read)
        matched += (("after", list(self.rule.when.after)),) if self.rule.when.after else ()
        return Step(self.stage, self.rid, self.pack.id, self.pack.salience(self.rule), self.depth,
                    self.rule.description, matched, self.concluded, self.rule.reference)


class _Engine:
    """The rules of a fixed group of packs for one stage; the experta network is built on first run."""

    def __init__(self, stage: str, packs: tuple[Pack, ...], phrases: Optional[Phrases] = None):
        self.stage = stage
        self.packs = packs
        self.key = (stage, tuple(p.id for p in packs))
        #: the phrases its rules look for (``within`` the given set of all packs' phrases)
        self.phrases = Phrases((ph for p in packs for r in p.spec.rule for ph in r.when.phrases()), phrases)
        found = {p.rule_id(r): (p, r) for p in packs for r in p.spec.rule}
        depth: dict[str, int] = {}

        def depth_of(rid: str, seen: tuple[str, ...] = ()) -> int:
            if rid not in depth:
                deps = [d for d in found[rid][1].when.after if d in found and d not in seen]
                depth[rid] = 1 + max((depth_of(d, seen + (rid,)) for d in deps), default=-1)
            return depth[rid]

        #: The rules that can fire, by id in sorted order: a rule after one whose pack was
        #: not dispatched cannot.
        self.rules = {rid: _Rule(stage, p, r, rid, depth_of(rid)) for rid, (p, r) in sorted(found.items())
                      if all(d in found for d in r.when.after)}
        #: The fact fields some rule here tests: the only ones declared, and the memo key.
        self.reads = frozenset(k for compiled in self.rules.values() for k in compiled.tests)
        self.names = {rid: f"r{n}" for n, rid in enumerate(sorted(found))}
        self.fired: list[str] = []
        self.engine: Any = None

    def _build(self) -> Any:
        attrs: dict[str, Any] = {}
        for rid, compiled in self.rules.items():
            pattern = Observed(**{k: experta.P(t) for k, t in compiled.tests.items()})
            ces = [experta.AS.fact << pattern] + [Fired(rule=dep) for dep in compiled.rule.when.after]
            attrs[self.names[rid]] = experta.Rule(*ces, salience=compiled.pack.salience(compiled.rule))(
                self._action(compiled))
        engine = type("PackEngine", (experta.KnowledgeEngine,), attrs)()
        # The network is fixed once built: answer experta's two per-run look-ups from a cache
        # (its own is a per-class lru_cache(maxsize=1), missed whenever engines alternate, and
        # its deffacts are found by inspecting every attribute of the engine on each reset).
        deffacts, nodes = engine.get_deffacts(), engine.matcher._get_conflict_set_nodes()
        engine.get_deffacts = lambda: deffacts
        engine.matcher._get_conflict_set_nodes = lambda: nodes
        return engine

    def _action(self, compiled: _Rule) -> Callable:
        fired = self.fired
        rid = compiled.rid
        # Only a rule another rule follows (when.after) needs its firing declared: each
        # declaration is a pass through the network, and most rules are followed by none.
        followed = any(rid in other.rule.when.after for other in self.rules.values())

        def fire(engine: Any, fact: Any) -> None:
            fired.append(rid)
            if followed:
                engine.declare(Fired(rule=rid))

        fire.__name__ = rid.replace("/", "__").replace("-", "_").replace(".", "_")
        fire.__doc__ = compiled.rule.description
        return fire

    def matching(self, fields: dict) -> tuple[str, ...]:
        """The rules whose tests the fact passes: which of them fire depends on nothing else."""
        return tuple(rid for rid, compiled in self.rules.items() if compiled.matches(fields))

    def fire(self, fields: dict) -> tuple[str, ...]:
        """The rules experta fires on the fact, in firing order."""
        if self.engine is None:
            self.engine = self._build()
        self.fired.clear()
        self.engine.reset()
        self.engine.declare(Observed(**fields))
        self.engine.run()
        return tuple(self.fired)

    def steps(self, fired: tuple[str, ...], fields: dict) -> tuple[Step, ...]:
        """The trace steps of these rules fired on the fact."""
        return tuple(self.rules[rid].step(fields) for rid in fired)

    def run(self, fields: dict) -> tuple[Step, ...]:
        """The trace steps of the rules experta fires on the fact, in firing order (experta is
        not started when the fact passes no rule's tests: it would fire nothing)."""
        return self.steps(self.fire(fields), fields) if self.matching(fields) else ()


def _remember(memo: OrderedDict, key: tuple, value: Any) -> Any:
    """Store a result in a bounded memo (the oldest entry goes) and return it."""
    memo[key] = value
    if len(memo) > MEMO_SIZE:
        memo.popitem(last=False)
    return value


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
        self._phrases = Phrases(ph for p in packs.packs for r in p.spec.rule for ph in r.when.phrases())
        self._hosts = frozenset(h for p in packs.packs for r in p.spec.rule for h in r.when.rhost)
        #: one engine per group of packs dispatched together: bounded by the pack set, built on first use
        self._engines: dict[tuple[str, tuple[str, ...]], _Engine] = {}
        self._plan = functools.lru_cache(maxsize=PLAN_CACHE_SIZE)(self._make_plan)
        #: whole runs, by the fact fields any rule reads; each engine's steps, by the fields it reads
        self._runs: OrderedDict[tuple, Outcome] = OrderedDict()
        self._memo: OrderedDict[tuple, tuple[Step, ...]] = OrderedDict()
        #: the rules fired, by engine and the rules whose tests the fact passes
        self._by_match: OrderedDict[tuple, tuple[str, ...]] = OrderedDict()

    def _make_plan(self, stage: str, status: Optional[str], token: Optional[str]) -> tuple[_Engine, ...]:
        """The engines a stage runs for this code and token: one per group of the dispatched packs."""
        groups: dict[str, list[Pack]] = {}
        for p in self.packs.select(stage, status, token):
            groups.setdefault(self._group.get(p.id, p.id), []).append(p)
        plan = []
        for group in groups.values():
            key = (stage, tuple(p.id for p in group))
            if key not in self._engines:
                self._engines[key] = _Engine(stage, tuple(group), self._phrases)
            plan.append(self._engines[key])
        return tuple(plan)

    def _fired(self, plan: tuple[_Engine, ...], facts: RecipientFacts, text: Text,
               decided: dict[str, Any], hosts: frozenset[str]) -> list[Step]:
        """The rules that fire in the plan's engines, in trace order."""
        fired: list[Step] = []
        for engine in plan:
            fields = _fact_fields(facts, text, engine.phrases, decided, engine.reads, hosts)
            if not self.memoize:
                fired.extend(engine.run(fields))
                continue
            key = (engine.key, tuple(fields.values()))  # the engine fixes the fields and their order
            steps = self._memo.get(key)
            if steps is None:
                # facts passing the same rules' tests fire the same rules: run experta once for them
                match = (engine.key, engine.matching(fields))
                rules = self._by_match.get(match)
                if rules is None:
                    rules = _remember(self._by_match, match, engine.fire(fields))
                steps = _remember(self._memo, key, engine.steps(rules, fields))
            fired.extend(steps)
        fired.sort(key=_step_order)
        return fired

    def run(self, facts: RecipientFacts) -> Outcome:
        """Infer conclusions for one recipient's facts (a memoized outcome is shared: read it only)."""
        text = Text(facts.diagnostic)
        hosts = provider_hosts(facts, self._hosts) if self._hosts else frozenset()
        if not self.memoize:
            return self._infer(facts, text, hosts)
        # Every field an engine reads comes from these (the decided ones from earlier stages
        # of the same run), so the whole run is a function of them.
        key = (facts.status, facts.reply_code, facts.token, facts.mta, facts.action, facts.kind, facts.form, facts.command,
               bool(text.text), text.found(self._phrases), tuple(sorted(facts.extensions.items())), hosts)
        outcome = self._runs.get(key)
        if outcome is None:
            outcome = _remember(self._runs, key, self._infer(facts, text, hosts))
        return outcome

    def _infer(self, facts: RecipientFacts, text: Text, hosts: frozenset[str]) -> Outcome:
        """Run the three stages, each engine's fired rules memoized by the fields it reads."""
        decided: dict[str, Any] = {}
        decided_by: dict[str, str] = {}
        salience_of: dict[str, int] = {}
        trace: list[Step] = []
        added: list[tuple[str, str, str]] = []
        notes: list[str] = []
        for stage in STAGES:
            plan = self._plan(stage, decided.get("status") or facts.status, facts.token)
            for step in self._fired(plan, facts, text, decided, hosts):
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
