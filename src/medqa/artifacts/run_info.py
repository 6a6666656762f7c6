"""What a finished `medqa train` run folder holds, read once and checked, for the artifact stages.

A run folder has adapter/ (PEFT weights, tokenizer with its chat template), run.json (base, fingerprint,
quantisation, losses) and config.yaml (the resolved config). Exercised by every `medqa merge|export|push`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medqa.artifacts import ArtifactError
from medqa.config import MedqaConfig
from medqa.modeling.adapters import ADAPTER_SUBDIR, RUN_META

MERGED_SUBDIR = "merged"
MERGE_REPORT = "merge_report.json"


@dataclass(frozen=True)
class RunInfo:
    run_dir: Path
    meta: dict[str, Any]  # run.json
    config: MedqaConfig  # config.yaml

    @property
    def adapter_dir(self) -> Path:
        return self.run_dir / ADAPTER_SUBDIR

    @property
    def base_name(self) -> str:
        return str(self.meta.get("base_name") or self.meta.get("base") or self.config.model.base)


def read_run(run_dir: str | Path) -> RunInfo:
    """Load run.json and config.yaml of a finished run, or say which file is missing and how to get one."""
    from medqa.config import load_config

    path = Path(run_dir).expanduser()
    if not path.is_dir():
        raise ArtifactError(f"run folder {path} does not exist: pass the --output folder of a finished `medqa train`")
    missing = [name for name in (RUN_META, "config.yaml", f"{ADAPTER_SUBDIR}/adapter_config.json")
               if not (path / name).is_file()]
    if missing:
        raise ArtifactError(f"{path} is not a finished medqa run (missing {', '.join(missing)}); finish the run "
                            f"with `medqa train --resume --output {path}` or pass another folder")
    try:
        meta = json.loads((path / RUN_META).read_text(encoding="utf-8"))
    except ValueError as err:
        raise ArtifactError(f"{path / RUN_META} is not valid JSON ({err}); retrain or restore the file") from None
    return RunInfo(path, meta, load_config(path / "config.yaml"))


def run_system_prompt(info: RunInfo) -> str | None:
    """The system prompt the run trained with (medqa's answer policy unless the config set another)."""
    from medqa.data.formatting import system_prompt

    return system_prompt(info.config.prompt.system_prompt)


def merged_ready(folder: Path) -> bool:
    """A folder written by a successful `medqa merge` (its report is written last, after the weights)."""
    report = folder / MERGE_REPORT
    if not report.is_file() or not (folder / "config.json").is_file():
        return False
    try:
        return bool(json.loads(report.read_text(encoding="utf-8")).get("passed"))
    except ValueError:
        return False
