"""Atomic training checkpoints without pickles: adapter weights, optimiser, scheduler, RNG states and the step.

A checkpoint is written into a temporary folder and renamed to `checkpoints/step-N` only when complete
(`complete.json` is written last), so a killed process never leaves a checkpoint that looks loadable; the next
save removes what killed writes left behind. Tensors go to safetensors and everything else to JSON, so resuming
unpickles nothing; a checkpoint holding pickle files (an older medqa's `optimizer.pt`, say) is refused unless
`model.allow_pickle` is on. A write that fails for lack of space removes its temporary folder and raises
DiskFullError naming the folder; the previous checkpoint stays complete. The last `keep` checkpoints are kept.
Exercised by tests/integration/test_kill_resume.py and tests/reliability/test_reliability_training.py.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

from medqa.errors import DiskFullError, MedqaError, TrainingError
from medqa.modeling.adapters import refuse_pickles

COMPLETE = "complete.json"
STATE_TENSORS, STATE_JSON = "training_state.safetensors", "training_state.json"
TMP_PREFIX = ".tmp-step-"
_TENSOR, _TUPLE, _ITEMS = "__tensor__", "__tuple__", "__items__"  # JSON markers for what JSON cannot hold
_DISK_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
# how safetensors ("os error 28") and torch's zip writer ("unexpected pos") report a short write
_DISK_TEXT = re.compile(r"no space left|file too large|quota exceeded|os error (27|28|122)\b|unexpected pos|"
                        r"file write failed", re.IGNORECASE)


def checkpoint_root(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def save_checkpoint(run_dir: Path, step: int, model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any],
                    keep: int, adapter_state: dict[str, Any] | None = None,
                    optimizer_state: dict[str, Any] | None = None) -> Path:
    """`adapter_state` / `optimizer_state`: full tensors gathered from a sharded run (else read from the objects)."""
    root = checkpoint_root(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    remove_partial(root)
    tmp = None
    try:
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=root))
        model.save_pretrained(tmp / "adapter", state_dict=adapter_state, safe_serialization=True)
        _write_state(tmp, {"optimizer": optimizer.state_dict() if optimizer_state is None else optimizer_state,
                           "scheduler": scheduler.state_dict(), "rng": _rng_state()})
        _sync_tree(tmp)  # on disk before the marker, so even a power cut cannot leave a 'complete' partial one
        _write_synced(tmp / COMPLETE, json.dumps({**state, "step": step}))  # written last: marks completeness
    except Exception as err:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        reason = storage_failure(err)
        if reason is None:
            raise
        raise DiskFullError(disk_full_message(run_dir, f"could not write checkpoint step-{step} in {root}", reason)) \
            from None
    final = root / f"step-{step}"
    _discard(final)
    tmp.rename(final)
    _sync_dir(root)
    for old in list_checkpoints(run_dir)[:-keep]:
        _discard(old)
    return final


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = checkpoint_root(run_dir)
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step-*") if (p / COMPLETE).is_file()]
    return sorted(done, key=lambda p: int(p.name.split("-")[1]))


def remove_partial(root: Path) -> None:
    """Temporary folders and incomplete `step-N` folders left by killed writes (one writer per run: the lock)."""
    for p in root.glob(f"{TMP_PREFIX}*"):
        shutil.rmtree(p, ignore_errors=True)
    for p in root.glob("step-*"):
        if not (p / COMPLETE).is_file():
            shutil.rmtree(p, ignore_errors=True)


def load_checkpoint(path: Path, model: Any, optimizer: Any, scheduler: Any,
                    allow_pickle: bool = False) -> dict[str, Any]:
    """Adapter weights, optimiser, scheduler and RNG states from `path`; returns its `complete.json`."""
    load_adapter_weights(path, model, allow_pickle)
    return load_training_state(path, optimizer, scheduler, allow_pickle=allow_pickle)


def load_adapter_weights(path: Path, model: Any, allow_pickle: bool = False) -> None:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    refuse_pickles(path, f"checkpoint {path}", allow_pickle)
    set_peft_model_state_dict(model, load_file(str(path / "adapter" / "adapter_model.safetensors")))


def load_training_state(path: Path, optimizer: Any, scheduler: Any, sharded: bool = False,
                        load_optimizer: Callable[[dict[str, Any]], None] | None = None,
                        allow_pickle: bool = False) -> dict[str, Any]:
    """Optimiser (through `load_optimizer` when given: a sharded run's), scheduler and RNG states from `path`;
    returns its `complete.json`."""
    refuse_pickles(path, f"checkpoint {path}", allow_pickle)
    meta = json.loads((path / COMPLETE).read_text())
    if bool(meta.get("sharded", False)) != sharded:
        written, now = ("FSDP", "DDP") if meta.get("sharded") else ("DDP", "FSDP")
        raise TrainingError(f"checkpoint {path} was written by a {written} run and this one is {now}: its optimiser "
                            f"state is keyed differently; resume with train.distributed set as before")
    if not (path / STATE_JSON).is_file() and (path / "optimizer.pt").is_file():
        saved = _read_pickled_state(path)  # an older medqa's checkpoint, allowed explicitly
    else:
        saved = _read_state(path)
    (load_optimizer or optimizer.load_state_dict)(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    _set_rng_state(saved["rng"])
    return meta


def storage_failure(err: BaseException) -> str | None:
    """The reason, when `err` says a write ran out of space (disk, quota or file-size limit); else None."""
    if isinstance(err, MedqaError):
        return None
    if isinstance(err, OSError) and err.errno in _DISK_ERRNOS:
        return os.strerror(err.errno)
    text = str(err).strip()
    if _DISK_TEXT.search(text):
        return text.splitlines()[0][:200]
    return None


def disk_full_message(run_dir: Path, what: str, reason: str) -> str:
    done = list_checkpoints(run_dir)
    try:
        free = f"{shutil.disk_usage(run_dir).free / 2**20:,.0f} MiB free there now"
    except OSError:
        free = "free space unknown"
    kept = f"; the last complete checkpoint, {done[-1].name}, is intact" if done else ""
    return (f"{what}: {reason}. The disk holding {run_dir} is out of space (or a quota or file-size limit was hit; "
            f"{free}). Free disk space there (or lower train.keep_checkpoints, or choose another --output), then "
            f"continue with `medqa train --resume --output {run_dir}`{kept}")


@contextlib.contextmanager
def storage_errors(run_dir: Path) -> Iterator[None]:
    """Turn any write that runs out of space inside the block into a DiskFullError with what to do next."""
    try:
        yield
    except Exception as err:
        reason = storage_failure(err)
        if reason is None:
            raise
        raise DiskFullError(disk_full_message(run_dir, f"training could not write to {run_dir}", reason)) from None


def _discard(folder: Path) -> None:
    """Remove a checkpoint folder; its marker goes first, so a removal cut short never leaves a 'complete' one."""
    (folder / COMPLETE).unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _sync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())


def _sync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def _write_state(folder: Path, state: dict[str, Any]) -> None:
    """Tensors into one safetensors file, the structure around them (and plain values) into JSON."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    tree = _encode(state, "", tensors)
    save_file(tensors, str(folder / STATE_TENSORS))
    (folder / STATE_JSON).write_text(json.dumps(tree), encoding="utf-8")


def _read_state(folder: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(folder / STATE_TENSORS))
        return _decode(json.loads((folder / STATE_JSON).read_text(encoding="utf-8")), tensors)
    except Exception as err:  # a damaged file: name it instead of a traceback from deep inside a reader
        raise TrainingError(f"checkpoint {folder} cannot be read ({err}); delete it to resume from the one "
                            "before, or start a new run") from None


def _read_pickled_state(folder: Path) -> dict[str, Any]:
    rng = torch.load(folder / "rng.pt", weights_only=False)  # python's RNG state is a tuple; allowed explicitly
    return {"optimizer": torch.load(folder / "optimizer.pt", weights_only=True),
            "scheduler": torch.load(folder / "scheduler.pt", weights_only=True),
            "rng": {"torch": rng["torch"], "python": rng["python"], "cuda": rng.get("cuda")}}


def _encode(obj: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {_TENSOR: key}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: _encode(v, f"{key}/{k}", tensors) for k, v in obj.items()}
        return {_ITEMS: [[k, _encode(v, f"{key}/{k}", tensors)] for k, v in obj.items()]}  # int keys (param ids)
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{key}/{i}", tensors) for i, v in enumerate(obj)]
        return {_TUPLE: items} if isinstance(obj, tuple) else items
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TrainingError(f"cannot store {type(obj).__name__} at {key or '/'} in a checkpoint (tensors, numbers, "
                        "strings, lists and dicts only)")


def _decode(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, list):
        return [_decode(v, tensors) for v in tree]
    if not isinstance(tree, dict):
        return tree
    if _TENSOR in tree:
        return tensors[tree[_TENSOR]]
    if _TUPLE in tree:
        return tuple(_decode(v, tensors) for v in tree[_TUPLE])
    if _ITEMS in tree:
        return {k: _decode(v, tensors) for k, v in tree[_ITEMS]}
    return {k: _decode(v, tensors) for k, v in tree.items()}
