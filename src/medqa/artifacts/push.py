"""`medqa push RUN_DIR REPO_ID`: upload the adapter folder and its model card to the Hugging Face Hub.

    medqa push runs/demo user/medqa-gemma3-lora --private
    medqa push runs/demo user/medqa-gemma3-lora --dry-run     # files, sizes and card metadata; no network

run_push(): read the run → the card (medqa's own, or peft's empty template, is refreshed for this repo id; one the
user wrote is kept) → the files to upload (adapter/, dot-files left out) → refuse pickle files unless allowed →
dry run: report and stop → token from HF_TOKEN or `hf auth login` (never printed) → create_repo + upload_folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from medqa.artifacts import ArtifactError
from medqa.artifacts.model_card import CARD_NAME, is_generated, parse_card_metadata, render_model_card
from medqa.artifacts.run_info import RunInfo, read_run
from medqa.runs import atomic_write_text

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")


def run_push(run_dir: str | Path, repo_id: str, private: bool = False, dry_run: bool = False,
             allow_pickle: bool = False) -> dict[str, Any]:
    """Upload (or, with dry_run, describe) RUN_DIR/adapter and its card; returns what was or would be sent."""
    if not _REPO_ID.match(repo_id) or ".." in repo_id:
        raise ArtifactError(f"repo id {repo_id!r} is not of the form user-or-org/name (letters, digits, - _ .)")
    info = read_run(run_dir)
    card = _card_text(info, repo_id)
    files = upload_files(info.adapter_dir, card)
    _refuse_pickles(files, allow_pickle)
    report = {"repo_id": repo_id, "private": private, "dry_run": dry_run, "folder": str(info.adapter_dir),
              "files": files, "total_bytes": sum(f["bytes"] for f in files),
              "card_metadata": parse_card_metadata(card)}
    if dry_run:
        return report
    if card is not None:
        atomic_write_text(info.adapter_dir / CARD_NAME, card)
    report["url"] = _upload(info, repo_id, private, [f["path"] for f in files])
    return report


def _card_text(info: RunInfo, repo_id: str) -> str:
    """medqa's card, rendered for this repo id, unless the user keeps an edited card."""
    path = info.adapter_dir / CARD_NAME
    if path.is_file() and not is_generated(path):  # the user's own card
        return path.read_text(encoding="utf-8")
    return render_model_card(info, repo_id=repo_id)


def upload_files(folder: Path, card: str) -> list[dict[str, Any]]:
    """Relative path and size of every file to upload (dot-files and dot-folders left out), card included."""
    files = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not any(part.startswith(".") for part in rel.parts):
            files[rel.as_posix()] = p.stat().st_size
    files[CARD_NAME] = len(card.encode("utf-8"))
    return [{"path": path, "bytes": size} for path, size in sorted(files.items())]


def _refuse_pickles(files: list[dict[str, Any]], allow_pickle: bool) -> None:
    pickles = [f["path"] for f in files if f["path"].lower().endswith(PICKLE_SUFFIXES)]
    if pickles and not allow_pickle:
        raise ArtifactError(f"refusing to upload pickle files ({', '.join(pickles)}): loading them can run arbitrary "
                            "code. medqa writes safetensors only; delete them, or pass --allow-pickle if you trust "
                            "them")


def _upload(info: RunInfo, repo_id: str, private: bool, paths: list[str]) -> str:
    from huggingface_hub import HfApi, get_token

    token = get_token()  # HF_TOKEN, or the token saved by `hf auth login`
    if not token:
        raise ArtifactError("no Hugging Face token: run `hf auth login` or set HF_TOKEN to a token with write "
                            "access, then push again (or use --dry-run to check the upload first)")
    api = HfApi(token=token)
    try:
        url = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
        api.upload_folder(folder_path=str(info.adapter_dir), repo_id=repo_id, repo_type="model",
                          allow_patterns=paths, commit_message=f"medqa: upload adapter from run {info.run_dir.name}")
    except Exception as err:  # network, auth and Hub errors all end the push the same way
        raise ArtifactError(f"upload to {repo_id} failed ({type(err).__name__}: {str(err)[:300]}); check the network, "
                            "that your token has write access, and the repo id") from None
    return str(url)
