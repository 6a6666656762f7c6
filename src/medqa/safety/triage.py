"""Red-flag triage of patient messages, run before any text generation.

Approach chosen: transparent rules, not a model.

* Auditable - every escalation names the rules and phrases that fired
  (``TriageResult.matched`` / ``evidence``), and every criterion lives in a
  readable table (``rules.py``, ``lexicon_*.py``) a clinician can review.
* Deterministic - the same message always gets the same answer, so tests
  and regression sets are meaningful.
* Cheap and dependency-free - pure standard library; importing
  ``medqa.safety`` never imports torch, so triage can run before (and
  independently of) loading any model, and can gate generation.

Pipeline: normalise the text (lowercase, contractions, frequent typos) ->
split into sentences and clauses -> match lay-language symptom patterns ->
label each mention as active, negated ("no chest pain"), historical ("had
a stroke years ago") or hypothetical ("what are the signs of a stroke?") ->
apply single and combination red-flag rules (e.g. chest pain + sweating,
fever + stiff neck, head injury + vomiting). Informational framing is
judged per clause, so it never hides a current emergency reported in
another clause; suicidal-ideation phrasings ignore question framing
entirely, erring on the side of escalation.

Second signal: rules only know the phrasings they encode, so ``triage``
also takes an optional ``SemanticSignal`` (``semantic.py``, models passed
in by the caller): a fine-tuned classifier that reads the whole message, and
the nearest emergency and routine exemplars of each sentence. With the
classifier, a message is urgent when the classifier is confident
(P >= threshold), or when the rules or exemplars fire and the classifier
does not rule it out (P >= floor): recall first, and a negated or past
mention the phrase rules misread no longer alarms. Without it, either of the
rules and exemplars escalates alone. The result says which signals fired
(``signals``), why (``matched``, ``evidence``, ``semantic``, ``classifier``)
and, when the classifier overruled them, that too. Without any second
signal the rules work alone and nothing heavy loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

from .findings import ACTIVE, USABLE, Finding, extract_findings
from .messages import CRISIS_LINES, URGENT_MESSAGES
from .lexicon import CONTEXT_TERMS
from .rules import CATEGORY_PRIORITY, RULES, Rule
from .semantic import (CONTEXT_TURNS, ClassifierVerdict, SemanticMatch, SemanticSignal, classifier_text,
                       message_parts, user_turns)


@dataclass(frozen=True)
class TriageResult:
    """Outcome of triaging one message (or the latest conversation turn)."""

    urgent: bool
    category: str | None
    message: str
    matched: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default=())
    signals: tuple[str, ...] = ()  # "rules", "semantic", "classifier": which signals found an emergency
    semantic: SemanticMatch | None = None  # the exemplar match, when it found one
    classifier: ClassifierVerdict | None = None  # the classifier's reading, whenever it ran

    @property
    def overruled(self) -> bool:
        """Rules or exemplars found an emergency that the classifier ruled out."""
        return bool(self.signals) and not self.urgent

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable view of the result."""
        return {
            "urgent": self.urgent,
            "category": self.category,
            "message": self.message,
            "matched": list(self.matched),
            "categories": list(self.categories),
            "evidence": list(self.evidence),
            "signals": list(self.signals),
            "semantic": self.semantic.to_dict() if self.semantic else None,
            "classifier": self.classifier.to_dict() if self.classifier else None,
            "overruled": self.overruled,
        }


NOT_URGENT = TriageResult(False, None, "")


def _rule_evidence(rule: Rule, findings: Sequence[Finding],
                   latest: int | None) -> list[Finding] | None:
    """Findings that satisfy ``rule``, or None when it does not fire."""
    used: list[Finding] = []
    satisfied = 0
    for group in rule.groups:
        hits = [f for f in findings if f.name in group and f.status in USABLE]
        if hits:
            satisfied += 1
            used.extend(hits)
    needed = rule.min_groups or len(rule.groups)
    if satisfied < needed or len({f.text for f in used}) < rule.min_findings:
        return None
    anchors = [f for f in used if f.status == ACTIVE and (latest is None or f.source == latest)]
    reported = any(f.status == ACTIVE and f.name not in CONTEXT_TERMS for f in used)
    return used if anchors and reported else None


def _compose_message(categories: Sequence[str]) -> str:
    primary = categories[0]
    message = URGENT_MESSAGES[primary]
    if "self_harm" in categories and primary not in ("self_harm", "poisoning"):
        message = f"{message} {CRISIS_LINES}"
    return message


def _decide(findings: Sequence[Finding], latest: int | None = None) -> TriageResult:
    fired: list[Rule] = []
    evidence: list[str] = []
    for rule in RULES:
        used = _rule_evidence(rule, findings, latest)
        if used is not None:
            fired.append(rule)
            evidence.extend(f.text for f in used if f.text not in evidence)
    if not fired:
        return NOT_URGENT
    present = {r.category for r in fired}
    categories = tuple(c for c in CATEGORY_PRIORITY if c in present)
    return TriageResult(
        urgent=True,
        category=categories[0],
        message=_compose_message(categories),
        matched=tuple(r.name for r in fired),
        categories=categories,
        evidence=tuple(evidence),
        signals=("rules",),
    )


def _combine(rules: TriageResult, match: SemanticMatch | None, verdict: ClassifierVerdict | None) -> TriageResult:
    """Merge the signals (module docstring); the rules' category leads when they fire (they name their evidence)."""
    signals = (*rules.signals, *(("semantic",) if match else ()),
               *(("classifier",) if verdict and verdict.fired else ()))
    if not signals:
        return replace(rules, classifier=verdict)
    urgent = verdict is None or verdict.fired or not verdict.overrules
    if rules.urgent:
        return replace(rules, urgent=urgent, category=rules.category if urgent else None,
                       message=rules.message if urgent else "", signals=signals,
                       semantic=match, classifier=verdict)
    if match is not None:
        category, evidence, name = match.category, match.part, f"semantic.{match.category}"
    else:
        category, evidence, name = verdict.category, "", f"classifier.{verdict.category}"
    return TriageResult(urgent, category if urgent else None, _compose_message((category,)) if urgent else "",
                        matched=(name,), categories=(category,), evidence=(evidence,) if evidence else (),
                        signals=signals, semantic=match, classifier=verdict)


def triage(text: str, semantic: SemanticSignal | None = None) -> TriageResult:
    """Triage one patient message for red-flag (emergency) features.

    With ``semantic``, the classifier and exemplar signals run beside the rules (module docstring).
    """
    rules = _decide(extract_findings(text or ""))
    if semantic is None:
        return rules
    return _combine(rules, semantic.check(text or ""), semantic.classify([text or ""]))


def _new_parts(window: Sequence[str]) -> list[str]:
    """Semantic parts of the joined turns that involve the latest turn (not earlier turns alone)."""
    earlier = set(message_parts("\n".join(window[:-1])))
    return [p for p in message_parts("\n".join(window)) if p not in earlier]


def conversation_parts(messages: list[dict]) -> list[str]:
    """What the semantic signal reads for a conversation: the latest turn's parts, then its parts with context."""
    turns = user_turns(messages)
    if not turns:
        return []
    parts = message_parts(turns[-1])
    return parts + [p for p in _new_parts(turns[-(CONTEXT_TURNS + 1):]) if p not in parts] if len(turns) > 1 else parts


def triage_conversation(messages: list[dict], semantic: SemanticSignal | None = None) -> TriageResult:
    """Triage the latest user turn, using earlier user turns as context.

    The latest turn is judged on its own first. If it is not urgent alone,
    up to three earlier user turns are added as context (e.g. "my baby is
    5 weeks old" then "now she feels burning hot"); a rule then fires only
    if at least one currently reported finding comes from the latest turn,
    and the exemplar signal only looks at parts that include the latest
    turn, so an old emergency is not re-announced on every later question.
    The classifier reads the latest turn alone and with its context; it has
    learned from conversations that mention a past, treated emergency.
    """
    turns = user_turns(messages)
    if not turns:
        return NOT_URGENT
    latest = triage(turns[-1], semantic)
    if latest.urgent or len(turns) == 1:
        return latest
    window = turns[-(CONTEXT_TURNS + 1):]
    findings: list[Finding] = []
    for index, turn in enumerate(window):
        findings.extend(extract_findings(turn, source=index))
    rules = _decide(findings, latest=len(window) - 1)
    if semantic is None:
        return rules
    # the latest turn alone (already read above) and with its context; either may carry the emergency
    readings = (latest.classifier, semantic.classify([classifier_text(messages)]))
    verdict = max((v for v in readings if v), key=lambda v: v.probability, default=None)
    return _combine(rules, semantic.best(_new_parts(window)), verdict)
