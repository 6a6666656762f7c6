import pytest
import torch
from conftest import fever_batch, nonzero_lora_b, tiny_cfg

from medqa.config import ModelConfig
from medqa.data.formatting import encode_example
from medqa.data.schema import Example
from medqa.errors import AdapterMismatchError, ModelLoadError
from medqa.modeling.adapters import load_adapters
from medqa.modeling.loading import load_base, resolve_base
from medqa.modeling.loss import answer_loss_sum, collate


def test_head_on_trained_positions_matches_full_loss(tiny_model, tokenizer):
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    rows = [encode_example(tok, Example(question=f"Question {i} about my knee?", answer="Answer " * (i + 3)), None, 256)
            for i in range(3)]
    batch = collate(rows, tok.pad_token_id)
    total, n = answer_loss_sum(model, **batch)
    reference = model(**batch).loss  # transformers' shifted cross-entropy over all positions
    assert n == sum(sum(1 for t in r.labels[1:] if t != -100) for r in rows)
    assert torch.allclose(total / n, reference, atol=1e-5)


@pytest.mark.parametrize("softcap,chunk_rows", [(None, 256), (None, 7), (30.0, 7)])
def test_frozen_head_path_gives_transformers_loss_and_lora_gradients(tiny_model, monkeypatch, softcap, chunk_rows):
    """Also with Gemma 2's logit softcap, and in several chunks (the last one partial) through one buffer."""
    from medqa.config import LoraConfig
    from medqa.modeling import loss
    from medqa.modeling.adapters import attach_lora
    from medqa.modeling.loss import _frozen_plain_linear

    monkeypatch.setattr(loss, "HEAD_CHUNK_ROWS", chunk_rows)
    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    model.config.final_logit_softcapping = softcap
    peft = attach_lora(model, LoraConfig(dropout=0.0))
    nonzero_lora_b(peft, std=0.1)  # so lora_A gets a gradient too
    assert _frozen_plain_linear(peft.get_output_embeddings())  # the path under test
    batch = fever_batch(tok)
    total, n = answer_loss_sum(peft, **batch)
    (total / n).backward()
    ours = {k: p.grad.clone() for k, p in peft.named_parameters() if p.requires_grad}
    peft.zero_grad()
    reference = peft(**batch).loss
    reference.backward()
    assert torch.allclose(total / n, reference, atol=1e-5)
    assert all(torch.allclose(ours[k], p.grad, atol=1e-6, rtol=1e-4) for k, p in peft.named_parameters()
               if p.requires_grad)


def test_unknown_base_and_missing_gguf_fail_clearly(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_base("no-such-model")
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_base(str(tmp_path / "x.gguf"))
    (tmp_path / "folder").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve_base(str(tmp_path / "folder"))


def test_adapter_for_another_base_is_refused(tiny_model, tiny_model_other, prepared_small, tmp_path):
    from medqa.training.trainer import run_training

    cfg = tiny_cfg(tiny_model, tmp_path / "run", "train.max_steps=1")
    run_training(cfg, prepared_small, progress=False)
    other, _, _ = load_base(ModelConfig(base=str(tiny_model_other)))
    with pytest.raises(AdapterMismatchError, match="another base"):
        load_adapters(other, {"a": str(tmp_path / "run")})
    same, _, _ = load_base(ModelConfig(base=str(tiny_model)))
    assert "a" in load_adapters(same, {"a": str(tmp_path / "run")}).peft_config
