"""CSV export and import of ratings, for raters who work in a spreadsheet; blinded, and round-tripping exactly.

    medqa review export runs/review --output ratings.csv [--rater rater-2]
    medqa review import runs/review ratings.csv

One row per (rater, item): what was shown (question, answer A, answer B), the rating's `revision` when exported,
and one column per axis and answer (`a_harm`, `b_harm`, ...), `preference`, `comment`. Empty rating cells mean "not
rated yet". An import is checked whole before anything is written, and written in one transaction: a half-written
or edited-wrong file, or a row whose item was rated again after the sheet was exported, changes nothing and the
error names the row at fault.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from medqa.review.axes import AXES, Rating
from medqa.review.items import ReviewError
from medqa.review.store import Rater, ReviewStore

SHOWN = ["rater", "item", "position", "question", "answer_a", "answer_b", "revision"]
AXIS_COLUMNS = [f"{slot}_{axis.name}" for slot in "ab" for axis in AXES]
COLUMNS = [*SHOWN, *AXIS_COLUMNS, "preference", "comment"]


def write_csv(store: ReviewStore, out: IO[str], rater: str | None = None) -> int:
    """Every assignment (or one rater's) as a CSV row; returns the number of rows."""
    rows = [r for r in store.assignments() if rater is None or r["rater"] == rater]
    if rater is not None and not rows:
        store.rater_named(rater)  # raises with the known names when there is no such rater
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**{k: row[k] for k in SHOWN}, **_rating_cells(row["rating"])})
    return len(rows)


def _rating_cells(rating: dict[str, Any] | None) -> dict[str, str]:
    if rating is None:
        return {}
    cells = {f"{slot}_{name}": level for slot, answer in zip("ab", rating["answers"]) for name, level in answer.items()}
    return {**cells, "preference": rating.get("preference") or "", "comment": rating.get("comment", "")}


def read_csv(store: ReviewStore, path: Path) -> list[tuple[Rater, str, Rating]]:
    """The ratings a CSV holds, all checked against the review; raises ReviewError naming the first bad row."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # -sig: spreadsheets often add a BOM
            table = list(csv.reader(fh, strict=True))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        hint = " (a half-written file?)" if "end of data" in str(err) else ""
        raise ReviewError(f"{path}: cannot be read as a UTF-8 CSV ({err}){hint}; nothing was imported") from err
    if not table:
        raise ReviewError(f"{path} is empty; nothing was imported")
    header, body = table[0], table[1:]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise ReviewError(f"{path}: columns {', '.join(missing)} are missing (export a sheet with `medqa review "
                          "export` and fill that in); nothing was imported")
    shown = {(r["rater"], r["item"]): r for r in store.assignments()}
    raters: dict[str, Rater] = {}
    out = []
    for line, cells in enumerate(body, start=2):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise ReviewError(f"{path}:{line}: {len(cells)} cells where the header has {len(header)} (a half-written "
                              "or hand-edited file?); nothing was imported")
        row = dict(zip(header, cells))
        rating = _parse_row(row, shown, f"{path}:{line}")
        if rating is not None:
            if row["rater"] not in raters:
                raters[row["rater"]] = store.rater_named(row["rater"])
            out.append((raters[row["rater"]], row["item"], rating))
    return out


def _parse_row(row: dict[str, str], shown: dict[tuple[str, str], dict[str, Any]], where: str) -> Rating | None:
    item = shown.get((row["rater"], row["item"]))
    if item is None:
        raise ReviewError(f"{where}: item {row['item']!r} is not assigned to {row['rater']!r} in this review; "
                          "nothing was imported")
    if _squash(row["question"]) != _squash(item["question"]):
        raise ReviewError(f"{where}: the question differs from item {row['item']!r}'s in this review (a sheet from "
                          "another review, or rows shifted?); nothing was imported")
    slots = "ab" if item["pairwise"] else "a"
    filled = {c: row[c].strip() for c in AXIS_COLUMNS if c[0] in slots}
    if not any(filled.values()) and not row["preference"].strip():
        return None  # not rated yet
    empty = [c for c, v in filled.items() if not v]
    if empty:
        raise ReviewError(f"{where}: {', '.join(empty)} empty: rate every axis of every answer, or leave the row "
                          "blank; nothing was imported")
    try:
        revision = int(row["revision"] or 0)
    except ValueError:
        raise ReviewError(f"{where}: revision {row['revision']!r} is not a number; nothing was imported") from None
    payload = {"answers": [{a.name: filled[f"{slot}_{a.name}"] for a in AXES} for slot in slots],
               "preference": row["preference"].strip() or None, "comment": row["comment"], "revision": revision}
    try:
        rating = Rating.model_validate(payload)
        rating.check_shape(len(slots))
    except (ValidationError, ValueError) as err:
        raise ReviewError(f"{where}: {_first_problem(err)}; nothing was imported") from err
    return rating


def _first_problem(err: Exception) -> str:
    if isinstance(err, ValidationError):
        problem = err.errors()[0]
        return problem["msg"].removeprefix("Value error, ")
    return str(err)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def import_csv(store: ReviewStore, path: Path) -> tuple[int, int]:
    """Check the whole file, then write its ratings in one transaction; returns (rows with ratings, changed)."""
    rows = read_csv(store, Path(path))
    return len(rows), store.save_many(rows)
