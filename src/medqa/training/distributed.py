"""Data-parallel training under `accelerate launch` or `torchrun` (DDP semantics, gloo on CPU, nccl on CUDA).

medqa's loss calls the decoder and LM head directly (to run the head on trained positions only), which a
DistributedDataParallel wrapper would not see; so after backward the LoRA gradients (a few MB) are summed
across processes explicitly. Each process takes its own micro-batches of the same deterministic plan, and
the loss is normalised by the step's trained tokens over all processes: the result equals one process
running the whole global batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self) -> torch.device:
        if torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def all_reduce_grads(self, params: list[torch.nn.Parameter]) -> None:
        if self.world == 1:
            return
        import torch.distributed as dist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for p, g in zip(params, grads):
            n = g.numel()
            p.grad = flat[offset:offset + n].view_as(g).clone()
            offset += n

    def any(self, flag: bool) -> bool:
        """True when any process's flag is (so all of them stop at the same step)."""
        if self.world == 1:
            return flag
        import torch.distributed as dist

        t = torch.tensor([int(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def barrier(self) -> None:
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()


def init_distributed() -> DistContext:
    """Join the process group that the launcher describes in the environment (or run alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistContext()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    ctx = DistContext(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    if torch.cuda.is_available():
        torch.cuda.set_device(ctx.local_rank)
    return ctx


def shutdown_distributed(ctx: DistContext) -> None:
    if ctx.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()


def rank_batches(step_batches: list[Any], ctx: DistContext) -> list[Any]:
    """This process's share of one optimiser step's micro-batches."""
    per = len(step_batches) // ctx.world
    return step_batches[ctx.rank * per:(ctx.rank + 1) * per]
