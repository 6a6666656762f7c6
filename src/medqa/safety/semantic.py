"""The semantic second signal: a fine-tuned emergency classifier, and the nearest emergency and routine
exemplars of each part of a message.

The classifier (``MessageClassifier``; ``medqa.retrieval.triage_classifier`` is the default, all-MiniLM-L6-v2
fine-tuned with LoRA) reads the whole message and gives P(emergency) and a category. It decides: a message is
urgent when P >= ``threshold``, or when the rules or the exemplar bank find an emergency and P >= ``floor``. So
the classifier adds what nobody wrote a rule for, and overrules a rule or an exemplar only when it is nearly
certain the message is not an emergency (a negated, past or hypothetical mention the phrase rules misread).
Without a classifier, either of the other two signals escalates alone, as before.

Why: rules only know the phrasings they encode. Each sentence (and each pair of adjacent sentences, since
an emergency is often told across two) is compared with a curated bank of emergency and near-miss routine
exemplars (``exemplars.jsonl``, every taxonomy category covered). A part is urgent when its best emergency
exemplar is similar enough (``min_score``) and beats the best routine one by ``margin``: the routine near
misses ("my chest aches a bit when I cough") are what keep mild versions of a complaint from firing.

Context is handled before embedding, with the rules' own detectors: negated, past and merely-asked-about
clauses are removed from a part, because sentence embeddings barely see "no" or "years ago".

This module stays pure Python: the embedding and the similarity search live behind ``ExemplarScorer``,
which the caller passes in (``medqa.retrieval.exemplars.load_semantic_signal`` builds the default one on
all-MiniLM-L6-v2). How the two signals combine is in ``triage.py``: either one is enough (recall first).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol, Sequence

from .context import is_historical, is_hypothetical, message_has_purpose_frame
from .normalize import Sentence, normalize, split_sentences
from .taxonomy import CATEGORY_IDS

EXEMPLARS_FILE = Path(__file__).with_name("exemplars.jsonl")
EMERGENCY, ROUTINE = "emergency", "routine"
# Chosen on the two development sets (tests/unit/safety/taxonomy_dev*.jsonl) for recall first. Mining one set's
# parts into the bank and scoring the other gave recall 0.95-0.98 at 7-24% false alarms with these values (the
# rules alone: 0.81-0.82 at 5-14%); both sets are in the bank now, so their own scores are in-sample.
MIN_SCORE = 0.55
MARGIN = 0.08
MAX_PART_WORDS = 60  # a longer part dilutes its one urgent clause; sentences alone still count
# Chosen on the v2 set with the classifier trained without it: 0.3 alone gave recall 0.989 at 2.3% false alarms;
# letting rules or exemplars escalate above 0.03 raised recall to 0.996 at 4.2% (TRIAGE_HELDOUT.md).
CLASSIFIER_THRESHOLD = 0.3
CLASSIFIER_FLOOR = 0.03
CONTEXT_TURNS = 3  # earlier user turns read with the latest one


@dataclass(frozen=True)
class Exemplar:
    text: str
    label: str  # "emergency" or "routine"
    category: str  # a taxonomy id, or "general" for the routine pool


@dataclass(frozen=True)
class SemanticMatch:
    """Why the semantic signal fired: the part of the message and its nearest exemplars."""

    part: str
    category: str
    exemplar: str
    score: float
    routine_exemplar: str
    routine_score: float

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "category": self.category, "exemplar": self.exemplar,
                "score": round(self.score, 4), "routine_exemplar": self.routine_exemplar,
                "routine_score": round(self.routine_score, 4)}


@dataclass(frozen=True)
class ClassifierVerdict:
    """The classifier's reading of a message: P(emergency), its category, and the cut-offs it was judged by."""

    probability: float
    category: str
    threshold: float
    floor: float

    @property
    def fired(self) -> bool:
        return self.probability >= self.threshold

    @property
    def overrules(self) -> bool:
        """Nearly certain the message is no emergency: the rules' and exemplars' alarms are not raised."""
        return self.probability < self.floor

    def to_dict(self) -> dict[str, Any]:
        return {"probability": round(self.probability, 4), "category": self.category,
                "threshold": self.threshold, "floor": self.floor}


class MessageClassifier(Protocol):
    """P(emergency) and the most likely taxonomy category, one pair per text."""

    def __call__(self, texts: Sequence[str]) -> Sequence[tuple[float, str]]: ...


def user_turns(messages: Iterable[Mapping[str, Any]]) -> list[str]:
    return [str(m.get("content") or "") for m in messages if str(m.get("role", "user")).lower() == "user"]


def classifier_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """What the classifier reads for a conversation: the latest user turn and up to three before it."""
    return "\n".join(user_turns(messages)[-(CONTEXT_TURNS + 1):])


class ExemplarScorer(Protocol):
    """Similarity of texts to every exemplar: one row of floats (same order as the bank) per text."""

    def __call__(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


def load_exemplars(path: Path = EXEMPLARS_FILE) -> tuple[Exemplar, ...]:
    """The exemplar bank; every label and category is checked against the taxonomy."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    # emergencies first, so the nearest of each label is a max over one slice of a score row
    bank = tuple(sorted((Exemplar(r["text"], r["label"], r["category"]) for r in rows),
                        key=lambda e: e.label != EMERGENCY))
    bad = [e.text for e in bank if e.label not in (EMERGENCY, ROUTINE)
           or e.category not in (*CATEGORY_IDS, "general") or (e.label == EMERGENCY and e.category == "general")]
    if bad:
        raise ValueError(f"{path.name}: {len(bad)} exemplars with an unknown label or category, e.g. {bad[0]!r}")
    return bank


# A clause that reports an absence ("no fever", "he did not lose consciousness"). Narrower than the rules'
# negation scope on purpose: "she is not responding" and "he does not wake" are symptoms, not absences.
_ABSENT = re.compile(
    r"^(?:(?:and|but|also|just|with|so|though|plus) )?(?:no|without|never|none|neither|nor|denies|denied|"
    r"negative for|free of|not any|(?:there|it) (?:is|was|were|are|has been) no"
    r"|(?:i|he|she|they|we|it|baby|the baby|my \w+) (?:have|has|had|got|ve got) no"
    r"|(?:i|he|she|they|we|it|baby|the baby|my \w+) (?:do|does|did|have|has|had|is|are|was|were|am|has been|"
    r"have been) not (?:have|had|got|get|any|feel|felt|notice|noticed|see|seen|complain\w*|vomit\w*|"
    r"throw\w*|lose|lost|pass\w*|hit|bang\w*|having|experiencing|getting|running|feeling|showing))\b")


def _current_text(sentence: Sentence, purpose: bool) -> str:
    """The sentence without its negated, past or merely-asked-about clauses."""
    kept = [c.text.strip() for c in sentence.clauses
            if not (is_historical(c.text) or is_hypothetical(c.text, purpose) or _ABSENT.match(c.text.strip()))]
    return " ".join(t for t in kept if t)


def message_parts(text: str) -> list[str]:
    """The pieces of a message to compare: current sentences and adjacent pairs of them."""
    norm = normalize(text)
    purpose = message_has_purpose_frame(norm)
    # questions ask about something rather than report it; the rules still read them
    sentences = [s for s in (_current_text(x, purpose) for x in split_sentences(norm))
                 if s and not s.endswith("?")]
    parts = list(sentences)
    parts += [f"{a} {b}" for a, b in zip(sentences, sentences[1:])
              if len(f"{a} {b}".split()) <= MAX_PART_WORDS]
    return list(dict.fromkeys(parts))


class SemanticSignal:
    """The model-based signals: exemplar similarity of each part of a message, and (when given) the classifier's
    reading of the whole message. ``triage.py`` combines them with the rules."""

    def __init__(self, scorer: ExemplarScorer, exemplars: Sequence[Exemplar],
                 min_score: float = MIN_SCORE, margin: float = MARGIN, classifier: MessageClassifier | None = None,
                 threshold: float = CLASSIFIER_THRESHOLD, floor: float = CLASSIFIER_FLOOR) -> None:
        self.scorer = scorer
        self.exemplars = tuple(exemplars)
        self._split = sum(e.label == EMERGENCY for e in self.exemplars)
        if any(e.label != EMERGENCY for e in self.exemplars[:self._split]):
            raise ValueError("exemplars must list every emergency before the routine ones (load_exemplars does)")
        self.min_score = min_score
        self.margin = margin
        self.classifier = classifier
        self.threshold = threshold
        self.floor = floor

    def classify(self, texts: Sequence[str]) -> ClassifierVerdict | None:
        """The classifier's most alarmed reading of ``texts`` (None without a classifier)."""
        texts = [t for t in texts if t.strip()]
        if self.classifier is None or not texts:
            return None
        probability, category = max(self.classifier(texts), key=lambda pc: pc[0])
        return ClassifierVerdict(probability, category, self.threshold, self.floor)

    def best(self, parts: Sequence[str]) -> SemanticMatch | None:
        """The strongest urgent part, or None when no part passes both thresholds."""
        if not parts:
            return None
        found: SemanticMatch | None = None
        for part, row in zip(parts, self.scorer(parts)):
            match = self._judge(part, row)
            if match and (found is None or match.score > found.score):
                found = match
        return found

    def _nearest(self, row: Sequence[float]) -> tuple[tuple[float, int], tuple[float, int]]:
        """(score, index) of the nearest emergency and the nearest routine exemplar."""
        scores = row.tolist() if hasattr(row, "tolist") else list(row)
        found = []
        for lo, hi in ((0, self._split), (self._split, len(scores))):
            best = max(scores[lo:hi], default=-1.0)
            found.append((float(best), scores.index(best, lo, hi) if hi > lo else -1))
        return found[0], found[1]

    def margin_of(self, row: Sequence[float]) -> float:
        """How far the nearest emergency exemplar beats the nearest routine one."""
        (e_score, _), (r_score, _) = self._nearest(row)
        return e_score - r_score

    def _judge(self, part: str, row: Sequence[float]) -> SemanticMatch | None:
        (e_score, e_idx), (r_score, r_idx) = self._nearest(row)
        if e_idx < 0 or e_score < self.min_score or e_score - r_score < self.margin:
            return None
        emergency = self.exemplars[e_idx]
        routine = self.exemplars[r_idx].text if r_idx >= 0 else ""
        return SemanticMatch(part, emergency.category, emergency.text, e_score, routine, r_score)

    def check(self, text: str) -> SemanticMatch | None:
        return self.best(message_parts(text))
