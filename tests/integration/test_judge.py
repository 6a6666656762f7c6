"""Judge-graded evaluation against real OpenAI-compatible server processes: tests/judge_server.py (a deterministic
judge with scripted faults) and medqa's own server for the plumbing. Caching, concurrency, retries, malformed and
empty replies, timeouts, a judge that goes down part-way (the run resumes from the cache), calibration, and K-QA
and HealthBench files end to end through the CLI.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from test_server import API_KEY, adapter_run, free_port, server  # noqa: F401 (fixtures)

from medqa.config import JudgeConfig
from medqa.evaluation.judge.client import JudgeClient, JudgeUnavailable
from medqa.evaluation.judge.grader import Grader, JudgeCache
from medqa.evaluation.judge.prompts import load_prompt

SERVER = Path(__file__).parent.parent / "judge_server.py"
STATEMENT = load_prompt("statement")


def medqa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, timeout=600)


@contextlib.contextmanager
def judge_server(*args: str, port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), str(port), *args])
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/stats", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        proc.kill()
        proc.wait(10)


def stats(url: str) -> dict:
    return httpx.get(url + "/stats", timeout=5).json()


def requests_for(n: int) -> list[list[dict[str, str]]]:
    return [STATEMENT.messages(question=f"Question {i}?", answer=f"Rest and fluids {i}. It is 'viral'.",
                               statement="The illness is 'viral'") for i in range(n)]


def grader(url: str, cache: Path | None, **cfg) -> Grader:
    settings = JudgeConfig(url=f"{url}/v1", **{"retries": 2, "backoff_s": 0.05, **cfg})
    return Grader(JudgeClient(settings, "rules"), JudgeCache(cache).load(), progress=False)


def test_cache_concurrency_and_verdicts(tmp_path):
    with judge_server() as url:
        g = grader(url, tmp_path / "j.jsonl", concurrency=4)
        judged = g.grade("statement", STATEMENT.id, "rules", requests_for(12))
        assert [j.verdict for j in judged] == ["entailed"] * 12 and not any(j.cached for j in judged)
        seen = stats(url)
        assert seen["requests"] == 12 and 2 <= seen["max_in_flight"] <= 4  # parallel, never past the limit
        assert g.usage.calls == 12 and g.usage.tokens["prompt_tokens"] > 0
        again = grader(url, tmp_path / "j.jsonl").grade("statement", STATEMENT.id, "rules", requests_for(12))
        assert all(j.cached for j in again) and stats(url)["requests"] == 12  # a rerun costs nothing
        other = grader(url, tmp_path / "j.jsonl").grade("statement", "statement-v2-x", "rules", requests_for(2))
        assert not any(j.cached for j in other)  # another prompt version is another judgement


@pytest.mark.parametrize("model, expect", [("garbage", None), ("empty", None), ("badlabel", None),
                                           ("fenced", "entailed")])
def test_unparseable_replies_are_counted_never_a_pass(tmp_path, model, expect):
    with judge_server() as url:
        g = Grader(JudgeClient(JudgeConfig(url=f"{url}/v1"), model), JudgeCache(tmp_path / "j.jsonl").load(), False)
        judged = g.grade("statement", STATEMENT.id, model, requests_for(3))
    assert [j.verdict for j in judged] == [expect] * 3
    assert g.usage.unparseable == (3 if expect is None else 0)


def test_500s_are_retried_and_timeouts_give_up_with_a_resumable_error(tmp_path):
    with judge_server() as url:
        g = Grader(JudgeClient(JudgeConfig(url=f"{url}/v1", backoff_s=0.05), "flaky"), JudgeCache(None).load(), False)
        assert [j.verdict for j in g.grade("statement", STATEMENT.id, "flaky", requests_for(4))] == ["entailed"] * 4
        assert stats(url)["requests"] > 4  # the 500s were retried
        slow = Grader(JudgeClient(JudgeConfig(url=f"{url}/v1", timeout_s=0.5, retries=1, backoff_s=0.05), "slow"),
                      JudgeCache(tmp_path / "j.jsonl").load(), False)
        with pytest.raises(JudgeUnavailable, match="no reply within 0.5 s.*rerun the same command"):
            slow.grade("statement", STATEMENT.id, "slow", requests_for(2))


def test_a_judge_down_part_way_resumes_from_the_cache(tmp_path):
    cache, port = tmp_path / "j.jsonl", free_port()
    with judge_server("--die-after", "5", port=port) as url:
        with pytest.raises(JudgeUnavailable, match="5 of 12 new judgements were made and are cached"):
            grader(url, cache, concurrency=1).grade("statement", STATEMENT.id, "rules", requests_for(12))
    assert len(cache.read_text().splitlines()) == 5
    with judge_server(port=port) as url:
        g = grader(url, cache, concurrency=3)
        judged = g.grade("statement", STATEMENT.id, "rules", requests_for(12))
        assert stats(url)["requests"] == 7 and g.usage.calls == 7 and g.usage.cached == 5
    assert [j.verdict for j in judged] == ["entailed"] * 12


def test_medqa_serve_as_the_judge_plumbing(server, tmp_path):  # noqa: F811
    """A real model behind medqa's own server: its replies are not verdicts, and they are counted as such."""
    g = Grader(JudgeClient(JudgeConfig(url=f"{server}/v1", max_tokens=16), "base", API_KEY),
               JudgeCache(tmp_path / "j.jsonl").load(), False)
    judged = g.grade("statement", STATEMENT.id, "base", requests_for(2))
    assert all(j.verdict is None and j.raw for j in judged) and g.usage.unparseable == 2
    assert g.usage.tokens.get("completion_tokens", 0) > 0


EXAMPLES = Path(__file__).parent.parent.parent / "examples" / "judge"
KQA = [json.loads(line) for line in (EXAMPLES / "kqa-sample.jsonl").read_text().splitlines()]
HEALTHBENCH = [json.loads(line) for line in (EXAMPLES / "healthbench-sample.jsonl").read_text().splitlines()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_judge_end_to_end_with_kqa_healthbench_and_calibration(tiny_model, adapter_run, tmp_path):  # noqa: F811
    kqa, hb = EXAMPLES / "kqa-sample.jsonl", EXAMPLES / "healthbench-sample.jsonl"  # the files the README uses
    labels = write_jsonl(tmp_path / "labels.jsonl", [
        {"question": "q", "answer": "It is viral.", "statement": "It is 'viral'", "label": "entailed"},
        {"question": "q", "answer": "It is not viral.", "statement": "It is 'viral'", "label": "contradicted"},
        {"question": "q", "answer": "Drink water.", "statement": "It is 'viral'", "label": "not_addressed"},
        {"question": "q", "answer": "Drink water.", "statement": "It is 'viral'", "label": "entailed"},
        {"question": "q", "answer": "Call 999 (emergency).", "criterion": "Says 'emergency'", "met": True},
        {"question": "q", "answer": "Rest.", "criterion": "Says 'emergency'", "met": False}])
    out = tmp_path / "eval"
    with judge_server() as url:
        cal = tmp_path / "calibration.json"
        res = medqa("judge", "calibrate", "--labels", str(labels), "--judge", f"{url}/v1", "--judge-model", "rules",
                    "--output", str(cal), "--quiet")
        assert res.returncode == 0, res.stderr
        found = json.loads(cal.read_text())["kinds"]
        assert found["statement"]["n"] == 4 and found["statement"]["accuracy"] == 0.75
        assert found["statement"]["confusion"]["matrix"] == [[1, 0, 1], [0, 1, 0], [0, 0, 1]]  # people × judge
        assert found["rubric"]["macro_f1"] == 1.0 and found["rubric"]["cohen_kappa"] == 1.0

        args = ["eval", "--task", "judge", "--base", str(tiny_model), "--adapter", str(adapter_run), "--judge",
                f"{url}/v1", "--judge-model", "rules", "--judge-file", str(kqa), "--judge-file", str(hb),
                "--judge-calibration", str(cal), "--max-new-tokens", "8", "--output", str(out), "--quiet"]
        res = medqa(*args)
        assert res.returncode == 0, res.stderr
        calls = stats(url)["requests"]
        m = json.loads((out / "metrics.json").read_text())["judge"]
        rows = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
        graded = {(r["answer"], r.get("statement") or r["criterion"]) for r in rows if r["task"] == "judge"}
        assert len(rows) == 2 * (3 + 1 + 2 + 2)  # 2 models x (statements + criteria)
        assert calls == len(graded) + 5  # one call per distinct pair; calibration: 6 labels, 5 distinct prompts
        rerun = medqa(*args)
        assert rerun.returncode == 0 and stats(url)["requests"] == calls  # everything from the caches
    assert set(m["models"]) == {"base", "run"} and m["items"] == {"statements": 2, "rubrics": 2}
    for scores in m["models"].values():
        chest = scores["rubrics"]["tags"]["theme:emergency_referrals"]
        assert chest["mean"] == 1.0  # the safety layer's urgent message leads every answer to the emergency
        assert scores["statements"]["statements"] == 4 and scores["statements"]["unparseable"] == 0
    report = (out / "report.md").read_text()
    assert "Judge-graded statements (K-QA)" in report and "Judge-graded rubrics (HealthBench)" in report
    assert "Judge agreement with people on 4 labelled statements: macro F1" in report
    assert "Antibiotics do 'not help' a cold" in report  # the verdicts behind the numbers


def test_without_a_judge_eval_says_what_it_skipped(tiny_model, tmp_path):
    out = tmp_path / "eval"
    res = medqa("eval", "--task", "judge", "--base", str(tiny_model), "--judge-file", str(
        write_jsonl(tmp_path / "kqa.jsonl", KQA)), "--output", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "no judge configured" in res.stdout and "comprehensiveness" in res.stdout
    assert json.loads((out / "metrics.json").read_text())["judge"]["skipped_metrics"]
