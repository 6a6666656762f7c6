"""How the LM head scores decoding steps on CPU.

A decoding step scores one position per row. With Gemma's 262k x 640 head that skinny matmul is the largest
single cost of a step on CPU, and it is bound by reading the 671 MB fp32 weight, not by arithmetic:
- up to SKINNY_ROWS rows multiply as (W @ h.T).T, which runs about 2x faster than h @ W.T (same logits);
- for greedy decoding, `Int8Head` ranks the vocabulary with per-row int8 weights through fbgemm's dynamic int8
  matmul (a quarter of the bytes; 8 rows: ~13 vs ~65 ms on 2 cores), then re-scores the top RESCORE tokens in
  fp32 and writes those exact logits over their approximations, so the greedy pick is an fp32 logit.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import torch

SKINNY_ROWS = 32  # up to this many rows, the head runs a decoding form; prefill of long inputs keeps F.linear
# Re-scored candidates per row. The int8 ranking's error is well under one logit, so the fp32 winner sits near
# the top: over 576 greedy steps of Gemma 3 270M on GenMedGPT questions it ranked at most 6th.
RESCORE = 64


class Int8Head:
    """An int8 copy of a frozen LM head (symmetric, one scale per vocabulary row) packed for fbgemm."""

    def __init__(self, weight: torch.Tensor) -> None:
        w = weight.detach()
        scale = (w.abs().amax(1) / 127).clamp(min=1e-12)
        q = torch.round(w / scale[:, None]).to(torch.int8)
        zero = torch.zeros(len(scale), dtype=torch.long)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch marks its quantized-tensor constructors as legacy
            qw = torch._make_per_channel_quantized_tensor(q, scale.double(), zero, 0)
        self.packed = torch.ops.quantized.linear_prepack(qw, None)
        self.weight = weight
        self.version = (weight.data_ptr(), weight._version)

    def estimate(self, x: torch.Tensor) -> torch.Tensor:
        """int8 logits of rows `x` (n x hidden); activations are quantised per call, 7-bit (fbgemm's safe range)."""
        return torch.ops.quantized.linear_dynamic(x.contiguous(), self.packed, True)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of rows `x`: int8 estimates, with exact fp32 values for each row's top RESCORE estimates."""
        logits = self.estimate(x)
        top = logits.topk(min(RESCORE, logits.shape[-1]), dim=-1).indices
        exact = torch.bmm(self.weight[top], x[:, :, None]).squeeze(-1)
        return logits.scatter_(1, top, exact)


def int8_supported(head: Any) -> bool:
    """A plain fp32 Linear head on a CPU whose quantized engine is fbgemm (x86 with AVX2)."""
    return (_plain_cpu_head(head) and head.weight.dtype == torch.float32
            and torch.backends.quantized.engine in ("x86", "fbgemm"))


def _plain_cpu_head(head: Any) -> bool:
    return type(head) is torch.nn.Linear and head.bias is None and head.weight.device.type == "cpu"


@contextlib.contextmanager
def decoding_head(head: Any, int8: Int8Head | None = None) -> Iterator[None]:
    """Inside this block, a CPU LM head scores up to SKINNY_ROWS rows row-major, or through `int8`."""
    if not _plain_cpu_head(head) or "forward" in vars(head):  # another block already swapped it
        yield
        return
    weight = head.weight

    def forward(x: torch.Tensor) -> torch.Tensor:
        if x.numel() > SKINNY_ROWS * x.shape[-1]:
            return torch.nn.functional.linear(x, weight)
        rows = x.reshape(-1, x.shape[-1])
        out = int8(rows) if int8 is not None else (weight @ rows.T).T
        return out.reshape(*x.shape[:-1], weight.shape[0])

    head.forward = forward
    try:
        yield
    finally:
        del head.forward
