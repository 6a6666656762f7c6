"""One folder per run: resolved config, library versions, git SHA, artifacts and metrics.

Files are written atomically (temporary file, then rename) so a killed process never leaves half a JSON file.
A lock on RUN/.lock refuses a second process writing to the same run folder (tests/reliability/
test_reliability_training.py starts two).
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
from medqa.errors import RunInUseError

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
    """Exclusive claim on a run folder for the life of one process.

    An advisory `flock` on RUN/.lock: the kernel drops it when its holder dies (SIGKILL included), so a killed
    run's lock never blocks `--resume`, a reused pid cannot fake a live holder, and two processes starting at once
    cannot both take it. The file holds the holder's pid for the refusal message. Where `fcntl` is missing
    (Windows), an exclusively created pid file stands in, with a dead holder's lock taken over.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:
            fd = self._create_pid_file()
        else:
            fd = self._flock(fcntl)
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def _flock(self, fcntl: Any) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # held by a live process
                os.close(fd)
                self._refuse(self._holder())
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # else the previous holder removed the file between our open and our lock: try again
                return fd
            os.close(fd)

    def _create_pid_file(self) -> int:
        try:
            return os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid = self._holder()
            if pid is not None and _alive(pid):
                self._refuse(pid)
            self.path.unlink(missing_ok=True)
            return os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)

    def _refuse(self, pid: int | None) -> None:
        who = f"pid {pid}" if pid is not None else "its pid not written yet"
        raise RunInUseError(f"{self.path.parent} is in use by another medqa process ({who}); wait for that run to "
                            "finish, or choose another --output folder") from None

    def _holder(self) -> int | None:
        try:
            return int(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def __exit__(self, *exc: object) -> None:
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)  # before the lock is dropped: a process waiting on it sees the change
        os.close(self._fd)
        self._fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
