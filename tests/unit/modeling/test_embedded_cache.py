import pytest
import torch

from medqa.config import ModelConfig
from medqa.modeling.embedded import ensure_embedded
from medqa.modeling.loading import load_base


def test_half_precision_runs_load_a_half_precision_cache_built_once(embedded_dir, tmp_path, monkeypatch):
    """A bf16 run of the embedded model loads a bf16 checkpoint written once from the fp32 cache (half the bytes,
    no fp32 copy at load), with exactly the weights an fp32 load converted to bf16 would have."""
    home = tmp_path / "home"
    (home / "models").mkdir(parents=True)
    (home / "models" / embedded_dir.name).symlink_to(embedded_dir)  # the fp32 cache, not rebuilt from GGUF
    monkeypatch.setenv("MEDQA_HOME", str(home))

    model, tok, base = load_base(ModelConfig(dtype="bfloat16"))
    cache = home / "models" / f"{embedded_dir.name}-bfloat16"
    assert base.path == str(cache) and base.name == "google/gemma-3-270m"
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    weights = cache / "model.safetensors"
    assert weights.stat().st_size < 0.55 * (embedded_dir / "model.safetensors").stat().st_size
    assert tok("chest pain").input_ids == load_base(ModelConfig())[1]("chest pain").input_ids

    reference, _, fp32 = load_base(ModelConfig(dtype="float32"))
    assert fp32.path == str(home / "models" / embedded_dir.name)
    theirs = dict(reference.to(torch.bfloat16).named_parameters())
    assert all(torch.equal(p, theirs[n]) for n, p in model.named_parameters())

    built = weights.stat().st_mtime_ns
    assert ensure_embedded(dtype="bfloat16") == cache and weights.stat().st_mtime_ns == built  # not rebuilt
    with pytest.raises(ValueError, match="no embedded cache"):
        ensure_embedded(dtype="int8")
