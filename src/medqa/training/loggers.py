"""Where training metrics go: JSONL and TensorBoard event files always; Weights & Biases or MLflow when
installed and asked for with `--report-to`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medqa.errors import ConfigError
from medqa.training.history import History

KNOWN = ("tensorboard", "wandb", "mlflow")


class MetricLoggers:
    """Fans each step's record out to the history file and the selected trackers."""

    def __init__(self, run_dir: Path, report_to: list[str], config: dict[str, Any], enabled: bool = True) -> None:
        self.history = History(run_dir / "metrics.jsonl")
        self.enabled = enabled
        self.sinks: list[Any] = []
        if enabled:
            self.sinks = [_open(name, run_dir, config) for name in report_to]

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self.history.append(record)
        numbers = {k: v for k, v in record.items() if isinstance(v, (int, float)) and k != "step"}
        for kind, sink in self.sinks:
            if kind == "tensorboard":
                for k, v in numbers.items():
                    sink.add_scalar(f"train/{k}", v, record["step"])
                sink.flush()
            elif kind == "wandb":
                sink.log(numbers, step=record["step"])
            else:
                sink.log_metrics(numbers, step=record["step"])

    def close(self) -> None:
        for kind, sink in self.sinks:
            if kind == "tensorboard":
                sink.close()
            elif kind == "wandb":
                sink.finish()
            else:
                sink.end_run()
        self.sinks = []


def _open(name: str, run_dir: Path, config: dict[str, Any]) -> tuple[str, Any]:
    if name not in KNOWN:
        raise ConfigError(f"unknown --report-to {name!r}; choose from {', '.join(KNOWN)}")
    try:
        if name == "tensorboard":
            from torch.utils.tensorboard import SummaryWriter

            return name, SummaryWriter(log_dir=str(run_dir / "tensorboard"))
        if name == "wandb":
            import wandb

            return name, wandb.init(dir=str(run_dir), config=config, name=run_dir.name)
        import mlflow

        mlflow.start_run(run_name=run_dir.name)
        mlflow.log_params({k: str(v) for k, v in config.get("train", {}).items()})
        return name, mlflow
    except ImportError:
        raise ConfigError(f"--report-to {name} needs the {name} package: pip install {name}") from None
