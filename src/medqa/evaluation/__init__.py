"""Evaluation stage (`medqa eval`): loss, free-text QA, multiple choice and safety probes for the base and each
adapter side by side, with metrics.json, report.md and report.html; `hooks.checkpoint_probe` for training."""
