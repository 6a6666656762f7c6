from collections import Counter

import pytest
import torch
from conftest import fever_batch, nonzero_lora_b, tiny_cfg
from torch.utils._python_dispatch import TorchDispatchMode

from medqa.modeling.loading import load_base
from medqa.modeling.loss import answer_loss_sum
from medqa.training.trainer import prepare_model


class OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[func.overloadpacket.__name__] += 1
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("mode", [False, "selective", True])
def test_checkpointing_recomputes_what_it_says_and_keeps_the_gradients(tiny_model, tmp_path, mode):
    """Backward of one batch: selective checkpointing recomputes element-wise ops but no layer's matmuls or
    attention, full checkpointing recomputes them all, and the LoRA gradients equal the unchecked ones."""
    grads, backward_ops = {}, {}
    for m in dict.fromkeys([False, mode]):
        cfg = tiny_cfg(tiny_model, tmp_path / "run", f"train.gradient_checkpointing={str(m).lower()}")
        model, tok, _ = load_base(cfg.model)
        torch.manual_seed(0)
        peft = prepare_model(model, cfg)
        nonzero_lora_b(peft, std=0.1)
        peft.train()
        batch = fever_batch(tok)
        with OpCounter() as forward, torch.no_grad():
            peft.get_base_model().get_decoder()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        total, n = answer_loss_sum(peft, **batch)
        with OpCounter() as counter:
            (total / n).backward()
        grads[m] = {k: p.grad for k, p in peft.named_parameters() if p.requires_grad}
        backward_ops[m] = counter.ops
    plain, ours = backward_ops[False], backward_ops[mode]
    layers = peft.config.num_hidden_layers
    layer_mm = forward.ops["mm"] // layers  # the matmuls of one layer's forward (base and LoRA)
    attention = [op for op in ours if "scaled_dot_product" in op and "backward" not in op]
    if mode == "selective":
        # the few extra matmuls are input gradients of the first layer, which plain autograd prunes
        assert ours["mm"] - plain["mm"] < layer_mm and not attention
        assert sum(ours.values()) > sum(plain.values())  # the cheap ops do run again
    elif mode is True:
        assert ours["mm"] - plain["mm"] >= layers * layer_mm and sum(ours[op] for op in attention) == layers
    assert all(torch.allclose(grads[mode][k], g, atol=1e-6, rtol=1e-4) for k, g in grads[False].items())
