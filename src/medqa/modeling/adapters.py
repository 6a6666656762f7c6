"""LoRA adapters: attach a fresh one for training, or load saved ones (a run folder or a Hub adapter id).

An adapter made for another base is refused before its weights are read: medqa run folders record the base's
architecture fingerprint, and any adapter's `adapter_config.json` names its base model. Only safetensors weights
reach peft: a folder holding pickle files is refused unless `model.allow_pickle` is on, and from the Hub only the
config and the safetensors weights are downloaded. Exercised by tests/reliability/test_reliability_artifacts.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medqa.config import LoraConfig
from medqa.errors import AdapterMismatchError, ModelLoadError, PickleRefusedError
from medqa.modeling.loading import base_fingerprint

ADAPTER_SUBDIR = "adapter"
RUN_META = "run.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")  # unpickling them can run any code


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
        recorded_base = _hub_adapter_base(spec)  # not downloaded yet: ask the Hub for the config alone
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


def find_pickles(folder: Path) -> list[str]:
    """Pickle files under `folder`, as relative paths."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                  if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file())


def refuse_pickles(folder: Path, what: str, allow_pickle: bool) -> None:
    """Refuse `what` (an adapter, a checkpoint) when `folder` holds pickle files, unless they are allowed."""
    found = find_pickles(folder)
    if found and not allow_pickle:
        raise PickleRefusedError(f"{what} contains pickle files ({', '.join(found[:5])}): loading them can run "
                                 "arbitrary code. medqa writes safetensors only; delete them, or, if you trust "
                                 "where they came from, set model.allow_pickle=true (--set model.allow_pickle=true)")


def fetch_hub_adapter(repo_id: str, allow_pickle: bool = False) -> Path:
    """Download a Hub adapter's config and safetensors weights (pickled weights only when allowed)."""
    from huggingface_hub import snapshot_download

    patterns = ["adapter_config.json", ADAPTER_WEIGHTS] + (["adapter_model.bin"] if allow_pickle else [])
    try:
        folder = Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as err:
        raise ModelLoadError(f"could not fetch adapter {repo_id!r} from the Hub ({err}); check the id and your "
                             "network, or pass a local adapter folder") from None
    if not (folder / "adapter_config.json").is_file():
        raise ModelLoadError(f"{repo_id!r} holds no adapter_config.json: pass a PEFT adapter repo or folder")
    return folder


def _weights_folder(spec: str, allow_pickle: bool) -> Path:
    """The local folder peft will read for `spec`: safetensors weights and, unless allowed, no pickle file.

    From the Hub only the safe files are downloaded, so pickles a repo also holds (training_args.bin) never arrive.
    """
    where = adapter_dir(spec)
    if isinstance(where, Path):
        folder = where
        refuse_pickles(folder, f"adapter {spec}", allow_pickle)
    else:
        folder = fetch_hub_adapter(where, allow_pickle)
    if not (folder / ADAPTER_WEIGHTS).is_file() and not allow_pickle:
        raise PickleRefusedError(f"adapter {spec} has no {ADAPTER_WEIGHTS} (pickled weights only, or none): medqa "
                                 "loads safetensors only unless model.allow_pickle=true")
    return folder


def load_adapters(model: Any, specs: dict[str, str], allow_pickle: bool = False) -> Any:
    """Attach each named adapter (name -> spec) to the base; returns the PeftModel (or the base if none).

    `allow_pickle` (config `model.allow_pickle`) lets pickled weights and stray pickle files through.
    """
    from peft import PeftModel

    peft_model = None
    for name, spec in specs.items():
        check_compatible(model, spec, adapter_dir(spec))
        where = _weights_folder(spec, allow_pickle)
        try:
            if peft_model is None:
                peft_model = PeftModel.from_pretrained(model, str(where), adapter_name=name, is_trainable=False)
            else:
                peft_model.load_adapter(str(where), adapter_name=name, is_trainable=False)
        except (RuntimeError, ValueError) as err:
            raise AdapterMismatchError(f"adapter {spec} does not fit the loaded base ({str(err)[:300]}); load the "
                                       "base it was made for") from None
    return peft_model if peft_model is not None else model
