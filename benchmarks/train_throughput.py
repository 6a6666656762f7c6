"""Training throughput: medqa's training path with its defaults against TRL's SFTTrainer as a typical user
writes it (peft LoRA config, default settings, batch 4), same rows, seed and steps, on this machine.

    python benchmarks/train_throughput.py [--steps 4] [--repeats 1]

Each side runs in its own child process (so peak RSS is its own); both train the embedded Gemma 3 270M with
LoRA r=16 on all linear layers on rows from ../shared/data/genmedgpt-5k when present (else the embedded set),
then score the same held-out rows with the same answer-only loss. Useful FLOPs are counted the same way for
both sides: 4·N per token for the frozen decoder (forward + input gradients) and 4·V·H per trained token for
the LM head. With --repeats N the two sides alternate N times and the medians are reported (this VM's speed
drifts between runs). Last line: `train ratio=R rss_ratio=M val_loss medqa=X baseline=Y`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GENMED = ROOT.parent / "shared" / "data" / "genmedgpt-5k" / "chatdoctor5k.json"
SEED = 42


def load_rows(n: int, n_val: int) -> tuple[list[dict], list[dict]]:
    from medqa.data.cleaning import clean_text
    from medqa.data.schema import to_example
    from medqa.data.sources import iter_rows

    source = str(GENMED) if GENMED.is_file() else "embedded"
    rows = []
    for raw in iter_rows(source):
        ex = to_example(raw.fields or {})
        q, a = clean_text(ex.question), clean_text(ex.answer)
        if len(q.split()) >= 3 and len(a.split()) >= 5:
            rows.append({"question": q, "answer": a})
        if len(rows) >= n + n_val:
            break
    return rows[:n], rows[n:n + n_val]


def matmul_ceiling() -> dict[str, float]:
    import torch

    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(1024, 1024, dtype=dtype), torch.randn(1024, 1024, dtype=dtype)
        a @ b
        reps, t = 0, time.perf_counter()
        while time.perf_counter() - t < 2.0:
            a @ b
            reps += 1
        out[name] = 2 * 1024**3 * reps / (time.perf_counter() - t) / 1e9
    return out


def useful_flops(model_cfg: dict, tokens: int, trained: int) -> float:
    h, v = model_cfg["hidden_size"], model_cfg["vocab_size"]
    n_params = model_cfg["n_params"] - v * h  # the embedding lookup costs no matmul
    return 4 * n_params * tokens + 4 * v * h * trained


# ---- child: medqa -------------------------------------------------------------------------------------------

def run_medqa(work: Path, steps: int) -> dict:
    from medqa.config import build_config
    from medqa.training.trainer import run_training

    cfg = build_config({}, [f"train.output_dir={work / 'medqa-run'}", f"train.max_steps={steps}",
                            "train.batch_size=4", f"train.eval_every={10**6}", f"train.save_every={10**6}",
                            "train.warmup_steps=0", "train.scheduler=constant", f"train.seed={SEED}",
                            "train.report_to=[]", "train.learning_rate=2e-4", "prompt.system_prompt="])
    res = run_training(cfg, work / "data", overwrite=True, progress=False)
    times = [r["elapsed_s"] for r in res.history]
    return {"adapter": str(work / "medqa-run" / "adapter"), "step_ends": times}


# ---- child: TRL baseline ------------------------------------------------------------------------------------

def run_trl(work: Path, steps: int, bf16: bool) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from medqa.data.formatting import GEMMA_CHAT_TEMPLATE
    from medqa.data.prepare import read_split
    from medqa.modeling.embedded import ensure_embedded

    path = str(ensure_embedded())
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = GEMMA_CHAT_TEMPLATE  # the GGUF base has none; a user adds Gemma's
    rows = read_split(work / "data", "train")
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r.question}],
                             "completion": [{"role": "assistant", "content": r.answer}]} for r in rows])
    ends: list[float] = []

    class Clock(TrainerCallback):
        def on_train_begin(self, *a, **k):
            self.t0 = time.perf_counter()

        def on_step_end(self, *a, **k):
            ends.append(time.perf_counter() - self.t0)

    args = SFTConfig(output_dir=str(work / "trl-run"), use_cpu=True, per_device_train_batch_size=4, max_steps=steps,
                     seed=SEED, logging_steps=1, save_strategy="no", report_to=[], learning_rate=2e-4,
                     lr_scheduler_type="constant", warmup_steps=0, max_length=512, bf16=bf16)
    model = AutoModelForCausalLM.from_pretrained(path)
    lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=lora,
                         callbacks=[Clock()])
    trainer.train()
    trainer.model.save_pretrained(work / "trl-adapter")
    return {"adapter": str(work / "trl-adapter"), "step_ends": ends}


def child(side: str, work: Path, steps: int, bf16: bool) -> None:
    out = run_medqa(work, steps) if side == "medqa" else run_trl(work, steps, bf16)
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    (work / f"{side}.json").write_text(json.dumps(out))


# ---- parent -------------------------------------------------------------------------------------------------

def prepare_data(work: Path, n_train: int, n_val: int) -> None:
    rows, val = load_rows(n_train, n_val)
    data = work / "data"
    data.mkdir(parents=True)
    for split, items in (("train", rows), ("validation", val), ("test", val)):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))


def val_loss_and_tokens(work: Path, adapter: str, steps: int) -> tuple[float, int, int, dict]:
    """Held-out loss of an adapter, and the tokens / trained tokens of the measured steps' batches."""
    from medqa.config import ModelConfig
    from medqa.data.formatting import encode_examples
    from medqa.data.prepare import read_split
    from medqa.modeling.adapters import load_adapters
    from medqa.modeling.loading import load_base
    from medqa.modeling.loss import mean_answer_loss

    model, tok, _ = load_base(ModelConfig())
    model = load_adapters(model, {"a": str(Path(adapter).parent) if Path(adapter).name == "adapter" else adapter})
    val = encode_examples(tok, read_split(work / "data", "validation"), None, 512)
    train = encode_examples(tok, read_split(work / "data", "train"), None, 512)
    # The train split is exactly one epoch of the run, so both sides process the same rows (in their own order).
    tokens = sum(len(r.input_ids) for r in train)
    trained = sum(sum(1 for t in r.labels if t != -100) for r in train)
    c = model.config
    info = {"hidden_size": c.hidden_size, "vocab_size": c.vocab_size,
            "n_params": sum(p.numel() for n, p in model.named_parameters() if "lora_" not in n)}
    return mean_answer_loss(model, val, tok.pad_token_id), tokens, trained, info


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4, help="measured steps (one more runs first as warm-up)")
    ap.add_argument("--val-rows", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=1, help="alternate the sides this many times; report medians")
    ap.add_argument("--child", choices=["medqa", "trl"])
    ap.add_argument("--work")
    ap.add_argument("--baseline-bf16", choices=["auto", "on", "off"], default="auto",
                    help="TRL's default is bf16 on; auto turns it off where this CPU's bf16 matmuls are slower than fp32")
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.work), args.steps + 1, args.baseline_bf16 == "on")
        return
    work = Path(tempfile.mkdtemp(prefix="medqa-bench-"))
    prepare_data(work, 4 * (args.steps + 1), args.val_rows)
    ceiling = matmul_ceiling()
    print(f"matmul ceiling: fp32 {ceiling['fp32']:.0f} GFLOP/s, bf16 {ceiling['bf16']:.0f} GFLOP/s", flush=True)
    bf16 = args.baseline_bf16 == "on" or (args.baseline_bf16 == "auto" and ceiling["bf16"] >= ceiling["fp32"])
    if not bf16 and args.baseline_bf16 == "auto":
        print(f"baseline: TRL's default bf16=True turned off: this CPU multiplies bf16 at "
              f"{ceiling['fp32'] / ceiling['bf16']:.0f}x below fp32, so TRL's literal defaults would be about that "
              "much slower; the fp32 baseline is the stronger one (pass --baseline-bf16 on to run the default)",
              flush=True)
    results: dict[str, list[dict]] = {"trl": [], "medqa": []}
    for rep in range(args.repeats):
        for side in results:
            print(f"running {side} ({rep + 1}/{args.repeats}) ...", flush=True)
            subprocess.run([sys.executable, __file__, "--child", side, "--work", str(work), "--steps", str(args.steps),
                            "--baseline-bf16", "on" if bf16 else "off"],
                           check=True, env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
            results[side].append(json.loads((work / f"{side}.json").read_text()))
    report = {}
    for side, runs in results.items():
        # every repeat trains the same rows with the same seed: the last adapter stands for all
        loss, tokens, trained, info = val_loss_and_tokens(work, runs[-1]["adapter"], args.steps + 1)
        frac = args.steps / (args.steps + 1)
        times = [r["step_ends"][-1] - r["step_ends"][0] for r in runs]  # after the warm-up step
        measured, rss = statistics.median(times), statistics.median(r["peak_rss_gb"] for r in runs)
        tps = tokens * frac / measured
        flops = useful_flops(info, int(tokens * frac), int(trained * frac)) / measured / 1e9
        report[side] = {"tokens_per_s": tps, "s_per_step": measured / args.steps, "peak_rss_gb": rss,
                        "val_loss": loss, "gflops": flops}
        each = ", ".join(f"{tokens * frac / t:.1f}" for t in times)
        print(f"{side:>6}: {tps:7.1f} tokens/s  {measured / args.steps:6.2f} s/step  peak RSS {rss:.2f} GB"
              f"  val loss {loss:.4f}  useful {flops:.1f} GFLOP/s ({flops / ceiling['fp32']:.0%} of the fp32, "
              f"{flops / max(ceiling['bf16'], 1e-9):.0%} of the bf16 ceiling)"
              + (f"  [median of {len(times)}: {each} tokens/s]" if len(times) > 1 else ""), flush=True)
    m, b = report["medqa"], report["trl"]
    print(f"train ratio={m['tokens_per_s'] / b['tokens_per_s']:.2f} rss_ratio={m['peak_rss_gb'] / b['peak_rss_gb']:.2f} "
          f"val_loss medqa={m['val_loss']:.4f} baseline={b['val_loss']:.4f}")


if __name__ == "__main__":
    main()
