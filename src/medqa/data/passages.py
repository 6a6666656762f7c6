"""Training prompts with sources (`medqa prepare --index DIR`): each train and validation row gets retrieved passages
in its system message, as the answer pipeline gives them at inference, so an adapter learns to answer from passages
and cite them.

- Never the row's own source: a passage whose text is part of the row's answer, or whose content words mostly are,
  is left out (the model must not learn to copy its own reference).
- Sometimes only distractors (`index.train_distractor_share`): passages retrieved for another row's question and
  not relevant to this one, so the model also learns that a passage in the prompt is not always an answer.
- The answer is the row's own, with `[n]` after each sentence a passage supports (the same support check as
  grounding at inference). Passages sit in the prompt, so they are masked from the loss like any prompt.

Passages lengthen prompts: raise `train.max_seq_len` with `index.train_passages`, or answers get truncated (the
data card's truncation numbers say how many).
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from medqa.data.schema import Example


def attach_passages(examples: list[Example], index: Any, cfg: Any, system: str | None,
                    seed: int = 0) -> tuple[list[Example], dict[str, int]]:
    """`examples` with passages in their system message and cited answers, and counts of what was done.

    `cfg` is the config's `index:` section; `system` the system prompt rows without their own get."""
    from medqa.retrieval.chunking import normalized
    from medqa.retrieval.grounding import Grounding, content_words, with_passages

    rng = random.Random(seed)
    stats = {"rows": len(examples), "own_passages_left_out": 0, "distractors_only": 0, "cited_sentences": 0,
             "answer_sentences": 0}
    questions = [ex.question for ex in examples]
    out = []
    for ex in examples:
        answer_text, answer_words = normalized(ex.answer), content_words(ex.answer)
        if len(examples) > 1 and rng.random() < cfg.train_distractor_share:
            other = rng.choice([q for q in questions if q != ex.question] or questions)
            hits = _distractors(index, index.search(other, cfg.train_passages * 2), ex.question, cfg)
            stats["distractors_only"] += 1
        else:
            hits = index.search(ex.question, cfg.train_passages + 3)
        kept = []
        for hit in hits:
            if _own(hit.chunk.text, answer_text, answer_words, normalized, content_words):
                stats["own_passages_left_out"] += 1
            elif len(kept) < cfg.train_passages:
                kept.append(hit)
        grounding = Grounding(kept)
        answer = _cite(ex.answer, grounding, index.encoder, cfg, stats)
        conversation = [{"role": "system", "content": ex.system if ex.system is not None else system or ""},
                        {"role": "user", "content": ex.question}]
        prompt = with_passages(conversation, grounding)
        out.append(replace(ex, system=prompt[0]["content"].strip() or None, answer=answer))
    return out, stats


def _own(passage: str, answer_text: str, answer_words: set[str], normalized: Any, content_words: Any) -> bool:
    text = normalized(passage)
    if text and text in answer_text:
        return True
    words = content_words(passage)
    return bool(words) and len(words & answer_words) / len(words) >= 0.6


def _distractors(index: Any, hits: list[Any], question: str, cfg: Any) -> list[Any]:
    """The hits that are not relevant to `question` (below the abstention threshold); their vectors are the index's."""
    query = index.encoder.encode([question])[0]
    return [h for h in hits if float(index.vectors[h.row] @ query) < cfg.min_relevance]


def _cite(answer: str, grounding: Any, encoder: Any, cfg: Any, stats: dict[str, int]) -> str:
    """The answer with [n] after each sentence a passage supports; unsupported sentences stay as they are."""
    from medqa.retrieval.chunking import sentences
    from medqa.retrieval.grounding import cite

    if not grounding.hits:
        return answer
    shown = []
    for paragraph in answer.split("\n"):
        parts = []
        for sentence in sentences(paragraph):
            stats["answer_sentences"] += 1
            scores = grounding.support(sentence, encoder)
            best = int(scores.argmax()) if len(scores) else -1
            if best >= 0 and scores[best] >= cfg.support_threshold:
                stats["cited_sentences"] += 1
                sentence = cite(sentence, [best + 1])
            parts.append(sentence)
        shown.append(" ".join(parts))
    return "\n".join(shown)
