"""run_eval on the tiny model with every task; cached reruns; report files written and self-contained."""

import json
import re

import pytest

from conftest import tiny_cfg
from medqa.config import build_config
from medqa.errors import ConfigError
from medqa.evaluation.runner import load_eval_models, run_eval
from medqa.inference.assistant import Assistant


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
    cfg = tiny_cfg(tiny_model, tmp_path / "run", "eval.tasks=[loss,freetext,mcq,safety]", f"eval.mcq_files=[{mcq_file}]",
                   "eval.max_new_tokens=6", "eval.batch_size=8", "eval.splits=[test]", "eval.limit=3")
    out = tmp_path / "eval"
    m = run_eval(cfg, prepared_small, [], out, progress=False)
    assert m["models"] == ["base"] and m["losses"]["base"]["test"]["rows"] == 3
    ft = m["freetext"]["models"]["base"]
    assert m["freetext"]["items"] == 3 and 0 <= ft["rougeL"] <= 1 and ft["mean_tokens"] <= 6
    assert m["freetext"]["reference_statement_coverage"] is not None
    bench = m["mcq"]["benchmarks"]["mmlu"]
    assert bench["items"] == 3 and bench["baselines"]["constant_letter"] == "A"
    assert set(bench["models"]["base"]["per_subject"]) == {"anatomy"}
    sf = m["safety"]["models"]["base"]
    assert sf["wrapped"]["escalation_rate"] >= sf["raw"]["escalation_rate"]
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

    cfg = tiny_cfg(tiny_model, tmp_path / "run", "eval.tasks=[freetext,safety]", "eval.max_new_tokens=6",
                   "eval.limit=3")
    again = run_eval(cfg, prepared_small, [], out, progress=False)
    assert again["timings"]["generated_answers"] == 0  # all from generations.jsonl
    assert again["freetext"]["models"]["base"]["rougeL"] == ft["rougeL"]


def test_eval_safety_scores_exactly_what_serve_returns(tiny_model, tmp_path):
    """The safety task's wrapped answers are the replies the server's Assistant gives for the same conversation."""
    from medqa.evaluation.tasks.safety_probes import load_probes, run_safety

    cfg = tiny_cfg(tiny_model, tmp_path / "run", "eval.max_new_tokens=8", "generation.max_new_tokens=8")
    ctx = load_eval_models(cfg, [], progress=False)
    probes = [p for p in load_probes() if p["urgent"]][:3] + [p for p in load_probes() if not p["urgent"]][:3]
    rows = run_safety(ctx.generator, ctx.refs, ctx.pipeline, ctx.answer, ctx.cache, probes)["rows"]
    with Assistant(ctx.generator, ctx.pipeline.system, ctx.answer.gen, semantic=ctx.pipeline.semantic) as served:
        replies = [served.complete([{"role": "user", "content": p["text"]}], max_tokens=8).text for p in probes]
    assert [r["wrapped"] for r in rows] == replies
    assert any(r["wrapped"] != r["answer"] for r in rows)  # the pipeline changed something, and eval saw it


def test_problems_are_reported_together_before_loading(tmp_path):
    with pytest.raises(ConfigError, match="eval.tasks.2: Input should be 'loss'"):
        build_config({}, ["eval.tasks=[mcq,freetext,bogus]"])
    with pytest.raises(ConfigError, match="one mcq_formats value for all mcq_files"):
        build_config({}, ["eval.mcq_formats=[mmlu,pubmedqa]"])
    cfg = tiny_cfg(tmp_path / "no-model", tmp_path / "run", "eval.tasks=[mcq,freetext,loss]",
                   f"eval.mcq_files=[{tmp_path / 'a.csv'}]")
    with pytest.raises(ConfigError) as err:
        run_eval(cfg, tmp_path / "nowhere")
    text = str(err.value)
    for needle in ("a.csv does not exist", "--data"):
        assert needle in text
    backend = tiny_cfg(tmp_path / "no-model", tmp_path / "run", "eval.tasks=[loss,safety]",
                       "backend.url=http://127.0.0.1:9/v1")
    with pytest.raises(ConfigError, match="--task loss scores the model's likelihoods"):
        run_eval(backend, tmp_path / "nowhere")


def test_eval_with_an_index_reports_grounded_beside_ungrounded(tiny_model, prepared_small, mcq_file, tmp_path):
    from medqa.config import IndexConfig
    from medqa.retrieval.index import build_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "heart.md").write_text("# Heart\n\nThe heart pumps blood through the body. Arteries carry blood away from "
                                   "the heart and veins carry it back.\n")
    build_index([docs, prepared_small / "train.jsonl"], tmp_path / "idx", IndexConfig(), progress=False)
    cfg = tiny_cfg(tiny_model, tmp_path / "run", "eval.tasks=[freetext,mcq]", f"eval.mcq_files=[{mcq_file}]",
                   "eval.max_new_tokens=6", "eval.limit=3", f"index.path={tmp_path / 'idx'}")
    m = run_eval(cfg, prepared_small, [], tmp_path / "eval", progress=False)
    grounded = m["freetext"]["models"]["base+sources"]
    assert set(m["freetext"]["models"]) == {"base", "base+sources"} and "abstention_rate" not in m["freetext"][
        "models"]["base"]
    assert grounded["abstention_rate"] < 1  # test questions find passages among the training answers
    assert set(m["mcq"]["benchmarks"]) == {"mmlu", "mmlu+sources"}
    written = [json.loads(line) for line in (tmp_path / "eval" / "answers.jsonl").read_text().splitlines()]
    free = [r for r in written if r["task"] == "freetext"]
    assert all(("sources" in r) == (r["model"] == "base+sources") for r in free)  # for the review page
    cited = [s for r in free for s in r.get("sources", [])]
    assert all(s["title"] and s["text"] for s in cited)
    rows = {(r["benchmark"], r["id"]): r for r in written if r["task"] == "mcq"}
    heart = "anatomy-1"  # "Which organ pumps blood?": its prompt now carries the passage
    plain, sourced = rows[("mmlu", heart)], rows[("mmlu+sources", heart)]
    assert sourced["prompt_tokens"] > plain["prompt_tokens"] + 20 and sourced["loglik"] != plain["loglik"]
    report = (tmp_path / "eval" / "report.md").read_text()
    assert "base+sources" in report and "abstention_rate" in report and "Multiple choice: mmlu+sources" in report
