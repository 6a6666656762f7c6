"""Training stage: `run_training()` is the one SFT path; LoRA and QLoRA are config values (`medqa train`)."""
