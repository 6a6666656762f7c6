"""Training against what real machines do to it: SIGKILL at any moment, a disk that fills up during a checkpoint
write, and a second `medqa train` pointed at the same run folder.

Every run is a real process running medqa's CLI entry (`medqa.cli.main(["train", ...])`), killed with real signals
and limited with a real RLIMIT_FSIZE. To make 20 kill/resume cycles affordable, two things differ from
tests/integration/test_kill_resume.py, both measured on a 2-core machine:
  * the processes are forked from a multiprocessing fork server that imported torch, transformers and peft once
    (a fresh interpreter spends 5-20 s importing them before its first step);
  * the model is a micro Gemma-3 (2 layers of width 32, like conftest's tiny model) with its own 1,024-token BPE
    tokenizer trained on the data: the tiny model's real 262k-token tokenizer.json takes 4-10 s to parse at every
    start, and its 262k-row LM head makes a step take seconds. The code paths are the same.
A probe (16 shared bytes written by thin wrappers around train_step, _validate and save_checkpoint) tells the test
which phase a child is in, so kills are aimed at training steps, validation, checkpoint writes and start-up.
"""

from __future__ import annotations

import json
import mmap
import multiprocessing
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.reliability

STEPS, EVAL_EVERY, SEED = 24, 4, 2024
KILLS = 20
VOCAB = 1024
SPECIAL_TOKENS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>", "<start_of_turn>", "<end_of_turn>"]
PRELOAD = ["torch", "torch._inductor", "torch.utils.tensorboard", "transformers", "peft", "safetensors.torch",
           "transformers.models.gemma3.modeling_gemma3", "matplotlib.pyplot", "medqa.cli", "medqa.safety",
           "medqa.training.trainer", "medqa.artifacts.model_card"]
PHASES = ["start", "step", "eval", "checkpoint", "other", "load"]
START, STEP, EVAL, CHECKPOINT, OTHER, LOAD = range(len(PHASES))
CHILD_TIMEOUT = 120.0


# ---------------------------------------------------------------- the micro model and data

def build_micro(folder: Path) -> tuple[Path, Path]:
    """A prepared data folder and a micro Gemma-3 base whose BPE tokenizer was trained on that data."""
    from medqa.config import build_config
    from medqa.data.prepare import read_split, run_prepare
    from medqa.safety import DEFAULT_SYSTEM_PROMPT

    data = folder / "prepared"
    run_prepare(build_config({}, ["data.max_rows=60", "data.val_fraction=0.2", "data.test_fraction=0.2"]), data)
    rows = [r for split in ("train", "validation", "test") for r in read_split(data, split)]
    texts = [t for r in rows for t in (r.question, r.answer)] + [DEFAULT_SYSTEM_PROMPT, "user\nmodel\n"]
    return build_micro_model(folder / "micro-gemma", texts), data


def build_micro_model(folder: Path, texts: list[str]) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM, Gemma3TextConfig

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.Metaspace(), decoders.Metaspace()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=SPECIAL_TOKENS,
                                                       show_progress=False))
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<bos>", "eos_token": "<eos>",
        "pad_token": "<pad>", "unk_token": "<unk>", "mask_token": "<mask>"}))
    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                              num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
                              sliding_window=64, layer_types=["sliding_attention", "full_attention"],
                              bos_token_id=2, eos_token_id=1, pad_token_id=0)
    model = AutoModelForCausalLM.from_config(config)
    model.config._name_or_path = "micro-gemma"
    model.save_pretrained(folder, safe_serialization=True)
    return folder


@pytest.fixture(scope="module")
def micro(tmp_path_factory) -> tuple[Path, Path]:
    return build_micro(tmp_path_factory.mktemp("micro"))


@pytest.fixture(scope="module")
def forkserver() -> Any:
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([*PRELOAD, __name__])  # children start with everything imported
    warm = ctx.Process(target=int)  # start the server (and its imports) now, not inside a timed run
    warm.start()
    warm.join()
    return ctx


def train_argv(micro: tuple[Path, Path], out: Path, *, steps: int = STEPS, save_every: int = 1,
               eval_every: int = EVAL_EVERY, keep: int = 2, extra: tuple[str, ...] = ()) -> list[str]:
    model, data = micro
    argv = ["train", "--data", str(data), "--output", str(out), "--quiet", "--base", str(model),
            "--max-steps", str(steps)]
    for kv in ("train.batch_size=2", f"train.save_every={save_every}", f"train.eval_every={eval_every}",
               "train.eval_rows=12", "train.max_seq_len=256", "lora.dropout=0.1", f"train.keep_checkpoints={keep}",
               "train.warmup_steps=2"):
        argv += ["--set", kv]
    return argv + list(extra)


# ---------------------------------------------------------------- the child process and its probe

class Probe:
    """Phase and step of the running child in a shared memory map (the child writes, the test reads)."""

    def __init__(self, path: Path) -> None:
        path.write_bytes(bytes(16))
        self.path = path
        self._fh = open(path, "r+b")
        self.mm = mmap.mmap(self._fh.fileno(), 16)

    def reset(self) -> None:
        struct.pack_into("ii", self.mm, 0, START, 0)

    def read(self) -> tuple[int, int]:
        phase, step = struct.unpack_from("ii", self.mm, 0)
        return phase, step

    def close(self) -> None:
        self.mm.close()
        self._fh.close()


def _child(argv: list[str], log: str, probe: str, audit: str, ref_root: str | None, ignore_xfsz: bool) -> None:
    """Runs in the forked child: send output to `log`, add the probe and the load audit, run the CLI."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    if ignore_xfsz:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write over RLIMIT_FSIZE fails with EFBIG instead
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)  # a shared 2-core machine: one thread runs steadier than two fighting
    tqdm.set_lock(threading.RLock())  # tqdm's default lock is a semaphore that a SIGKILL would leak
    _instrument(Path(probe), Path(audit), Path(ref_root) if ref_root else None)
    from medqa.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


def _instrument(probe_path: Path, audit_path: Path, ref_root: Path | None) -> None:
    """Thin wrappers that record the phase (probe), its timing, and an audit of every checkpoint loaded."""
    from medqa.training import checkpoints, loop

    fh = open(probe_path, "r+b")
    mm = mmap.mmap(fh.fileno(), 16)

    def mark(phase: int, step: int) -> None:
        struct.pack_into("i", mm, 4, step)
        struct.pack_into("i", mm, 0, phase)

    def event(**record: Any) -> None:  # one write() to an O_APPEND file: a SIGKILL cannot cut a line in two
        fd = os.open(audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps({"pid": os.getpid(), **record}) + "\n").encode())
        finally:
            os.close(fd)

    def phase(fn: Any, code: int, step_of: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            step, t0 = step_of(*args), time.time()
            mark(code, step)
            try:
                return fn(*args, **kwargs)
            finally:
                mark(OTHER, step)
                event(kind="phase", phase=PHASES[code], step=step, t0=t0, t1=time.time())
        return wrapper

    loop.train_step = phase(loop.train_step, STEP, lambda s, step: step + 1)
    loop._validate = phase(loop._validate, EVAL, lambda s, step, record: step)
    checkpoints.save_checkpoint = phase(checkpoints.save_checkpoint, CHECKPOINT, lambda run_dir, step, *a: step)
    audited: set[str] = set()

    def audit(fn: Any) -> Any:
        def wrapper(path: Path, *args: Any, **kwargs: Any) -> Any:
            mark(LOAD, 0)
            if str(path) not in audited:
                audited.add(str(path))
                event(kind="load", path=str(path), problems=checkpoint_problems(Path(path), ref_root))
            return fn(path, *args, **kwargs)
        return wrapper

    for name in ("load_checkpoint", "load_adapter_weights", "load_training_state"):
        if hasattr(checkpoints, name):
            setattr(checkpoints, name, audit(getattr(checkpoints, name)))


def checkpoint_problems(path: Path, ref_root: Path | None) -> list[str]:
    """What is wrong with a checkpoint about to be loaded: incomplete, unreadable, or different from the
    uninterrupted run's checkpoint of the same step (an empty list: complete and identical)."""
    from safetensors.torch import load_file

    from medqa.training.checkpoints import COMPLETE, STATE_JSON, STATE_TENSORS

    problems = []
    try:
        meta = json.loads((path / COMPLETE).read_text())
    except (OSError, ValueError) as err:
        return [f"no readable {COMPLETE}: {err}"]
    if path.name != f"step-{meta.get('step')}":
        problems.append(f"{COMPLETE} says step {meta.get('step')}")
    ref = ref_root / path.name if ref_root else None
    for rel in ("adapter/adapter_model.safetensors", STATE_TENSORS):
        try:
            tensors = load_file(str(path / rel))
        except Exception as err:
            problems.append(f"{rel} unreadable: {err}")
            continue
        if ref is not None:
            expected = load_file(str(ref / rel))
            if tensors.keys() != expected.keys() or not all(tensors[k].equal(expected[k]) for k in tensors):
                problems.append(f"{rel} differs from the uninterrupted run's")
    for rel in (STATE_JSON, COMPLETE):
        try:
            text = json.loads((path / rel).read_text())
        except (OSError, ValueError) as err:
            problems.append(f"{rel} unreadable: {err}")
            continue
        if ref is not None and text != json.loads((ref / rel).read_text()):
            problems.append(f"{rel} differs from the uninterrupted run's")
    return problems


class Runner:
    """Starts children from the fork server with one probe and one audit file."""

    def __init__(self, ctx: Any, folder: Path) -> None:
        self.ctx, self.folder = ctx, folder
        self.probe = Probe(folder / "probe.bin")
        self.audit = folder / "audit.jsonl"
        self.launches = 0

    def start(self, argv: list[str], ref_root: Path | None = None, ignore_xfsz: bool = False) -> Any:
        self.launches += 1
        self.probe.reset()
        log = self.folder / f"child-{self.launches}.log"
        proc = self.ctx.Process(target=_child, args=(argv, str(log), str(self.probe.path), str(self.audit),
                                                     str(ref_root) if ref_root else None, ignore_xfsz))
        self.last_started = time.time()
        proc.start()
        proc.log = log
        return proc

    def run(self, argv: list[str], ref_root: Path | None = None) -> tuple[int, str]:
        proc = self.start(argv, ref_root)
        proc.join(CHILD_TIMEOUT)
        if proc.exitcode is None:
            proc.kill()
            proc.join()
            pytest.fail(f"child did not finish in {CHILD_TIMEOUT}s:\n{proc.log.read_text()[-3000:]}")
        return proc.exitcode, proc.log.read_text()

    def wait_for(self, proc: Any, phase: int, step: int, timeout: float = CHILD_TIMEOUT) -> bool:
        """Until the child is in `phase` at `step` or later; False when it ended first."""
        deadline = time.monotonic() + timeout
        while proc.is_alive() and time.monotonic() < deadline:
            now, at = self.probe.read()
            if now == phase and at >= step:
                return True
            time.sleep(0.0005)
        return False

    def events(self, kind: str) -> list[dict[str, Any]]:
        if not self.audit.is_file():
            return []
        return [e for e in map(json.loads, self.audit.read_text().splitlines()) if e["kind"] == kind]


@pytest.fixture
def runner(forkserver, tmp_path) -> Any:
    r = Runner(forkserver, tmp_path)
    yield r
    r.probe.close()


def history(run: Path) -> list[tuple]:
    rows = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
    return [(r["step"], r["loss"], r.get("val_loss"), r.get("best")) for r in rows]


def assert_same_weights(a: Path, b: Path) -> None:
    from safetensors.torch import load_file

    x, y = load_file(str(a)), load_file(str(b))
    assert x.keys() == y.keys()
    different = [k for k in x if not x[k].equal(y[k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[0]}"


def leftovers(run: Path) -> list[str]:
    root = run / "checkpoints"
    return sorted(p.name for p in root.iterdir() if not (p / "complete.json").is_file()) if root.is_dir() else []


# ---------------------------------------------------------------- 1. SIGKILL at 20 moments

def kill_plan(rng: random.Random) -> list[tuple[int, str]]:
    """(step, aim) pairs in the order they are tried: aims at training steps, validations (every EVAL_EVERY
    steps), checkpoint writes (every step) and 'anytime' (a random delay after start, often start-up or a resume)."""
    aims = ["step"] * 6 + ["eval"] * 5 + ["checkpoint"] * 6 + ["anytime"] * 3
    plan = []
    for aim in aims:  # none in the last steps, so that every aimed kill has a run to land in
        step = rng.choice(range(EVAL_EVERY, STEPS - 2, EVAL_EVERY)) if aim == "eval" else rng.randint(2, STEPS - 3)
        plan.append((step, aim))
    return sorted(plan, key=lambda p: p[0])


def median_seconds(events: list[dict[str, Any]], phase: str) -> float:
    spans = sorted(e["t1"] - e["t0"] for e in events if e["phase"] == phase)
    return spans[len(spans) // 2]


def aim_and_kill(runner: Runner, proc: Any, step: int, aim: str, rng: random.Random,
                 spans: dict[str, float]) -> tuple[str, bool] | None:
    """Wait for the aimed moment, SIGKILL the child there; returns (phase it was in, temporary checkpoint
    folder present) when the kill landed, None when the child had ended."""
    if aim == "anytime":  # within the time a start takes: start-up, checkpoint loading, history truncation
        time.sleep(rng.uniform(0.1, 1.0) * spans["start"])
    else:
        code = {"step": STEP, "eval": EVAL, "checkpoint": CHECKPOINT}[aim]
        if not runner.wait_for(proc, code, step):
            return None
        time.sleep(rng.uniform(0.0, 0.6 * spans[aim]))  # somewhere inside that phase
    phase, _ = runner.probe.read()
    partial = bool(list((runner.folder / "killed" / "checkpoints").glob(".tmp-step-*")))
    if not proc.is_alive():
        return None
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(CHILD_TIMEOUT)
    return (PHASES[phase], partial) if proc.exitcode == -signal.SIGKILL else None


def test_sigkill_at_20_moments_then_resume_matches_uninterrupted_run(micro, runner, tmp_path):
    from medqa.training.checkpoints import list_checkpoints

    t_start = time.monotonic()
    ref = tmp_path / "ref"
    rc, log = runner.run(train_argv(micro, ref, keep=STEPS))  # every checkpoint kept, to compare with
    assert rc == 0, log[-3000:]
    ref_events = runner.events("phase")
    first_step = min(e["t0"] for e in ref_events)
    spans = {p: median_seconds(ref_events, p) for p in ("step", "eval", "checkpoint")}
    spans["start"] = first_step - runner.last_started

    rng, out = random.Random(SEED), tmp_path / "killed"
    plan, landed, partial_writes, stale_locks, resumes = kill_plan(rng), Counter(), 0, 0, 0
    while True:
        resume = bool(list_checkpoints(out))
        resumes += resume
        stale_locks += resume and (out / ".lock").exists()
        proc = runner.start(train_argv(micro, out, extra=("--resume",) if resume else ()), ref_root=ref / "checkpoints")
        hit = aim_and_kill(runner, proc, *plan[0], rng, spans) if plan else None
        if hit is not None:
            landed[hit[0]] += 1
            partial_writes += hit[1]
            plan.pop(0)
            continue
        proc.join(CHILD_TIMEOUT)
        assert proc.exitcode == 0, f"exit {proc.exitcode}:\n{proc.log.read_text()[-3000:]}"
        break
    kills = sum(landed.values())
    seconds = time.monotonic() - t_start
    print(f"kills survived: {kills} ({dict(landed)}; {partial_writes} with a checkpoint half-written; "
          f"{stale_locks} stale locks taken over; {runner.launches - 1} launches) in {seconds:.0f}s")

    assert not plan and kills == KILLS, f"only {kills} kills landed before the run finished; left: {plan}"
    assert landed["step"] >= 2 and landed["eval"] >= 2 and landed["checkpoint"] >= 2, landed
    assert partial_writes >= 2, "no kill caught a checkpoint half-written"
    loads = [e for e in runner.events("load") if Path(e["path"]).is_relative_to(out)]
    assert len({e["pid"] for e in loads}) >= resumes - landed["start"] - landed["load"] > 0
    assert all(not e["problems"] for e in loads), [e for e in loads if e["problems"]]
    assert stale_locks >= 1 and not (out / ".lock").exists()
    assert history(out) == history(ref)
    assert_same_weights(ref / "adapter" / "adapter_model.safetensors", out / "adapter" / "adapter_model.safetensors")
    assert_same_weights(ref / "best_adapter" / "adapter_model.safetensors",
                        out / "best_adapter" / "adapter_model.safetensors")
    assert leftovers(out) == [], "partial checkpoint folders were left behind"


# ---------------------------------------------------------------- 2. the disk fills up during a checkpoint write

def test_disk_full_during_a_checkpoint_write_fails_clearly_and_resume_works(micro, runner, tmp_path):
    from medqa.training.checkpoints import STATE_TENSORS, list_checkpoints

    short = {"steps": 6, "save_every": 2, "eval_every": 100}  # validation at the end only
    ref = tmp_path / "ref"
    rc, log = runner.run(train_argv(micro, ref, keep=6, **short))
    assert rc == 0, log[-3000:]
    adapter = (ref / "checkpoints/step-2/adapter/adapter_model.safetensors").stat().st_size
    state = (ref / "checkpoints/step-2" / STATE_TENSORS).stat().st_size
    limit = (adapter + state) // 2  # the adapter still fits, the optimiser state does not: a write cut part-way
    others = [p for p in ref.rglob("*") if p.is_file() and "checkpoints" not in p.parts and "adapter" not in p.name]
    assert adapter < limit < state and all(p.stat().st_size < limit for p in others if p.suffix != ".png")

    out = tmp_path / "full"
    proc = runner.start(train_argv(micro, out, **short), ref_root=ref / "checkpoints", ignore_xfsz=True)
    assert runner.wait_for(proc, STEP, 3), proc.log.read_text()[-3000:]  # step-2 is complete
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (limit, limit))  # from now on no file may grow past it
    proc.join(CHILD_TIMEOUT)
    log = proc.log.read_text()
    print(f"disk full: exit {proc.exitcode}, {log.strip().splitlines()[-1]}")
    assert proc.exitcode == 2, log[-3000:]
    assert "Traceback" not in log and "medqa train: error: could not write checkpoint step-4" in log
    message = log.split("medqa train: error:")[1].lower()
    assert "disk" in message and "space" in message and str(out / "checkpoints").lower() in message
    assert f"--resume --output {out}".lower() in message and "step-2, is intact" in message
    assert [p.name for p in list_checkpoints(out)] == ["step-2"] and leftovers(out) == []
    assert checkpoint_problems(out / "checkpoints" / "step-2", ref / "checkpoints") == []

    rc, log = runner.run(train_argv(micro, out, extra=("--resume",), **short), ref_root=ref / "checkpoints")
    assert rc == 0, log[-3000:]
    loads = [e for e in runner.events("load") if Path(e["path"]).is_relative_to(out)]
    assert [(Path(e["path"]).name, e["problems"]) for e in loads] == [("step-2", [])]
    assert history(out) == history(ref)
    assert_same_weights(ref / "adapter" / "adapter_model.safetensors", out / "adapter" / "adapter_model.safetensors")


# ---------------------------------------------------------------- 3. two runs on one folder

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_second_train_on_a_busy_folder_is_refused_and_leaves_the_first_alone(micro, runner, tmp_path):
    out = tmp_path / "busy"
    first = runner.start(train_argv(micro, out, steps=12))
    try:
        assert runner.wait_for(first, STEP, 4), first.log.read_text()[-3000:]
        os.kill(first.pid, signal.SIGSTOP)  # frozen mid-run, holding the folder: the others arrive now
        before = _snapshot(out)
        for flags in ((), ("--overwrite",), ("--resume",)):
            rc, log = runner.run(train_argv(micro, out, steps=12, extra=flags))
            assert rc == 2 and "Traceback" not in log, (flags, log[-3000:])
            assert f"{out} is in use by another medqa process (pid {first.pid})" in log, (flags, log[-3000:])
        cli = subprocess.run([sys.executable, "-m", "medqa.cli", *train_argv(micro, out, steps=12)],
                             capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert cli.returncode == 2 and "Traceback" not in cli.stderr, cli.stderr[-3000:]
        assert f"medqa train: error: {out} is in use by another medqa process (pid {first.pid})" in cli.stderr
        assert _snapshot(out) == before, "a refused process changed the running one's files"
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first.join(CHILD_TIMEOUT)
    assert first.exitcode == 0, first.log.read_text()[-3000:]
    assert [r[0] for r in history(out)] == list(range(1, 13)) and (out / "run.json").is_file()
    assert not (out / ".lock").exists()
