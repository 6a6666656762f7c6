"""Fully sharded data parallel training (torch FSDP2) for bases too large to copy onto every device.

Under DDP (distributed.py) every process holds the whole frozen base. With `train.distributed: fsdp` (chosen
automatically under an accelerate FSDP config or a DeepSpeed ZeRO-3 config) each decoder layer's weights are
split across the processes with `fully_shard` and gathered only for that layer's forward and backward, as
ZeRO-3 does. The adapter's gradients are reduce-scattered and its optimiser state stays sharded.

The loss runs inside `LossModule`, the FSDP root, so the root's hooks gather the embeddings, final norm and
tied LM head around medqa's head-on-trained-positions loss. Checkpoints and adapters are gathered to full
tensors on every process and written by the main one, so adapters load without FSDP; a checkpoint resumes
under the strategy that wrote it (its optimiser state is keyed by parameter name).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from medqa.errors import TrainingError
from medqa.modeling.loss import answer_loss_sum
from medqa.modeling.parts import decoder_and_head

Strategy = Literal["ddp", "fsdp"]


class LossModule(nn.Module):
    """medqa's answer-only loss as one module call: (sum of token losses, trained tokens) for a batch."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor) -> tuple[torch.Tensor, int]:
        return answer_loss_sum(self.model, input_ids, attention_mask, labels)


def resolve_strategy(setting: str, world: int, env: Mapping[str, str] = os.environ) -> Strategy:
    """The data-parallel strategy for this launch: the config's, else what the accelerate config asked for.

    accelerate exports its config as ACCELERATE_* variables. ZeRO-3 shards parameters, which FSDP does too; ZeRO
    stages 0-2 shard only optimiser state and gradients, which for a LoRA adapter are a few MB per device, so
    medqa runs them as DDP.
    """
    if world == 1:
        return "ddp"
    if setting != "auto":
        return setting  # type: ignore[return-value]
    if env.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        return "fsdp"
    if env.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true" and env.get("ACCELERATE_DEEPSPEED_ZERO_STAGE") == "3":
        return "fsdp"
    return "ddp"


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    decoder, _ = decoder_and_head(model)
    layers = getattr(decoder, "layers", None)
    if layers is None:
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        raise TrainingError(f"{type(inner).__name__} has no decoder `layers` list for FSDP to shard; "
                            "train it with train.distributed=ddp")
    return list(layers)


def shard(model: nn.Module, quantized: bool) -> LossModule:
    """Shard each decoder layer, then the root (embeddings, norm, head) around the loss."""
    from torch.distributed.fsdp import fully_shard

    if quantized:
        raise TrainingError("4-bit (QLoRA) bases are not sharded by medqa's FSDP path: bitsandbytes' packed 4-bit "
                            "weights are not plain tensors that FSDP2 can split. A 4-bit 2B base is about 2 GB, so "
                            "train it with train.distributed=ddp (each GPU holds the 4-bit base), or use a 16-bit "
                            "base with FSDP")
    for layer in decoder_layers(model):
        fully_shard(layer)
    root = LossModule(model)
    fully_shard(root)
    return root


def full_adapter_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The trainable (adapter) weights as full CPU tensors; a collective call when they are sharded."""
    from torch.distributed.tensor import DTensor

    state = {}
    for name, p in model.named_parameters():
        if p.requires_grad:
            full = p.full_tensor() if isinstance(p, DTensor) else p
            state[name] = full.detach().to("cpu", copy=True)
    return state


def full_optimizer_state(root: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimiser state gathered to full tensors, keyed by parameter name (collective)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(root, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_full_optimizer_state(root: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

    set_optimizer_state_dict(root, optimizer, optim_state_dict=state, options=StateDictOptions(full_state_dict=True))
