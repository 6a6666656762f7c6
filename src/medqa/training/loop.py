"""The optimiser-step loop shared by every training run: step, log, validate, keep the best, checkpoint, stop.

Each step's micro-batches come from the deterministic plan, so a resumed run (or another process of a
data-parallel run) picks the same rows as an uninterrupted one.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from medqa.config import MedqaConfig
from medqa.errors import TrainingError
from medqa.modeling.loss import collate, mean_answer_loss
from medqa.training import checkpoints
from medqa.training.distributed import DistContext, rank_batches
from medqa.training.loggers import MetricLoggers
from medqa.training.sharding import LossModule, full_adapter_state, full_optimizer_state


@dataclass
class LoopState:
    """Everything the loop needs; built by trainer.setup()."""

    cfg: MedqaConfig
    run_dir: Path
    model: Any
    loss_module: LossModule  # the FSDP root when sharded
    optimizer: torch.optim.Optimizer
    scheduler: Any
    trainable: list[torch.nn.Parameter]
    train_rows: list[Any]
    val_rows: list[Any]
    plan: list[list[int]]
    steps: int
    pad_id: int
    dist: DistContext
    sharded: bool = False
    tokenizer: Any = None  # for the safety probe at validations and the saved adapter
    start: int = 0
    best: dict[str, Any] = field(default_factory=dict)  # {"step", "val_loss", "bad_evals"}


@dataclass
class LoopResult:
    last_loss: float
    val_loss: float | None
    tokens: int
    seconds: float
    stopped_early: bool
    steps: int  # the last step trained (fewer than planned when early stopping ended the run)


def adapter_state(s: LoopState) -> dict[str, torch.Tensor] | None:
    """Full adapter weights to save (gathered on every process when sharded), or None to let peft read them."""
    return full_adapter_state(s.model) if s.sharded else None


def save_checkpoint(s: LoopState, step: int) -> None:
    """Every process takes part (sharded state is gathered); the main one writes."""
    weights = adapter_state(s)
    optim = full_optimizer_state(s.loss_module, s.optimizer) if s.sharded else None
    if s.dist.is_main:
        checkpoints.save_checkpoint(s.run_dir, step, s.model, s.optimizer, s.scheduler,
                                    {"steps": s.steps, "best": s.best, "sharded": s.sharded},
                                    s.cfg.train.keep_checkpoints, adapter_state=weights, optimizer_state=optim)


def trained_tokens(rows: list[Any], batches: list[list[int]]) -> int:
    return sum(sum(1 for lab in rows[j].labels[1:] if lab != -100) for b in batches for j in b)


def train_step(s: LoopState, step: int) -> tuple[float, int]:
    """One optimiser step; returns (mean answer-token loss over all processes' batches, tokens seen here)."""
    per_step = s.cfg.train.grad_accum * s.dist.world
    step_batches = s.plan[step * per_step:(step + 1) * per_step]
    n_step = trained_tokens(s.train_rows, step_batches)  # global: every process knows the whole plan
    device = next(s.model.parameters()).device
    loss_here, tokens = 0.0, 0
    for batch_idx in rank_batches(step_batches, s.dist):
        batch = collate([s.train_rows[j] for j in batch_idx], s.pad_id, device)
        loss_sum, _ = s.loss_module(**batch)
        # FSDP averages gradients over processes where DDP (all_reduce_grads) sums them
        (loss_sum / n_step * (s.dist.world if s.sharded else 1)).backward()
        loss_here += float(loss_sum.detach())
        tokens += int(batch["attention_mask"].sum())
    if not s.sharded:
        s.dist.all_reduce_grads(s.trainable)
    torch.nn.utils.clip_grad_norm_(s.trainable, s.cfg.train.max_grad_norm)
    s.optimizer.step()
    s.scheduler.step()
    s.optimizer.zero_grad(set_to_none=True)
    if s.dist.world > 1:
        import torch.distributed as dist

        total = torch.tensor([loss_here], dtype=torch.float64)
        dist.all_reduce(total)
        loss_here = float(total)
    return loss_here / n_step, tokens


def _validate(s: LoopState, step: int, record: dict[str, Any]) -> bool:
    """Validation loss; returns True when early stopping says stop."""
    if not s.val_rows:
        return False
    val = mean_answer_loss(s.model, s.val_rows, s.pad_id, loss_fn=s.loss_module)
    record["val_loss"] = round(val, 6)
    if s.cfg.train.probe_questions and not s.sharded:  # generation would need every process under FSDP
        from medqa.evaluation.hooks import checkpoint_probe

        probe = checkpoint_probe(s.model, s.tokenizer, s.cfg, n=s.cfg.train.probe_questions)
        record.update({k: v for k, v in probe.items() if k != "samples"})
    if not s.best or val < s.best["val_loss"]:
        s.best.update(step=step, val_loss=val, bad_evals=0)
        record["best"] = True
        weights = adapter_state(s)
        if s.dist.is_main:
            _save_best(s, weights)
        return False
    s.best["bad_evals"] = s.best.get("bad_evals", 0) + 1
    patience = s.cfg.train.early_stopping_patience
    return patience is not None and s.best["bad_evals"] >= patience


def _save_best(s: LoopState, weights: dict[str, torch.Tensor] | None) -> None:
    """Write best_adapter beside the old one and swap, so a kill leaves one complete copy."""
    final, tmp, old = (s.run_dir / f"{p}best_adapter" for p in ("", ".tmp-", ".old-"))
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    s.model.save_pretrained(tmp, state_dict=weights, safe_serialization=True)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def run_loop(s: LoopState, loggers: MetricLoggers, stop: Any, bar: Any) -> LoopResult:
    t0, tokens, last_loss, val_loss, early = time.perf_counter(), 0, float("nan"), None, False
    tc, done = s.cfg.train, s.start
    for step in range(s.start, s.steps):
        last_loss, n = train_step(s, step)
        done = step + 1
        tokens += n
        elapsed = time.perf_counter() - t0
        record = {"step": step + 1, "loss": round(last_loss, 6), "lr": s.scheduler.get_last_lr()[0],
                  "tokens_per_s": round(tokens * s.dist.world / elapsed, 2), "elapsed_s": round(elapsed, 2)}
        if (step + 1) % tc.eval_every == 0 or step + 1 == s.steps:
            early = _validate(s, step + 1, record)
            val_loss = record.get("val_loss", val_loss)
        loggers.log(record)
        bar.update(1)
        bar.set_postfix(loss=f"{last_loss:.3f}", tok_s=f"{record['tokens_per_s']:.0f}")
        stopping = s.dist.any(stop.requested)  # a signal may reach the processes at different steps
        if (step + 1) % tc.save_every == 0 or stopping or early:
            save_checkpoint(s, step + 1)
        if stopping:
            raise TrainingError(f"stopped by signal after step {step + 1}; continue with "
                                f"`medqa train --resume --output {s.run_dir}`")
        if early:
            break
    return LoopResult(last_loss, val_loss, tokens * s.dist.world, time.perf_counter() - t0, early, done)
