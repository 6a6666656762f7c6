"""Artifacts a user is handed, and what medqa leaves behind: pickle files in adapters and checkpoints are refused
unless `model.allow_pickle` is on, `trust_remote_code` is off unless asked for, and a patient's message never
reaches a log or a file (the server logs it only with `log_messages` on).

Pickle files here are real payloads: unpickling them creates a marker file, so a refusal is checked by its message
and by the marker never appearing. Models are the micro Gemma-3 of test_reliability_training.py (its own small
tokenizer: loads in milliseconds).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_reliability_training import build_micro

pytestmark = pytest.mark.reliability

PATIENT = "Zorbalite-4471 rash behind my left kneecap since the Quenwick picnic"  # found nowhere else


class Payload:
    """Unpickling this creates `marker`: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def plant_pickle(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(Payload(marker)))
    return path


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> tuple[Path, Path]:
    return build_micro(tmp_path_factory.mktemp("micro-artifacts"))


def micro_cfg(micro: tuple[Path, Path], out: Path, *extra: str):
    from medqa.config import build_config

    return build_config({}, [f"model.base={micro[0]}", f"train.output_dir={out}", "train.max_steps=4",
                             "train.batch_size=2", "train.eval_every=2", "train.save_every=2", "train.eval_rows=4",
                             "train.max_seq_len=256", "train.learning_rate=0.01", "train.report_to=[]",
                             "generation.max_new_tokens=8", *extra])


@pytest.fixture(scope="module")
def trained(micro, tmp_path_factory) -> Path:
    from medqa.training.trainer import run_training

    run = tmp_path_factory.mktemp("artifact-run") / "run"
    run_training(micro_cfg(micro, run), micro[1], progress=False)
    return run


def copy_run(run: Path, dest: Path) -> Path:
    shutil.copytree(run, dest)
    return dest


# ---------------------------------------------------------------- pickles in adapters

def test_adapter_holding_pickle_files_is_refused_unless_allowed(micro, trained, tmp_path):
    from medqa.errors import PickleRefusedError
    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_base

    base, _, _ = load_base(micro_cfg(micro, tmp_path / "unused").model)
    marker = tmp_path / "unpickled"
    for name in ("training_args.bin", "optimizer.pt", "extra/state.pkl", "model.ckpt", "weights.pth"):
        run = copy_run(trained, tmp_path / f"run-{name.replace('/', '-')}")
        plant_pickle(run / "adapter" / name, marker)
        with pytest.raises(PickleRefusedError, match=rf"adapter .* contains pickle files \({name}\).*arbitrary code"
                                                     r".*model\.allow_pickle=true"):
            load_adapters(base, {"a": str(run)})
    assert not marker.exists()
    allowed = load_adapters(base, {"a": str(run)}, allow_pickle=True)  # opted in: peft still reads safetensors
    assert "a" in allowed.peft_config and not marker.exists()


def test_adapter_with_only_pickled_weights_loads_only_when_allowed(micro, trained, tmp_path):
    import torch
    from safetensors.torch import load_file

    from medqa.errors import PickleRefusedError
    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_base

    run = copy_run(trained, tmp_path / "run")
    weights = run / "adapter" / "adapter_model.safetensors"
    expected = load_file(str(weights))
    torch.save(expected, run / "adapter" / "adapter_model.bin")
    weights.unlink()
    base, _, _ = load_base(micro_cfg(micro, tmp_path / "unused").model)
    with pytest.raises(PickleRefusedError, match=r"adapter_model\.bin"):
        load_adapters(base, {"a": str(run)})
    model = load_adapters(base, {"a": str(run)}, allow_pickle=True)
    loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    assert len(loaded) == len(expected)
    assert all(loaded[k.replace(".weight", ".a.weight")].equal(v) for k, v in expected.items())


# ---------------------------------------------------------------- pickles in checkpoints

def _resume(run: Path, micro, capsys, *extra: str) -> tuple[int, str]:
    from medqa.cli import main

    capsys.readouterr()
    code = main(["train", "--data", str(micro[1]), "--output", str(run), "--resume", "--quiet", "--base",
                 str(micro[0]), "--max-steps", "4", *[a for kv in micro_cfg_overrides(*extra) for a in ("--set", kv)]])
    return code, capsys.readouterr().err


def micro_cfg_overrides(*extra: str) -> list[str]:
    return ["train.batch_size=2", "train.eval_every=2", "train.save_every=2", "train.eval_rows=4",
            "train.max_seq_len=256", "train.learning_rate=0.01", "train.report_to=[]", *extra]


def test_checkpoint_holding_pickle_files_is_refused_on_resume_unless_allowed(micro, trained, tmp_path, capsys):
    import torch
    from safetensors.torch import load_file

    from medqa.training.checkpoints import STATE_JSON, STATE_TENSORS, _read_state

    assert not list(trained.rglob("*.pt")) and not list(trained.rglob("*.bin")), "medqa itself wrote a pickle"
    reference = copy_run(trained, tmp_path / "reference")  # resumed from medqa's own (safetensors) checkpoint
    shutil.rmtree(reference / "checkpoints" / "step-4")
    code, err = _resume(reference, micro, capsys)
    assert code == 0, err

    marker = tmp_path / "unpickled"
    legacy = copy_run(trained, tmp_path / "legacy")
    shutil.rmtree(legacy / "checkpoints" / "step-4")
    step2 = legacy / "checkpoints" / "step-2"
    state = _read_state(step2)  # rewritten the way medqa <= 0.1 wrote checkpoints: torch.save pickles
    torch.save(state["optimizer"], step2 / "optimizer.pt")
    torch.save(state["scheduler"], step2 / "scheduler.pt")
    torch.save({"torch": state["rng"]["torch"], "python": state["rng"]["python"]}, step2 / "rng.pt")
    (step2 / STATE_JSON).unlink()
    (step2 / STATE_TENSORS).unlink()
    good_rng = (step2 / "rng.pt").read_bytes()
    plant_pickle(step2 / "rng.pt", marker)
    code, err = _resume(legacy, micro, capsys)
    assert code == 2 and "Traceback" not in err and not marker.exists(), err
    assert f"medqa train: error: checkpoint {step2} contains pickle files (optimizer.pt, rng.pt, scheduler.pt)" in err
    assert "model.allow_pickle=true" in err

    (step2 / "rng.pt").write_bytes(good_rng)
    code, err = _resume(legacy, micro, capsys, "model.allow_pickle=true")  # the user's explicit opt-in
    assert code == 0, err
    a = load_file(str(reference / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(legacy / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


# ---------------------------------------------------------------- settings: off unless asked for

def test_unsafe_settings_are_off_by_default_and_validated(micro):
    from medqa.config import build_config, load_config
    from medqa.errors import ConfigError
    from medqa.serving.settings import ServeSettings

    cfg = load_config()
    assert cfg.model.trust_remote_code is False and cfg.model.allow_pickle is False
    assert ServeSettings.build().log_messages is False
    for path in sorted(Path(__file__).resolve().parents[2].glob("configs/*.yaml")):
        shipped = load_config(path)
        assert not shipped.model.trust_remote_code and not shipped.model.allow_pickle, path
    with pytest.raises(ConfigError, match=r"model\.allow_pickle"):
        build_config({}, ["model.allow_pickle=perhaps"])


def _remote_code_model(folder: Path, micro: tuple[Path, Path], marker: Path) -> Path:
    """A model folder whose config points at Python files shipped with it; importing them creates `marker`."""
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(micro[0] / name, folder / name)
    touch = f"open({str(marker)!r}, 'w').close()\n"
    (folder / "configuration_shady.py").write_text(
        touch + "from transformers import PretrainedConfig\n\n\nclass ShadyConfig(PretrainedConfig):\n"
                "    model_type = 'shady'\n")
    (folder / "modeling_shady.py").write_text(touch)
    (folder / "config.json").write_text(json.dumps({
        "model_type": "shady", "architectures": ["ShadyModel"],
        "auto_map": {"AutoConfig": "configuration_shady.ShadyConfig",
                     "AutoModelForCausalLM": "modeling_shady.ShadyModel"}}))
    return folder


def test_model_code_from_a_folder_runs_only_with_trust_remote_code(micro, tmp_path, monkeypatch):
    import transformers.dynamic_module_utils as dynamic

    from medqa.config import build_config
    from medqa.errors import ModelLoadError
    from medqa.modeling.loading import load_base

    monkeypatch.setattr(dynamic, "HF_MODULES_CACHE", str(tmp_path / "hf-modules"))  # copies land here, not ~
    marker = tmp_path / "remote-code-ran"
    folder = _remote_code_model(tmp_path / "shady", micro, marker)
    with pytest.raises(ModelLoadError, match="trust_remote_code"):
        load_base(build_config({}, [f"model.base={folder}"]).model)
    assert not marker.exists()
    with pytest.raises(ModelLoadError):  # the code ran (it defines no model class, so loading stops after)
        load_base(build_config({}, [f"model.base={folder}", "model.trust_remote_code=true"]).model)
    assert marker.exists()


# ---------------------------------------------------------------- no message text in logs

def _files_containing(text: str, *roots: Path) -> list[str]:
    needle = text.encode()
    return [str(p) for root in roots if root.exists() for p in root.rglob("*") if p.is_file()
            and needle in p.read_bytes()]


def test_ask_writes_the_patient_message_to_no_log_and_no_file(trained, tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), "HF_HOME": str(home / "hf"),
           "MEDQA_HOME": str(home / "medqa"), "TMPDIR": str(tmp_path / "tmp"), "MPLCONFIGDIR": str(home / "mpl"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "debug", "OMP_NUM_THREADS": "1"}
    for d in (home, cwd, tmp_path / "tmp"):
        d.mkdir()
    before = {p: p.stat().st_mtime_ns for p in trained.rglob("*") if p.is_file()}
    res = subprocess.run([sys.executable, "-m", "medqa.cli", "ask", PATIENT, "--adapter", str(trained),
                          "--max-new-tokens", "8", "--temperature", "0"], cwd=cwd, env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert PATIENT not in res.stderr and "Zorbalite" not in res.stderr  # warnings and logs, at debug verbosity
    assert res.stdout.strip() and "Zorbalite" not in res.stdout  # the answer only; the question is not echoed
    assert _files_containing("Zorbalite", home, cwd, tmp_path / "tmp", trained) == []
    assert {p: p.stat().st_mtime_ns for p in trained.rglob("*") if p.is_file()} == before


def test_server_logs_message_text_only_when_asked(trained, micro, caplog):
    from fastapi.testclient import TestClient

    from medqa.inference.assistant import Assistant
    from medqa.serving.app import create_app
    from medqa.serving.settings import ServeSettings

    assistant_cfg = micro_cfg(micro, trained)
    body = {"model": "a", "max_tokens": 4, "messages": [{"role": "user", "content": PATIENT}]}
    logged = {}
    for opt_in in (False, True):
        settings = ServeSettings.build(log_messages=opt_in)
        assistant = Assistant.from_config(assistant_cfg, {"a": str(trained)}, **settings.assistant_limits())
        caplog.clear()
        with caplog.at_level(logging.DEBUG), TestClient(create_app(assistant, settings)) as client:
            for stream in (False, True):
                assert client.post("/v1/chat/completions", json={**body, "stream": stream}).status_code == 200
        logged[opt_in] = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "chat model=a" in logged[False] and "Zorbalite" not in logged[False]
    assert PATIENT in logged[True]  # the opt-in works, so the capture above would have seen it
