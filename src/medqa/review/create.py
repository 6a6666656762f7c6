"""`medqa review create`: eval answers → blinded items → rater assignments → a new review folder.

    medqa review create --answers runs/demo/eval --output runs/review --raters 2 --overlap 0.2
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from medqa.review.items import ItemKind, ReviewError, assign, build_items, read_answers
from medqa.review.store import LINKS_NAME, create_store


@dataclass(frozen=True)
class ReviewPlan:
    """What `create` was asked for (saved in the review's metadata)."""

    answers: dict[str, str]  # label → eval folder ('' labels the only folder)
    raters: int = 2
    overlap: float = 0.2
    limit: int | None = None
    seed: int = 0
    kind: ItemKind | None = None  # None: pairwise when there are two systems or more, else single


@dataclass(frozen=True)
class CreatedReview:
    folder: Path
    items: int
    assignments: int
    overlapping: int
    systems: list[str]
    tokens: dict[str, str]
    notes: list[str]

    @property
    def links(self) -> Path:
        return self.folder / LINKS_NAME


def answer_folders(specs: list[str]) -> dict[str, str]:
    """`--answers DIR` or `--answers LABEL=DIR` values as {label: folder}; one folder needs no label."""
    if len(specs) == 1 and "=" not in specs[0]:
        return {"": specs[0]}
    folders: dict[str, str] = {}
    for spec in specs:
        label, sep, folder = spec.partition("=")
        if not sep:
            label, folder = Path(spec.rstrip("/")).name, spec
        if label in folders:
            raise ReviewError(f"two --answers folders are labelled {label!r}: write --answers LABEL=DIR")
        folders[label] = folder
    return folders


def create_review(plan: ReviewPlan, output: str | Path, url: str = "http://127.0.0.1:8010") -> CreatedReview:
    """Read the answers, build and assign the items, and write the folder with one private token per rater
    (their links, at `url` where `medqa review serve` will run, go to REVIEW_DIR/links.txt)."""
    rng = random.Random(plan.seed)
    answers, notes = read_answers({label: Path(f) for label, f in plan.answers.items()})
    systems = list(dict.fromkeys(a.system for a in answers))
    kind = plan.kind or ("pairwise" if len(systems) > 1 else "single")
    items = assign(build_items(answers, kind, plan.limit, rng), plan.raters, plan.overlap, rng)
    names = [f"rater-{k}" for k in range(1, plan.raters + 1)]
    meta = {"answers": plan.answers, "raters": plan.raters, "overlap": plan.overlap, "limit": plan.limit,
            "seed": plan.seed, "kind": kind}
    tokens = create_store(Path(output), answers, items, names, meta, url)
    return CreatedReview(folder=Path(output), items=len(items), assignments=sum(len(i.raters) for i in items),
                         overlapping=sum(len(i.raters) > 1 for i in items), systems=systems, tokens=tokens,
                         notes=notes)
