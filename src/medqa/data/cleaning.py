"""Cleaning rules: named, pure text → text functions, so `stats.json` can count what each one changed.

    medqa prepare --source hcm.jsonl --show-changes 3

Rules run in the order of `RULES`; each can be switched off with `data.cleaning.<name>: false`. Rules whose
scope is "answer" touch only the answer (boilerplate, generation artefacts); the others also clean the
question and earlier turns. The rules themselves live with their kind: medqa.data.repair (encoding),
medqa.data.boilerplate (site name, greetings, closings), medqa.data.artefacts (generated text) and
medqa.data.privacy (personal data). `CleaningLog` counts changes and keeps a few before/after pairs per rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from medqa.data.artefacts import cut_invented_turn, remove_ai_disclaimers, remove_prompt_echo
from medqa.data.boilerplate import remove_chatdoctor, remove_closings, remove_greetings
from medqa.data.privacy import replace_emails, replace_names, replace_phones, replace_urls
from medqa.data.repair import decode_html, fix_mojibake, remove_control_chars, restore_apostrophes
from medqa.data.schema import Example

Scope = Literal["both", "answer"]
SAMPLE_CHARS = 4000  # longer before/after texts are cut in the log


@dataclass(frozen=True)
class Rule:
    name: str
    fn: Callable[[str], str]
    scope: Scope = "both"


_EMPTY_BRACKETS = re.compile(r"\(\s*\)|\[\s*\]")
_SPACE_BEFORE = re.compile(r"(?<![ \t])[ \t]+([,.;:!?])")  # the lookbehind keeps long runs of spaces linear
_REPEATED = re.compile(r"([,;:])(?:\s*[,;:])+")
_COMMA_END = re.compile(r",\s*([.!?])")
_LINE_START = re.compile(r"(?m)^[ \t,.;:!-]+(?=\w)")
_BAD_START = frozenset(" \t,.;:!-")
_GLUED = re.compile(r"\.(?=[A-Z][a-z])")  # "pain.Patient": sentences a generator glued together


def _has_debris(t: str) -> bool:
    """Cheap check for what the fixes below mend (unrolled `in` tests: this runs on every text)."""
    return (" ," in t or " ." in t or " ;" in t or " :" in t or " !" in t or " ?" in t or "\t" in t or ",," in t
            or ",." in t or ";," in t or ",;" in t or ":," in t or ",:" in t or "(" in t and ("()" in t or "( " in t)
            or "[" in t and ("[]" in t or "[ " in t) or t[:1] in _BAD_START or "\n" in t and _LINE_START.search(t)
            is not None)


def _unglue(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 2):m.start()]
    return ". " if len(before) == 2 and before.isalpha() and before.islower() else "."


def tidy_punctuation(text: str) -> str:
    """Mend the debris that removals leave: orphan commas, empty brackets, space before punctuation."""
    if not _has_debris(text):
        return _GLUED.sub(_unglue, text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE.sub(r"\1", text)
    text = _REPEATED.sub(r"\1", text)
    text = _COMMA_END.sub(r"\1", text)
    text = _LINE_START.sub("", text)
    return _GLUED.sub(_unglue, text)


_SPACES = re.compile(r"[ \t\f\v]+")
_LINE_SPACES = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")
_WS_HINTS = ("  ", " \n", "\n ", "\n\n\n", "\t", "\r", "\u00a0", "\f", "\v")


def normalise_whitespace(text: str) -> str:
    """Collapse runs of spaces, spaces around newlines and blank lines; strip the ends. Idempotent."""
    for hint in _WS_HINTS:  # a plain loop: cheaper than any() over a generator
        if hint in text:
            break
    else:
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _SPACES.sub(" ", text)
    text = _LINE_SPACES.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


# Alias kept for callers of the first version of this module.
remove_urls, remove_emails = replace_urls, replace_emails

RULES: tuple[Rule, ...] = (
    Rule("mojibake", fix_mojibake),  # repairs first, so that later patterns see real characters
    Rule("apostrophes", restore_apostrophes),
    Rule("html", decode_html),
    Rule("control_chars", remove_control_chars),
    Rule("chatdoctor", remove_chatdoctor),  # before URLs: "ChatDoctor.com" is a site name, not a link to keep
    Rule("invented_turn", cut_invented_turn, "answer"),  # before closings: the cut exposes the real ending
    Rule("prompt_echo", remove_prompt_echo, "answer"),
    Rule("ai_disclaimer", remove_ai_disclaimers, "answer"),
    Rule("greetings", remove_greetings, "answer"),
    Rule("closings", remove_closings, "answer"),  # before names: a "Regards, Dr. X" signature goes whole
    Rule("emails", replace_emails),  # before URLs, whose domain pattern would eat an address's tail
    Rule("urls", replace_urls),
    Rule("phones", replace_phones),
    Rule("names", replace_names),
    Rule("punctuation", tidy_punctuation),
    Rule("whitespace", normalise_whitespace),
)
RULE_NAMES = tuple(r.name for r in RULES)


def enabled_rules(switches: object) -> tuple[Rule, ...]:
    """The rules whose switch (an attribute of `data.cleaning`, e.g. CleaningConfig) is on."""
    return tuple(r for r in RULES if getattr(switches, r.name, True))


@dataclass
class CleaningLog:
    """What the rules did: counts per rule and up to `keep` (before, after) pairs per rule or drop reason."""

    keep: int = 3
    changed: dict[str, int] = field(default_factory=dict)
    samples: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def record(self, name: str, before: str, after: str) -> None:
        self.changed[name] = self.changed.get(name, 0) + 1
        self.sample(name, before, after)

    def sample(self, name: str, before: str, after: str) -> None:
        pairs = self.samples.setdefault(name, [])
        if len(pairs) < self.keep:
            pairs.append((before[:SAMPLE_CHARS], after[:SAMPLE_CHARS]))

    def merge(self, other: CleaningLog) -> None:
        """Add another log's counts and samples (from a worker process) to this one."""
        for name, count in other.changed.items():
            self.changed[name] = self.changed.get(name, 0) + count
        for name, pairs in other.samples.items():
            for before, after in pairs:
                self.sample(name, before, after)


def change_excerpt(before: str, after: str, context: int = 60) -> tuple[str, str]:
    """The changed region of a before/after pair with `context` characters around it ("…" marks cuts)."""
    start = 0
    while start < min(len(before), len(after)) and before[start] == after[start]:
        start += 1
    end = 0
    while end < min(len(before), len(after)) - start and before[-1 - end] == after[-1 - end]:
        end += 1
    lo = max(0, start - context)

    def cut(text: str) -> str:
        hi = min(len(text), len(text) - end + context)
        return ("…" if lo else "") + text[lo:hi] + ("…" if hi < len(text) else "")

    return cut(before), cut(after)


def describe_changes(samples: dict[str, list[tuple[str, str]]], n: int) -> str:
    """Up to `n` before/after pairs per rule or drop reason, as text for the terminal."""
    lines = [] if samples else ["(no rule changed a text and no row was dropped)"]
    for name, pairs in samples.items():
        lines.append(f"== {name} ==")
        for before, after in pairs[:n]:
            b, a = change_excerpt(before, after) if after != "(dropped)" else (before[:300], after)
            lines += [f"  - before: {b!r}", f"    after:  {a!r}"]
    return "\n".join(lines)


def clean_text(text: str, rules: tuple[Rule, ...] = RULES, changed: dict[str, int] | None = None,
               log: CleaningLog | None = None) -> str:
    """Apply each rule in order; `changed` counts the rules that altered the text, `log` also keeps examples."""
    for rule in rules:
        new = rule.fn(text)
        if new is not text and new != text:
            if changed is not None:
                changed[rule.name] = changed.get(rule.name, 0) + 1
            if log is not None:
                log.record(rule.name, text, new)
        text = new
    return text


def clean_example(ex: Example, rules: tuple[Rule, ...] = RULES, log: CleaningLog | None = None) -> Example:
    """Clean question, answer and earlier turns; answer-scope rules touch the answer only."""
    both = tuple(r for r in rules if r.scope == "both")
    history = tuple((role, clean_text(t, rules if role == "assistant" else both)) for role, t in ex.history)
    return Example(clean_text(ex.question, both, log=log), clean_text(ex.answer, rules, log=log), ex.system, history,
                   ex.id, ex.topic, ex.statements, ex.group, ex.source)


def normalise_key(text: str) -> str:
    """The comparison form of a text for duplicates and split hashing: case, spacing and punctuation ignored."""
    return re.sub(r"[^\w]+", " ", text.lower()).strip()
