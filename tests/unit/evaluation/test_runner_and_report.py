"""run_eval on the tiny model with every task; cached reruns; report files written and self-contained."""

import json
import re

import pytest

from conftest import tiny_cfg
from medqa.errors import ConfigError
from medqa.evaluation.runner import EvalSettings, run_eval


@pytest.fixture(scope="module")
def mcq_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("mcq") / "anatomy_test.csv"
    path.write_text("Which organ pumps blood?,Heart,Liver,Lung,Skin,A\nLargest bone?,Femur,Ulna,Rib,Skull,A\n"
                    "Which vessel carries blood away from the heart?,Vein,Artery,Lymph,Nerve,B\n")
    return path


def _self_contained(page: str) -> None:
    assert "http://" not in page and "https://" not in page
    for src in re.findall(r'src="([^"]*)"', page):
        assert src.startswith("data:image/png;base64,")
    assert "<script" not in page and "<link" not in page


def test_every_task_writes_reports_and_reruns_from_the_cache(tiny_model, prepared_small, mcq_file, tmp_path):
    cfg = tiny_cfg(tiny_model, tmp_path / "run")
    settings = EvalSettings(tasks=("loss", "freetext", "mcq", "safety"), mcq_files=[str(mcq_file)],
                            max_new_tokens=6, batch_size=8, progress=False)
    out = tmp_path / "eval"
    m = run_eval(cfg, prepared_small, [], ("test",), out, limit=3, settings=settings)
    assert m["models"] == ["base"] and m["losses"]["base"]["test"]["rows"] == 3
    ft = m["freetext"]["models"]["base"]
    assert m["freetext"]["items"] == 3 and 0 <= ft["rougeL"] <= 1 and ft["mean_tokens"] <= 6
    assert m["freetext"]["reference_statement_coverage"] is not None
    bench = m["mcq"]["benchmarks"]["mmlu"]
    assert bench["items"] == 3 and bench["baselines"]["constant_letter"] == "A"
    assert set(bench["models"]["base"]["per_subject"]) == {"anatomy"}
    sf = m["safety"]["models"]["base"]
    assert sf["wrapped"]["referral_rate"] == 1.0  # the policy always adds a referral
    assert m["timings"]["generated_answers"] == 3 + 44
    assert set(m["data"]) == {"loss/test", "freetext", "mcq/mmlu", "safety/probes"}
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["eval"]["tasks"] == ["loss", "freetext", "mcq", "safety"] and saved["config"]["model"]["base"]
    assert saved["provenance"]["versions"]["python"]
    answers = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert {a["task"] for a in answers} == {"freetext", "mcq", "safety"}
    assert "## Multiple choice: mmlu" in (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    _self_contained(page)
    assert page.count("data:image/png;base64,") >= 4

    again = run_eval(cfg, prepared_small, [], ("test",), out, limit=3,
                     settings=EvalSettings(tasks=("freetext", "safety"), max_new_tokens=6, progress=False))
    assert again["timings"]["generated_answers"] == 0  # all from generations.jsonl
    assert again["freetext"]["models"]["base"]["rougeL"] == ft["rougeL"]


def test_problems_are_reported_together_before_loading(tmp_path):
    cfg = tiny_cfg(tmp_path / "no-model", tmp_path / "run")
    settings = EvalSettings(tasks=("mcq", "freetext", "bogus"), mcq_formats=["mmlu", "pubmedqa"],
                            mcq_files=[str(tmp_path / "a.csv")])
    with pytest.raises(ConfigError) as err:
        run_eval(cfg, tmp_path / "nowhere", settings=settings)
    text = str(err.value)
    for needle in ("unknown task 'bogus'", "a.csv does not exist", "one --mcq-format", "--data"):
        assert needle in text


def test_html_shows_model_urls_inert():
    from medqa.evaluation.report_html import html_report

    pair = {"id": "1", "question": "Q?", "reference": "R", "base": "see https://example.com/x <b>now</b>",
            "adapter": "fine", "rougeL_between": 0.1}
    metrics = {"base": "embedded", "adapters": {"tuned": "runs/t"}, "tasks": [], "data": {},
               "timings": {"load_seconds": 1.0, "tasks": {}}, "freetext": {"pairs": {"tuned": [pair]}}}
    page = html_report(metrics)
    _self_contained(page)
    assert "hxxps://example.com/x &lt;b&gt;now&lt;/b&gt;" in page
