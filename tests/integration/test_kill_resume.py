"""SIGKILL a real `medqa train` process at random moments, resume each time, and compare with a run that was
never interrupted: the loss history and the adapter must match."""

import json
import random
import signal
import subprocess
import sys
import time

from safetensors.torch import load_file

KILLS = 3


def _train_cmd(tiny_model, data, out, resume=False):
    cmd = [sys.executable, "-m", "medqa.cli", "train", "--data", str(data), "--output", str(out), "--quiet",
           "--base", str(tiny_model), "--max-steps", "8"]
    for kv in ("train.batch_size=2", "train.save_every=1", "train.eval_every=3", "train.eval_rows=4",
               "train.max_seq_len=256", "lora.dropout=0.1", "train.keep_checkpoints=2"):
        cmd += ["--set", kv]
    return cmd + (["--resume"] if resume else [])


def _history(out):
    return [(r["step"], r["loss"], r.get("val_loss")) for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())]


def test_sigkill_and_resume_matches_uninterrupted(tiny_model, prepared_small, tmp_path):
    ref = tmp_path / "ref"
    subprocess.run(_train_cmd(tiny_model, prepared_small, ref), check=True, timeout=600, capture_output=True)
    out, rng, kills = tmp_path / "killed", random.Random(7), 0
    resume = False
    while not (out / "run.json").exists():
        proc = subprocess.Popen(_train_cmd(tiny_model, prepared_small, out, resume), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        if kills < KILLS:
            time.sleep(rng.uniform(6.0, 12.0))  # start-up takes ~5 s; steps are fractions of a second
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
        _, err = proc.communicate(timeout=600)
        assert proc.returncode in (0, -signal.SIGKILL), err[-2000:]
        resume = (out / "checkpoints").exists() and any((out / "checkpoints").glob("step-*/complete.json"))
    assert kills >= 1
    assert _history(out) == _history(ref)
    a = load_file(str(ref / "adapter" / "adapter_model.safetensors"))
    b = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] - b[k]).abs().max() < 1e-6 for k in a)
