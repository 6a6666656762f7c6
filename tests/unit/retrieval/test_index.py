"""The passage index on small documents this test writes: reading, chunking, de-duplication, hybrid search, the
manifest checks and atomic replacement (grounding itself: test_grounding.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from medqa.config import IndexConfig
from medqa.errors import ConfigError, MedqaError
from medqa.retrieval.chunking import Chunk, chunk_text, dedupe, sentences
from medqa.retrieval.documents import Document, Problem, read_source
from medqa.retrieval.index import Index, _write_atomically, build_index

FLU = ("Influenza is a viral infection of the nose, throat and lungs. Antibiotics do not treat influenza because it is "
       "caused by a virus. Antiviral medicines such as oseltamivir can shorten the illness if started early.")
ASTHMA = ("Asthma is a long-term condition of the airways that causes wheezing and shortness of breath.\n\n"
          "Reliever inhalers open the airways within minutes. Preventer inhalers reduce airway swelling when used "
          "every day.")
DIABETES = "Type 2 diabetes raises blood sugar. Metformin is usually the first medicine doctors prescribe for it."


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs")
    (root / "asthma.md").write_text(f"# Asthma\n\n{ASTHMA}\n")
    (root / "flu.html").write_text(f"<html><head><title>Influenza</title><script>var hidden = 'SCRIPT';</script>"
                                   f"</head><body><nav>Home | About</nav><p>{FLU}</p></body></html>")
    rows = [{"text": DIABETES, "title": "Type 2 diabetes", "url": "https://example.org/t2d"}, "not json",
            {"title": "a row without text"}, {"text": DIABETES, "title": "Type 2 diabetes (copy)"}]
    (root / "rows.jsonl").write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    (root / "notes.docx").write_bytes(b"PK\x03\x04")  # not a supported type: ignored inside a folder
    return root


@pytest.fixture(scope="module")
def index(corpus, tmp_path_factory) -> Index:
    out = tmp_path_factory.mktemp("index") / "idx"
    build_index([corpus], out, IndexConfig(), progress=False)
    return Index.load(out, IndexConfig())


def test_sentences_and_chunks_follow_the_text():
    assert sentences("Dr. Smith saw it, e.g. twice. Rest now! Then eat.") == [
        "Dr. Smith saw it, e.g. twice.", "Rest now!", "Then eat."]
    text = "\n\n".join(" ".join(f"Sentence {p}.{i} has five words." for i in range(6)) for p in range(3))
    chunks = chunk_text(text, max_words=20, overlap=1)
    assert all(len(c.split()) <= 20 for c in chunks)
    for before, after in zip(chunks, chunks[1:]):  # each chunk opens with the previous one's last sentence
        assert after.startswith(sentences(before)[-1])
    assert " ".join(chunks).count("Sentence 2.5") >= 1 and chunk_text("one two three", 20) == ["one two three"]
    long = " ".join(["word"] * 45) + "."
    assert [len(c.split()) for c in chunk_text(long, max_words=20, overlap=0)] == [20, 20, 5]


def test_exact_and_near_duplicates_are_dropped():
    def chunk(text: str) -> Chunk:
        return Chunk(text, "t", None, "s", "d", 0)

    base = "the quick brown fox jumps over the lazy dog near the river bank today and tomorrow"
    kept, dropped = dedupe([chunk(base), chunk(base.upper() + "!"), chunk(base.replace("tomorrow", "soon")),
                            chunk("an entirely different passage about asthma inhalers and wheezing")], 0.8)
    assert [c.text for c in kept] == [base, "an entirely different passage about asthma inhalers and wheezing"]
    assert dropped == {"exact": 1, "near": 1}


def test_readers_keep_titles_and_report_bad_rows_by_line(corpus):
    items = list(read_source(corpus))
    docs = {d.title: d for d in items if isinstance(d, Document)}
    assert set(docs) == {"Asthma", "Influenza", "Type 2 diabetes", "Type 2 diabetes (copy)"}
    assert "SCRIPT" not in docs["Influenza"].text and "Home | About" not in docs["Influenza"].text
    assert docs["Type 2 diabetes"].url == "https://example.org/t2d"
    problems = [str(p) for p in items if isinstance(p, Problem)]
    assert any(p.endswith("rows.jsonl:2: malformed JSON: Expecting value") for p in problems)
    assert any("rows.jsonl:3: no text" in p for p in problems) and len(problems) == 2
    assert "unsupported file type '.docx'" in str(next(read_source(corpus / "notes.docx")))


def test_hybrid_search_finds_the_right_passage_by_every_fusion(index):
    counts = index.manifest["counts"]
    assert counts["documents"] == 4 and counts["dropped_exact"] == 1 and counts["chunks"] == 3  # the copy went
    assert counts["problems"] == 2 and index.manifest["embedder"].endswith("all-MiniLM-L6-v2")
    for fusion in ("rrf", "bm25", "dense"):
        assert index.search("do antibiotics cure the flu?", 1, fusion)[0].chunk.title == "Influenza"
        assert index.search("which inhaler works in minutes", 1, fusion)[0].chunk.title == "Asthma"
    top = index.search("first medicine for type 2 diabetes", 2)
    assert top[0].chunk.title == "Type 2 diabetes" and top[0].chunk.url == "https://example.org/t2d"
    assert top[0].similarity > 0.5 > index.search("how do I change a car tyre", 1)[0].similarity


def die_half_way(tmp: Path) -> None:
    (tmp / "chunks.jsonl").write_text("half")
    raise RuntimeError("killed")


def test_index_is_replaced_atomically_and_checked_when_loaded(index, corpus, tmp_path):
    out = index.folder
    with pytest.raises(RuntimeError):  # a build that dies part-way: the previous index stays whole
        _write_atomically(out, die_half_way)
    assert len(Index.load(out, IndexConfig())) == len(index) and not list(out.parent.glob(".idx.building-*"))
    with pytest.raises(ConfigError, match="built with chunking"):
        Index.load(out, IndexConfig(chunk_words=80))
    manifest = json.loads((out / "manifest.json").read_text())
    other = tmp_path / "other"
    other.mkdir()
    for f in out.iterdir():
        (other / f.name).symlink_to(f)
    (other / "manifest.json").unlink()
    (other / "manifest.json").write_text(json.dumps({**manifest, "embedder": "some/other-embedder"}))
    with pytest.raises(ConfigError, match="built with the embedder 'some/other-embedder'"):
        Index.load(other, IndexConfig())
    with pytest.raises(ConfigError, match="not a medqa index"):
        Index.load(tmp_path, IndexConfig())
    with pytest.raises(MedqaError, match="(?s)no documents to index:.*nothing-here: does not exist"):
        build_index([tmp_path / "nothing-here", Path(__file__)], tmp_path / "new", IndexConfig(), progress=False)
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(MedqaError, match="not a medqa index: choose another --output"):
        build_index([corpus / "asthma.md"], tmp_path, IndexConfig(), progress=False)
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_frozen_grounding_sets_are_unchanged():
    """The blind-written grounding sets must match the hashes recorded when they were frozen."""
    import hashlib
    import re

    data = Path(__file__).resolve().parents[3] / "benchmarks" / "data"
    recorded = dict(re.findall(r"`(grounding_\w+\.jsonl)` \| \d+ \| `([0-9a-f]{64})`",
                               (data / "GROUNDING_SETS.md").read_text()))
    assert len(recorded) == 2
    for name, digest in recorded.items():
        assert hashlib.sha256((data / name).read_bytes()).hexdigest() == digest, f"{name} was edited after freezing"
