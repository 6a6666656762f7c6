"""`medqa train`: the one supervised fine-tuning path (LoRA, or QLoRA with `model.quantization: nf4`).

    medqa train --data data/prepared --output runs/demo --set train.max_steps=40

run_training(): set up (seed, model, data, adapter, optimiser) → pre-flight → loop (step, log, validate,
checkpoint) → save (adapter, tokenizer, run.json, loss history and curve).
"""

from __future__ import annotations

import math
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medqa.config import MedqaConfig
from medqa.data.formatting import Encoded, encode_examples, system_prompt
from medqa.data.prepare import read_split
from medqa.errors import TrainingError
from medqa.modeling.adapters import ADAPTER_SUBDIR, RUN_META, attach_lora
from medqa.modeling.loading import base_fingerprint, load_base
from medqa.modeling.loss import answer_loss_sum, collate, mean_answer_loss
from medqa.runs import RunLock, save_resolved_config, write_json
from medqa.training import checkpoints
from medqa.training.batching import batch_plan
from medqa.training.history import History


@dataclass
class TrainResult:
    run_dir: Path
    steps: int
    train_seconds: float
    final_train_loss: float
    val_loss: float | None
    tokens_per_second: float
    truncated_answer_tokens: int
    history: list[dict[str, Any]] = field(default_factory=list)


def set_seed(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(False)


def preflight(encoded: list[Encoded], plan: list[list[int]], max_len: int) -> int:
    """Stop before training when a batch has nothing to learn; return answer tokens lost to truncation."""
    for i, batch in enumerate(plan):
        if all(all(label == -100 for label in encoded[j].labels) for j in batch):
            raise TrainingError(f"batch {i} has no trained answer token: every prompt in it fills the {max_len}-token "
                                "cap. Raise train.max_seq_len, shorten the system prompt, or filter long questions")
    return sum(e.truncated_answer_tokens for e in encoded)


def make_optimizer(cfg: MedqaConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    name = cfg.train.optimizer
    if name == "auto":
        name = "paged_adamw_32bit" if torch.cuda.is_available() else "adamw"
    if name.startswith("paged_"):
        import bitsandbytes as bnb

        cls = bnb.optim.PagedAdamW32bit if name == "paged_adamw_32bit" else bnb.optim.PagedAdamW8bit
        return cls(params, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)


def make_scheduler(cfg: MedqaConfig, optimizer: torch.optim.Optimizer, total_steps: int) -> Any:
    from transformers import get_scheduler

    name = "constant_with_warmup" if cfg.train.scheduler == "constant" else cfg.train.scheduler
    return get_scheduler(name, optimizer, num_warmup_steps=cfg.train.warmup_steps, num_training_steps=total_steps)


def prepare_model(model: Any, cfg: MedqaConfig) -> Any:
    if cfg.model.quantization == "nf4":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.train.gradient_checkpointing)
    elif cfg.train.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.enable_input_require_grads()
    return attach_lora(model, cfg.lora)


class StopRequest:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the end of the step and exits cleanly."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not in the main thread: signals stay with the host program
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.requested = True

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def total_steps_for(cfg: MedqaConfig, n_rows: int) -> int:
    per_step = cfg.train.batch_size * cfg.train.grad_accum
    return cfg.train.max_steps or max(1, math.ceil(cfg.train.epochs * n_rows / per_step))


def run_training(cfg: MedqaConfig, data_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
                 progress: bool = True) -> TrainResult:
    """Fine-tune `cfg.model.base` with LoRA on the prepared folder `data_dir`; artifacts go to cfg.train.output_dir."""
    run_dir = Path(cfg.train.output_dir)
    _check_output(run_dir, resume, overwrite)
    with RunLock(run_dir):
        return _train(cfg, Path(data_dir), run_dir, resume, progress)


def _check_output(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume and not checkpoints.list_checkpoints(run_dir):
        raise TrainingError(f"--resume: {run_dir} has no complete checkpoint; start a new run without --resume")
    if not resume and not overwrite and (run_dir / RUN_META).exists():
        raise TrainingError(f"{run_dir} already holds a finished run; pass --overwrite to replace it, "
                            "--resume to continue it, or choose another --output")


def _train(cfg: MedqaConfig, data_dir: Path, run_dir: Path, resume: bool, progress: bool) -> TrainResult:
    set_seed(cfg.train.seed)
    model, tokenizer, base = load_base(cfg.model)
    fingerprint = base_fingerprint(model)
    system, cap = system_prompt(cfg.prompt.system_prompt), cfg.train.max_seq_len
    train_rows = encode_examples(tokenizer, read_split(data_dir, "train"), system, cap)
    val_rows = encode_examples(tokenizer, read_split(data_dir, "validation")[: cfg.train.eval_rows], system, cap)
    steps = total_steps_for(cfg, len(train_rows))
    accum = cfg.train.grad_accum
    plan = batch_plan([len(r.input_ids) for r in train_rows], cfg.train.batch_size, cfg.train.seed, steps * accum)
    truncated = preflight(train_rows, plan, cfg.train.max_seq_len)
    model = prepare_model(model, cfg)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg, trainable)
    scheduler = make_scheduler(cfg, optimizer, steps)
    save_resolved_config(run_dir, cfg)
    history = History(run_dir / "metrics.jsonl")
    start = 0
    if resume:
        state = checkpoints.load_checkpoint(checkpoints.list_checkpoints(run_dir)[-1], model, optimizer, scheduler)
        start = state["step"]
        history.truncate_after(start)
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id
    model.train()
    t0, tokens_seen, last_loss, val_loss = time.perf_counter(), 0, float("nan"), None
    bar = _progress_bar(steps, start, progress)
    with StopRequest() as stop:
        for step in range(start, steps):
            micro = plan[step * accum:(step + 1) * accum]
            n_step = sum(sum(1 for lab in train_rows[j].labels[1:] if lab != -100) for b in micro for j in b)
            loss_total = 0.0
            for batch_idx in micro:
                batch = collate([train_rows[j] for j in batch_idx], pad_id, device)
                loss_sum, _ = answer_loss_sum(model, **batch)
                (loss_sum / n_step).backward()
                loss_total += float(loss_sum.detach())
                tokens_seen += int(batch["attention_mask"].sum())
            torch.nn.utils.clip_grad_norm_(trainable, cfg.train.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            last_loss = loss_total / n_step
            elapsed = time.perf_counter() - t0
            record = {"step": step + 1, "loss": round(last_loss, 6), "lr": scheduler.get_last_lr()[0],
                      "tokens_per_s": round(tokens_seen / elapsed, 2), "elapsed_s": round(elapsed, 2)}
            if (step + 1) % cfg.train.eval_every == 0 or step + 1 == steps:
                val_loss = mean_answer_loss(model, val_rows, pad_id) if val_rows else None
                record["val_loss"] = val_loss
            history.append(record)
            bar.update(1)
            bar.set_postfix(loss=f"{last_loss:.3f}", tok_s=f"{record['tokens_per_s']:.0f}")
            if (step + 1) % cfg.train.save_every == 0 or stop.requested:
                checkpoints.save_checkpoint(run_dir, step + 1, model, optimizer, scheduler, {"steps": steps},
                                            cfg.train.keep_checkpoints)
            if stop.requested:
                bar.close()
                raise TrainingError(f"stopped by signal after step {step + 1}; continue with "
                                    f"`medqa train --resume --output {run_dir}`")
    bar.close()
    train_seconds = time.perf_counter() - t0
    result = TrainResult(run_dir, steps, train_seconds, last_loss, val_loss, tokens_seen / max(train_seconds, 1e-9),
                         truncated, history.records)
    _save_artifacts(run_dir, model, tokenizer, base, fingerprint, cfg, result)
    return result


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", disable=not enabled, dynamic_ncols=True)


def _save_artifacts(run_dir: Path, model: Any, tokenizer: Any, base: Any, fingerprint: dict[str, Any],
                    cfg: MedqaConfig, result: TrainResult) -> None:
    from medqa.data.formatting import GEMMA_CHAT_TEMPLATE
    from medqa.training.history import plot_loss

    model.save_pretrained(run_dir / ADAPTER_SUBDIR, safe_serialization=True)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE  # ship the format the adapter was trained with
    tokenizer.save_pretrained(run_dir / ADAPTER_SUBDIR)
    plot_loss(result.history, run_dir / "loss.png")
    write_json(run_dir / RUN_META, {
        "base": cfg.model.base, "base_name": base.name, "base_fingerprint": fingerprint,
        "quantization": cfg.model.quantization, "steps": result.steps, "train_seconds": round(result.train_seconds, 2),
        "final_train_loss": result.final_train_loss, "val_loss": result.val_loss,
        "tokens_per_second": round(result.tokens_per_second, 2),
        "truncated_answer_tokens": result.truncated_answer_tokens,
    })
