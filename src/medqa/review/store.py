"""The review's SQLite store (WAL, standard library `sqlite3`): items, raters, assignments and ratings.

Every rating is its own committed transaction, so killing the server loses nothing that was acknowledged. Tokens
are kept only as SHA-256 hashes, so the database can travel with the report without letting anyone rate. System
names live in their own table that only `unblinded_ratings` (the report) reads.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medqa.review.axes import AXES_VERSION, Rating
from medqa.review.items import Answer, Item, ReviewError

SCHEMA_VERSION = 1
DB_NAME = "review.sqlite"
LINKS_NAME = "links.txt"

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE systems(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE answers(id INTEGER PRIMARY KEY, system_id INTEGER NOT NULL REFERENCES systems(id), task TEXT NOT NULL,
                     qid TEXT NOT NULL, question TEXT NOT NULL, reference TEXT, text TEXT NOT NULL,
                     sources TEXT NOT NULL);
CREATE TABLE items(id TEXT PRIMARY KEY, answer_a INTEGER NOT NULL REFERENCES answers(id),
                   answer_b INTEGER REFERENCES answers(id));
CREATE TABLE raters(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT NOT NULL UNIQUE);
CREATE TABLE assignments(rater_id INTEGER NOT NULL REFERENCES raters(id), item_id TEXT NOT NULL REFERENCES items(id),
                         position INTEGER NOT NULL, PRIMARY KEY(rater_id, item_id));
CREATE TABLE ratings(rater_id INTEGER NOT NULL, item_id TEXT NOT NULL, revision INTEGER NOT NULL,
                     payload TEXT NOT NULL, updated REAL NOT NULL, PRIMARY KEY(rater_id, item_id),
                     FOREIGN KEY(rater_id, item_id) REFERENCES assignments(rater_id, item_id));
"""


class NotFound(ReviewError):
    """An item that is not among the rater's (whether or not it exists: the answer is the same)."""


class Conflict(ReviewError):
    """A rating sent against a revision that is no longer the latest."""


@dataclass(frozen=True)
class Rater:
    id: int
    name: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_store(folder: Path, answers: list[Answer], items: list[Item], rater_names: list[str],
                 meta: dict[str, Any], url: str) -> dict[str, str]:
    """Write the review folder atomically (built beside it, then renamed); returns {name: token}, admin included.
    LINKS_NAME gets each one's private link at `url`."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise ReviewError(f"{folder} already exists and is not empty: choose a new --output (a review's items and "
                          "ratings are never overwritten)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tokens = {name: secrets.token_urlsafe(24) for name in ["admin", *rater_names]}
        with _connect(tmp / DB_NAME, create=True) as db:
            db.executescript(_SCHEMA)
            _insert(db, answers, items, rater_names, tokens)
            meta = {**meta, "schema_version": SCHEMA_VERSION, "axes_version": AXES_VERSION,
                    "admin_token_hash": token_hash(tokens["admin"]), "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
            db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
        fd = os.open(tmp / LINKS_NAME, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # the tokens are passwords
        with os.fdopen(fd, "w") as links:
            links.writelines(f"{name}\t{url.rstrip('/')}/{'admin' if name == 'admin' else 'rate'}#{token}\n"
                             for name, token in tokens.items())
        if folder.exists():
            folder.rmdir()
        tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tokens


def _insert(db: sqlite3.Connection, answers: list[Answer], items: list[Item], rater_names: list[str],
            tokens: dict[str, str]) -> None:
    systems = {name: k for k, name in enumerate(dict.fromkeys(a.system for a in answers), start=1)}
    db.executemany("INSERT INTO systems VALUES (?, ?)", [(k, name) for name, k in systems.items()])
    db.executemany("INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [(i, systems[a.system], a.task, a.qid, a.question, a.reference, a.text, json.dumps(a.sources))
                    for i, a in enumerate(answers)])
    db.executemany("INSERT INTO items VALUES (?, ?, ?)",
                   [(it.id, it.answers[0], it.answers[1] if len(it.answers) > 1 else None) for it in items])
    db.executemany("INSERT INTO raters VALUES (?, ?, ?)",
                   [(k, name, token_hash(tokens[name])) for k, name in enumerate(rater_names)])
    position = [0] * len(rater_names)
    rows = []
    for it in items:
        for r in it.raters:
            rows.append((r, it.id, position[r]))
            position[r] += 1
    db.executemany("INSERT INTO assignments VALUES (?, ?, ?)", rows)


@contextmanager
def _connect(path: Path, create: bool = False) -> Iterator[sqlite3.Connection]:
    """One connection per use, committed on success: cheap in SQLite, and safe across the server's threads."""
    uri = f"file:{path}?mode={'rwc' if create else 'rw'}"
    db = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer; a crash never tears a commit
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        with db:
            yield db
    finally:
        db.close()


class ReviewStore:
    """An existing review folder. Constructing it checks that this medqa can read it."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / DB_NAME
        if not self.path.is_file():
            raise ReviewError(f"{self.folder} is not a review folder (no {DB_NAME}): create one with "
                              "`medqa review create --answers EVAL_DIR --output DIR`")
        try:
            self.meta = self._meta()
        except sqlite3.DatabaseError as err:
            raise ReviewError(f"{self.path} cannot be read as a review database ({err})") from err
        found = (self.meta.get("schema_version"), self.meta.get("axes_version"))
        if found != (SCHEMA_VERSION, AXES_VERSION):
            raise ReviewError(f"{self.folder} was written by another medqa version (review schema {found[0]}, axes "
                              f"{found[1]}); this one reads schema {SCHEMA_VERSION}, axes {AXES_VERSION}. Use the "
                              "medqa that created it, or export its ratings to CSV there")

    def _meta(self) -> dict[str, Any]:
        with _connect(self.path) as db:
            return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}

    # --- who is asking -------------------------------------------------------------------------------------------
    def rater(self, token: str) -> Rater | None:
        with _connect(self.path) as db:
            row = db.execute("SELECT id, name FROM raters WHERE token_hash = ?", (token_hash(token),)).fetchone()
        return Rater(*row) if row else None

    def is_admin(self, token: str) -> bool:
        return hmac.compare_digest(token_hash(token), self.meta["admin_token_hash"])

    def rater_named(self, name: str) -> Rater:
        with _connect(self.path) as db:
            row = db.execute("SELECT id, name FROM raters WHERE name = ?", (name,)).fetchone()
            if row is None:
                known = [n for (n,) in db.execute("SELECT name FROM raters ORDER BY id")]
                raise ReviewError(f"no rater named {name!r} in this review (raters: {', '.join(known)})")
        return Rater(*row)

    # --- what a rater sees (blinded) -----------------------------------------------------------------------------
    def queue(self, rater: Rater) -> list[dict[str, Any]]:
        """The rater's items in their order, each with the revision of its rating (0: not rated yet)."""
        with _connect(self.path) as db:
            rows = db.execute("""SELECT a.item_id, COALESCE(r.revision, 0) FROM assignments a
                                 LEFT JOIN ratings r ON r.rater_id = a.rater_id AND r.item_id = a.item_id
                                 WHERE a.rater_id = ? ORDER BY a.position""", (rater.id,)).fetchall()
        return [{"id": item_id, "revision": rev} for item_id, rev in rows]

    def item(self, rater: Rater, item_id: str) -> dict[str, Any]:
        """What the rater's page shows for one item: the question and answers A (and B), their current rating."""
        with _connect(self.path) as db:
            row = db.execute("""SELECT i.answer_a, i.answer_b, a.position FROM items i
                                JOIN assignments a ON a.item_id = i.id WHERE a.rater_id = ? AND i.id = ?""",
                             (rater.id, item_id)).fetchone()
            if row is None:
                raise NotFound(f"item {item_id!r} is not one of your items")
            shown = [db.execute("SELECT question, text, sources FROM answers WHERE id = ?", (k,)).fetchone()
                     for k in row[:2] if k is not None]
            rated = db.execute("SELECT revision, payload FROM ratings WHERE rater_id = ? AND item_id = ?",
                               (rater.id, item_id)).fetchone()
        return {"id": item_id, "position": row[2], "question": shown[0][0],
                "answers": [{"label": "AB"[k], "text": text, "sources": json.loads(sources)}
                            for k, (_, text, sources) in enumerate(shown)],
                "revision": rated[0] if rated else 0, "rating": json.loads(rated[1]) if rated else None}

    def save(self, rater: Rater, item_id: str, rating: Rating) -> int:
        """Store a rating in its own transaction; returns its new revision. Refuses an item that is not the
        rater's, a rating that does not fit the item, and one sent against an outdated revision."""
        with _connect(self.path) as db:
            db.execute("BEGIN IMMEDIATE")  # the revision check and the write happen as one
            return _write(db, rater, item_id, rating, check_revision=True)

    # --- the organiser's views -----------------------------------------------------------------------------------
    def progress(self) -> list[dict[str, Any]]:
        with _connect(self.path) as db:
            rows = db.execute("""SELECT r.name, COUNT(a.item_id), COUNT(t.item_id), MAX(t.updated) FROM raters r
                                 LEFT JOIN assignments a ON a.rater_id = r.id
                                 LEFT JOIN ratings t ON t.rater_id = a.rater_id AND t.item_id = a.item_id
                                 GROUP BY r.id ORDER BY r.id""").fetchall()
        return [{"rater": name, "assigned": n, "rated": done,
                 "last_rating": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last)) if last else None}
                for name, n, done, last in rows]

    def assignments(self) -> list[dict[str, Any]]:
        """Every (rater, item) with what was shown and the rating if any, blinded: for CSV export."""
        with _connect(self.path) as db:
            rows = db.execute("""SELECT r.name, a.item_id, a.position, i.answer_a, i.answer_b, t.revision, t.payload
                                 FROM assignments a JOIN raters r ON r.id = a.rater_id JOIN items i ON i.id = a.item_id
                                 LEFT JOIN ratings t ON t.rater_id = a.rater_id AND t.item_id = a.item_id
                                 ORDER BY r.id, a.position""").fetchall()
            texts = dict(db.execute("SELECT id, json_array(question, text) FROM answers").fetchall())
        out = []
        for name, item_id, pos, a, b, rev, payload in rows:
            question, text_a = json.loads(texts[a])
            out.append({"rater": name, "item": item_id, "position": pos, "question": question, "answer_a": text_a,
                        "answer_b": json.loads(texts[b])[1] if b is not None else "", "pairwise": b is not None,
                        "revision": rev or 0, "rating": json.loads(payload) if payload else None})
        return out

    def save_many(self, rows: list[tuple[Rater, str, Rating]]) -> int:
        """Store ratings from an import all together, or none of them; returns how many changed."""
        with _connect(self.path) as db:
            db.execute("BEGIN IMMEDIATE")
            return sum(_write(db, rater, item_id, rating, check_revision=False) > 0 for rater, item_id, rating in rows)

    def unblinded_ratings(self) -> list[dict[str, Any]]:
        """Every rating with the system behind each shown answer: for the report only."""
        with _connect(self.path) as db:
            rows = db.execute("""SELECT r.name, t.item_id, t.payload, i.answer_a, i.answer_b FROM ratings t
                                 JOIN raters r ON r.id = t.rater_id JOIN items i ON i.id = t.item_id
                                 ORDER BY t.item_id, r.id""").fetchall()
            answers = {k: {"system": s, "task": task, "qid": qid, "question": q, "reference": ref, "text": text,
                           "sources": json.loads(src)}
                       for k, s, task, qid, q, ref, text, src in db.execute(
                           """SELECT a.id, s.name, a.task, a.qid, a.question, a.reference, a.text, a.sources
                              FROM answers a JOIN systems s ON s.id = a.system_id""")}
        return [{"rater": name, "item": item_id, "rating": json.loads(payload),
                 "answers": [answers[k] for k in (a, b) if k is not None]} for name, item_id, payload, a, b in rows]

    def systems(self) -> list[str]:
        with _connect(self.path) as db:
            return [name for (name,) in db.execute("SELECT name FROM systems ORDER BY id")]


def _write(db: sqlite3.Connection, rater: Rater, item_id: str, rating: Rating, check_revision: bool) -> int:
    """Upsert one rating inside the caller's transaction; returns the new revision (0: identical, unchanged)."""
    row = db.execute("""SELECT i.answer_b FROM items i JOIN assignments a ON a.item_id = i.id
                        WHERE a.rater_id = ? AND i.id = ?""", (rater.id, item_id)).fetchone()
    if row is None:
        raise NotFound(f"item {item_id!r} is not one of {rater.name}'s items")
    try:
        rating.check_shape(1 if row[0] is None else 2)
    except ValueError as err:
        raise ReviewError(f"item {item_id!r}: {err}") from err
    current = db.execute("SELECT revision, payload FROM ratings WHERE rater_id = ? AND item_id = ?",
                         (rater.id, item_id)).fetchone()
    revision = current[0] if current else 0
    payload = json.dumps(rating.model_dump(exclude={"revision"}))
    if check_revision and rating.revision != revision:
        raise Conflict(f"item {item_id!r} was rated again since this page loaded it (revision {revision}, the page "
                       f"had {rating.revision}): reload it to see the latest rating")
    if not check_revision and current and current[1] == payload:
        return 0  # re-importing what is stored changes nothing
    if not check_revision and revision > rating.revision:
        raise Conflict(f"item {item_id!r} of {rater.name} was rated again (revision {revision}) after this sheet was "
                       f"exported (revision {rating.revision}): export a fresh sheet, or clear that row")
    db.execute("INSERT OR REPLACE INTO ratings VALUES (?, ?, ?, ?, ?)",
               (rater.id, item_id, revision + 1, payload, time.time()))
    return revision + 1
