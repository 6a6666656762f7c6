"""LoRA adapters: attach a fresh one for training, or load saved ones (a run folder or a Hub adapter id).

An adapter made for another base is refused before its weights are read: medqa run folders record the base's
architecture fingerprint, and any adapter's `adapter_config.json` names its base model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.config import LoraConfig
from medqa.errors import AdapterMismatchError, ModelLoadError
from medqa.modeling.loading import base_fingerprint

ADAPTER_SUBDIR = "adapter"
RUN_META = "run.json"


def attach_lora(model: Any, cfg: LoraConfig) -> Any:
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model

    peft_cfg = PeftLoraConfig(
        r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=cfg.target_modules,
        use_dora=cfg.use_dora, use_rslora=cfg.use_rslora, task_type="CAUSAL_LM", bias="none",
    )
    return get_peft_model(model, peft_cfg)


def adapter_dir(spec: str) -> Path | str:
    """A run folder's adapter subfolder, an adapter folder itself, or a Hub id returned unchanged."""
    p = Path(spec).expanduser()
    if (p / ADAPTER_SUBDIR / "adapter_config.json").is_file():
        return p / ADAPTER_SUBDIR
    if (p / "adapter_config.json").is_file():
        return p
    if p.exists():
        raise ModelLoadError(f"{p} holds no adapter (no adapter_config.json): pass a medqa run folder, an adapter "
                             "folder, or a Hub adapter id such as azizdeniz890/gemma-medical-qa-lora")
    return spec


def check_compatible(model: Any, spec: str, where: Path | str) -> None:
    """Refuse an adapter whose recorded base differs from the loaded one."""
    fp = base_fingerprint(model)
    if isinstance(where, Path):
        meta_path = where.parent / RUN_META
        if meta_path.is_file():
            recorded = json.loads(meta_path.read_text()).get("base_fingerprint")
            diffs = {k: (v, fp.get(k)) for k, v in (recorded or {}).items() if fp.get(k) != v}
            if diffs:
                detail = ", ".join(f"{k}: adapter {a} vs base {b}" for k, (a, b) in diffs.items())
                raise AdapterMismatchError(f"adapter {spec} was trained on another base model ({detail}); "
                                           f"load the base it was made for (see {meta_path})")
            return
        cfg_path = where / "adapter_config.json"
        recorded_base = json.loads(cfg_path.read_text()).get("base_model_name_or_path")
    else:
        recorded_base = _hub_adapter_base(spec)
    loaded = getattr(model.config, "_name_or_path", "")
    if recorded_base and loaded and _norm(recorded_base) != _norm(loaded):
        raise AdapterMismatchError(f"adapter {spec} was made for base {recorded_base!r}, but the loaded base is "
                                   f"{loaded!r}; pass --base {recorded_base}")


def _norm(name: str) -> str:
    return name.rstrip("/").split("/")[-1].lower()


def _hub_adapter_base(repo_id: str) -> str | None:
    try:
        from huggingface_hub import hf_hub_download

        return json.loads(Path(hf_hub_download(repo_id, "adapter_config.json")).read_text()).get("base_model_name_or_path")
    except Exception as err:
        raise ModelLoadError(f"could not fetch adapter {repo_id!r} from the Hub ({err}); check the id and your "
                             "network, or pass a local adapter folder") from None


def load_adapters(model: Any, specs: dict[str, str]) -> Any:
    """Attach each named adapter (name -> spec) to the base; returns the PeftModel (or the base if none)."""
    from peft import PeftModel

    peft_model = None
    for name, spec in specs.items():
        where = adapter_dir(spec)
        check_compatible(model, spec, where)
        if isinstance(where, Path) and any(where.glob("*.bin")) and not any(where.glob("*.safetensors")):
            raise ModelLoadError(f"adapter {spec} has only pickle (.bin) weights; medqa loads safetensors only")
        try:
            if peft_model is None:
                peft_model = PeftModel.from_pretrained(model, str(where), adapter_name=name, is_trainable=False)
            else:
                peft_model.load_adapter(str(where), adapter_name=name, is_trainable=False)
        except (RuntimeError, ValueError) as err:
            raise AdapterMismatchError(f"adapter {spec} does not fit the loaded base ({str(err)[:300]}); load the "
                                       "base it was made for") from None
    return peft_model if peft_model is not None else model
