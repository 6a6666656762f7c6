"""End to end on the real embedded Gemma 3 270M: prepare → train two steps → eval → ask, through the CLI."""

import json
import subprocess
import sys

import pytest

from medqa.safety import REFERRAL_SENTENCE

pytestmark = pytest.mark.slow


def medqa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, timeout=900)


def test_embedded_pipeline(tmp_path, embedded_dir):
    data, run = tmp_path / "data", tmp_path / "run"
    res = medqa("prepare", "--output", str(data), "--max-rows", "40")
    assert res.returncode == 0, res.stderr
    res = medqa("train", "--data", str(data), "--output", str(run), "--quiet", "--set", "train.max_steps=2",
                "--set", "train.batch_size=2", "--set", "train.eval_rows=2")
    assert res.returncode == 0, res.stderr
    meta = json.loads((run / "run.json").read_text())
    assert meta["base"] == "embedded" and meta["steps"] == 2
    res = medqa("eval", "--data", str(data), "--adapter", str(run), "--splits", "test", "--limit", "3",
                "--output", str(tmp_path / "eval"))
    assert res.returncode == 0, res.stderr
    losses = json.loads((tmp_path / "eval" / "metrics.json").read_text())["losses"]
    assert set(losses) == {"base", "run"} and losses["base"]["test"]["rows"] == 3
    res = medqa("ask", "I have a mild sore throat since yesterday, what can I do?", "--adapter", str(run),
                "--max-new-tokens", "12", "--temperature", "0")
    assert res.returncode == 0, res.stderr
    # the policy alone would print the referral sentence: the model must have said something before it
    assert not res.stdout.strip().startswith(REFERRAL_SENTENCE)


def test_grounded_ask_with_the_real_model(tmp_path, embedded_dir):
    """`index build` over documents written here, then `ask --index` with the real 270M model: every model sentence
    shown carries a citation and the cited source is listed, or the reply says it found nothing in its sources."""
    import re

    from medqa.retrieval.grounding import ABSTAIN_MESSAGE

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "flu.md").write_text(
        "# Influenza\n\nInfluenza is a viral infection of the nose, throat and lungs. Antibiotics do not treat "
        "influenza because it is caused by a virus. Rest, fluids and paracetamol ease the fever and aches. Antiviral "
        "medicines such as oseltamivir can shorten the illness if started within two days.\n")
    res = medqa("index", "build", str(docs), "--output", str(tmp_path / "idx"), "--quiet")
    assert res.returncode == 0, res.stderr
    res = medqa("ask", "I have the flu. Will antibiotics help me get better?", "--index", str(tmp_path / "idx"),
                "--max-new-tokens", "80", "--temperature", "0")
    assert res.returncode == 0, res.stderr
    shown = res.stdout.strip()
    answer = shown.split("Sources:")[0].replace(REFERRAL_SENTENCE, "").replace(ABSTAIN_MESSAGE, "").strip()
    for sentence in filter(None, re.split(r"(?<=[.!?])\s+", answer)):
        assert "[1]" in sentence, shown  # the one passage is [1]: nothing unsupported is shown
    assert ("Sources:\n[1] Influenza" in shown) == bool(answer), shown
