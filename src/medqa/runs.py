"""One folder per run: resolved config, library versions, git SHA, artifacts and metrics.

Files are written atomically (temporary file, then rename) so a killed process never leaves half a JSON file.
A lock file refuses a second process writing to the same run folder.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from medqa.config import MedqaConfig, config_to_dict
from medqa.errors import MedqaError

LOCK = ".lock"
_PACKAGES = ("medqa", "torch", "transformers", "peft", "accelerate", "bitsandbytes", "tokenizers", "trl")


def atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_sha() -> str | None:
    try:
        here = Path(__file__).resolve().parent
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        return res.stdout.strip() or None if res.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict[str, Any]:
    return {"versions": library_versions(), "git_sha": git_sha()}


def save_resolved_config(folder: Path, cfg: MedqaConfig) -> None:
    atomic_write_text(folder / "config.yaml", yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
    write_json(folder / "provenance.json", provenance())


class RunLock:
    """Exclusive claim on a run folder for the life of one process (a stale lock of a dead process is taken over)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid = self._holder()
            if pid is not None and _alive(pid):
                raise MedqaError(f"{self.path.parent} is in use by another medqa process (pid {pid}); choose another "
                                 "--output folder or wait for that run to finish") from None
            self.path.unlink(missing_ok=True)
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return self

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
