"""Artifacts users ship from a run folder: a merged checkpoint, a GGUF file with an Ollama Modelfile, a model card,
and an upload of the adapter to the Hugging Face Hub.

    medqa merge runs/demo            # runs/demo/merged: safetensors + tokenizer, verified against base + adapter
    medqa export runs/demo --format gguf --quant q8_0
    medqa push runs/demo user/medqa-gemma3-lora --dry-run

Each command is one stage function (`run_merge`, `run_export`, `run_push`; `write_model_card` for the card) that
verifies what it wrote and records the numbers in a JSON report beside it.
"""

from medqa.errors import MedqaError


class ArtifactError(MedqaError):
    """A run folder that cannot be merged, exported or pushed, or an artifact that failed its verification."""
