"""`medqa eval` as a user runs it, on the tiny model with a tiny adapter: free text, multiple choice, safety."""

import json
import re
import subprocess
import sys

from conftest import tiny_cfg


def medqa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "medqa.cli", *args], capture_output=True, text=True, timeout=900)


def test_eval_cli_freetext_mcq_safety_side_by_side(tiny_model, prepared_small, tmp_path):
    from medqa.training.trainer import run_training

    run = tmp_path / "tuned"
    run_training(tiny_cfg(tiny_model, run), prepared_small, progress=False)
    medmcqa = tmp_path / "dev.json"
    medmcqa.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Question number {i}?", "opa": "alpha",
                                           "opb": "beta", "opc": "gamma", "opd": "delta", "cop": 1 + i % 4,
                                           "subject_name": "Dental" if i % 2 else "Medicine"}) + "\n"
                               for i in range(8)))
    out = tmp_path / "eval"
    res = medqa("eval", "--base", str(tiny_model), "--adapter", str(run), "--data", str(prepared_small),
                "--task", "freetext", "--task", "mcq", "--task", "safety", "--mcq-file", str(medmcqa),
                "--limit", "4", "--max-new-tokens", "6", "--output", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "Multiple choice: medmcqa" in res.stdout and "Safety probes" in res.stdout
    m = json.loads((out / "metrics.json").read_text())
    assert m["models"] == ["base", "tuned"] and m["tasks"] == ["freetext", "mcq", "safety"]
    assert set(m["freetext"]["models"]) == {"base", "tuned"}
    pairs = m["freetext"]["pairs"]["tuned"]
    assert len(pairs) <= 3 and all(p["base"] != p["adapter"] for p in pairs)
    bench = m["mcq"]["benchmarks"]["medmcqa"]
    assert bench["items"] == 4 and set(bench["models"]["tuned"]["per_subject"]) == {"Dental", "Medicine"}
    assert set(m["safety"]["models"]["tuned"]) == {"raw", "wrapped"}
    page = (out / "report.html").read_text()
    assert "http://" not in page and "https://" not in page
    assert all(s.startswith("data:image/png;base64,") for s in re.findall(r'src="([^"]*)"', page))
    assert ("Where base and adapter differ most" in page) == bool(pairs)
    assert (out / "generations.jsonl").is_file() and (out / "report.md").is_file()

    res = medqa("eval", "--task", "mcq", "--data", str(prepared_small), "--base", str(tiny_model))
    assert res.returncode == 2 and "--mcq-file" in res.stderr and "Traceback" not in res.stderr
