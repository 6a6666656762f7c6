"""`medqa train`: the one supervised fine-tuning path (LoRA, or QLoRA with `model.quantization: nf4`).

    medqa train --data data/prepared --output runs/demo --set train.max_steps=40

run_training(): set up (seed, model, data, adapter, optimiser) → pre-flight → loop (step, log, validate,
checkpoint) → save (adapter, tokenizer, run.json, loss history and curve).
"""

from __future__ import annotations

import contextlib
import math
import random
import shutil
import signal
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import torch

from medqa.config import MedqaConfig, config_to_dict
from medqa.data.formatting import Encoded, encode_examples, system_prompt
from medqa.data.prepare import read_split
from medqa.errors import TrainingError
from medqa.modeling.adapters import ADAPTER_SUBDIR, RUN_META, attach_lora
from medqa.modeling.loading import base_fingerprint, load_base
from medqa.runs import RunLock, save_resolved_config, write_json
from medqa.training import checkpoints
from medqa.training.batching import batch_plan
from medqa.training.checkpointing import enable_checkpointing
from medqa.training.distributed import DistContext, init_distributed, shutdown_distributed
from medqa.training.loggers import MetricLoggers
from medqa.training.loop import LoopState, adapter_state, run_loop
from medqa.training.sharding import LossModule, load_full_optimizer_state, resolve_strategy, shard


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
    stopped_early: bool = False
    best_step: int | None = None


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


def make_optimizer(cfg: MedqaConfig, params: list[torch.nn.Parameter], sharded: bool = False) -> torch.optim.Optimizer:
    name = cfg.train.optimizer
    if name == "auto":
        name = "paged_adamw_32bit" if torch.cuda.is_available() and not sharded else "adamw"
    if name.startswith("paged_") and sharded:
        raise TrainingError(f"train.optimizer={name} cannot step FSDP's sharded parameters; use train.optimizer=adamw "
                            "(FSDP already splits the optimiser state across processes)")
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

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return attach_lora(enable_checkpointing(model, cfg.train.gradient_checkpointing), cfg.lora)


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


def total_steps_for(cfg: MedqaConfig, n_rows: int, world: int = 1) -> int:
    per_step = cfg.train.batch_size * cfg.train.grad_accum * world
    return cfg.train.max_steps or max(1, math.ceil(cfg.train.epochs * n_rows / per_step))


def run_training(cfg: MedqaConfig, data_dir: str | Path, *, resume: bool = False, overwrite: bool = False,
                 progress: bool = True) -> TrainResult:
    """Fine-tune `cfg.model.base` with LoRA on the prepared folder `data_dir`; artifacts go to cfg.train.output_dir."""
    run_dir = Path(cfg.train.output_dir)
    dist = init_distributed()
    try:
        # The lock comes first, so a refused second process never touches the running one's files; a write that
        # runs out of space anywhere ends with DiskFullError (what to free, how to resume), not a traceback.
        with RunLock(run_dir) if dist.is_main else contextlib.nullcontext(), checkpoints.storage_errors(run_dir):
            if dist.is_main:
                _check_output(run_dir, resume, overwrite)
            state, base, fingerprint, truncated = setup(cfg, Path(data_dir), run_dir, resume, dist)
            loggers = MetricLoggers(run_dir, list(cfg.train.report_to), config_to_dict(cfg), enabled=dist.is_main)
            if resume and dist.is_main:
                loggers.history.truncate_after(state.start)
            bar = _progress_bar(state.steps, state.start, progress and dist.is_main)
            try:
                with StopRequest() as stop:
                    out = run_loop(state, loggers, stop, bar)
            finally:
                bar.close()
                loggers.close()
            result = TrainResult(run_dir, out.steps, out.seconds, out.last_loss, out.val_loss,
                                 out.tokens / max(out.seconds, 1e-9), truncated, loggers.history.records,
                                 out.stopped_early, state.best.get("step"))
            weights = adapter_state(state)  # gathered on every process when sharded
            if dist.is_main:
                _save_artifacts(run_dir, state, weights, base, fingerprint, result)
            dist.barrier()
            return result
    finally:
        shutdown_distributed(dist)


def _check_output(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume and not checkpoints.list_checkpoints(run_dir):
        raise TrainingError(f"--resume: {run_dir} has no complete checkpoint; start a new run without --resume")
    if not resume and not overwrite and (run_dir / RUN_META).exists():
        raise TrainingError(f"{run_dir} already holds a finished run; pass --overwrite to replace it, "
                            "--resume to continue it, or choose another --output")
    if not resume and not overwrite and checkpoints.list_checkpoints(run_dir):
        raise TrainingError(f"{run_dir} holds checkpoints of an unfinished run; pass --resume to continue it, "
                            "--overwrite to start again, or choose another --output")
    if not resume:
        for stale in (run_dir / "checkpoints", run_dir / "best_adapter", run_dir / "tensorboard"):
            shutil.rmtree(stale, ignore_errors=True)
        (run_dir / "metrics.jsonl").unlink(missing_ok=True)


def setup(cfg: MedqaConfig, data_dir: Path, run_dir: Path, resume: bool, dist: DistContext) -> tuple:
    """Seed, load the base, encode the data, plan the batches, attach LoRA, build optimiser and scheduler."""
    set_seed(cfg.train.seed)
    model, tokenizer, base = load_base(cfg.model)
    fingerprint = base_fingerprint(model)
    system, cap = system_prompt(cfg.prompt.system_prompt), cfg.train.max_seq_len
    train_rows = encode_examples(tokenizer, read_split(data_dir, "train"), system, cap)
    val_rows = encode_examples(tokenizer, read_split(data_dir, "validation")[: cfg.train.eval_rows], system, cap)
    steps = total_steps_for(cfg, len(train_rows), dist.world)
    per_step = cfg.train.grad_accum * dist.world
    plan = batch_plan([len(r.input_ids) for r in train_rows], cfg.train.batch_size, cfg.train.seed, steps * per_step)
    truncated = preflight(train_rows, plan, cap)
    model = prepare_model(model, cfg)
    latest = checkpoints.list_checkpoints(run_dir)[-1] if resume else None
    if latest:
        checkpoints.load_adapter_weights(latest, model, cfg.model.allow_pickle)  # before FSDP splits the weights
    sharded = resolve_strategy(cfg.train.distributed, dist.world) == "fsdp"
    loss_module = shard(model, cfg.model.quantization == "nf4") if sharded else LossModule(model)
    trainable = [p for p in loss_module.parameters() if p.requires_grad]
    optimizer = make_optimizer(cfg, trainable, sharded)
    scheduler = make_scheduler(cfg, optimizer, steps)
    if dist.is_main:
        save_resolved_config(run_dir, cfg)
    state = LoopState(cfg, run_dir, model, loss_module, optimizer, scheduler, trainable, train_rows, val_rows, plan,
                      steps, tokenizer.pad_token_id, dist, sharded, tokenizer=tokenizer)
    if latest:
        load_optimizer = partial(load_full_optimizer_state, loss_module, optimizer) if sharded else None
        saved = checkpoints.load_training_state(latest, optimizer, scheduler, sharded, load_optimizer,
                                                allow_pickle=cfg.model.allow_pickle)
        state.start, state.best = saved["step"], saved.get("best") or {}
    model.train()
    return state, base, fingerprint, truncated


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc="train", unit="step", disable=not enabled, dynamic_ncols=True)


def _save_artifacts(run_dir: Path, state: LoopState, weights: dict[str, torch.Tensor] | None, base: Any,
                    fingerprint: dict[str, Any], result: TrainResult) -> None:
    from medqa.data.formatting import GEMMA_CHAT_TEMPLATE
    from medqa.training.history import plot_loss

    cfg, tokenizer = state.cfg, state.tokenizer
    state.model.save_pretrained(run_dir / ADAPTER_SUBDIR, state_dict=weights, safe_serialization=True)
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = GEMMA_CHAT_TEMPLATE  # ship the format the adapter was trained with
    tokenizer.save_pretrained(run_dir / ADAPTER_SUBDIR)
    plot_loss(result.history, run_dir / "loss.png")
    write_json(run_dir / RUN_META, {
        "base": cfg.model.base, "base_name": base.name, "base_fingerprint": fingerprint,
        "quantization": cfg.model.quantization, "steps": result.steps, "train_seconds": round(result.train_seconds, 2),
        "final_train_loss": result.final_train_loss, "val_loss": result.val_loss,
        "tokens_per_second": round(result.tokens_per_second, 2),
        "truncated_answer_tokens": result.truncated_answer_tokens, "stopped_early": result.stopped_early,
        "best_step": result.best_step, "world_size": state.dist.world,
        "distributed": "fsdp" if state.sharded else "ddp",
    })
    from medqa.artifacts.model_card import write_model_card

    write_model_card(run_dir)  # adapter/README.md: Hub metadata, intended use, limitations, safety statement
