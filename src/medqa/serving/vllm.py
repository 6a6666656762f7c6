"""Scale-out: serve the same base and adapters through vLLM's OpenAI server (`medqa serve --engine vllm`).

`vllm_command()` is a pure function that builds the `vllm serve` argument list; `run_vllm()` resolves the base and
adapter folders, then replaces this process with vLLM when it is installed, or prints the command to run on a GPU
machine. Exercised by tests/unit/serving/test_vllm.py.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import tempfile
from pathlib import Path
from typing import Any

from medqa.errors import MedqaError
from medqa.inference.generator import BASE

# vLLM's --max-lora-rank accepts only these values; an adapter's rank is rounded up to the next one.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
VLLM_API_KEY_ENV = "VLLM_API_KEY"  # vLLM reads its key here, which keeps it out of `ps` and of the printed command
CHAT_TEMPLATE_FILE = "medqa-gemma-chat-template.jinja"
SAFETY_WARNING = ("note: vLLM serves the model's own output. medqa's red-flag triage, urgent-care message and answer "
                  "policy are not applied, and clients must send the system prompt themselves; use `medqa serve` "
                  "(the default engine) wherever people read the answers directly.")


def vllm_command(base: str, adapters: dict[str, str], *, host: str = "127.0.0.1", port: int = 8000,
                 max_lora_rank: int | None = None, chat_template: str | None = None,
                 max_model_len: int | None = None) -> list[str]:
    """The `vllm serve` command serving `base` under the model name "base" and each adapter under its own name.

    Equivalent of `medqa serve --adapter NAME=RUN ...`: clients pick the base or an adapter with the same `model`
    values as with medqa's own server, e.g.

        vllm serve /models/gemma-3-270m --served-model-name base --host 127.0.0.1 --port 8000 \\
            --enable-lora --max-loras 1 --max-lora-rank 16 --lora-modules demo=/runs/demo/adapter

    `max_lora_rank` is rounded up to a value vLLM accepts; `chat_template` is a Jinja file for bases whose
    tokenizer has none (vLLM's chat endpoint needs one); `max_model_len` bounds prompt + answer tokens.
    The API key is not part of the command: pass it in the VLLM_API_KEY environment variable.
    """
    cmd = ["vllm", "serve", base, "--served-model-name", BASE, "--host", host, "--port", str(port)]
    if chat_template:
        cmd += ["--chat-template", chat_template]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    if adapters:
        cmd += ["--enable-lora", "--max-loras", str(len(adapters))]
        if max_lora_rank:
            cmd += ["--max-lora-rank", str(next((r for r in VLLM_LORA_RANKS if r >= max_lora_rank), max_lora_rank))]
        cmd += ["--lora-modules", *(f"{name}={path}" for name, path in adapters.items())]
    return cmd


def adapter_rank(folder: str) -> int | None:
    """The LoRA rank recorded in an adapter folder, or None for a Hub id or an unreadable config."""
    cfg = Path(folder) / "adapter_config.json"
    try:
        return int(json.loads(cfg.read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _needs_template(base_path: str) -> bool:
    folder = Path(base_path)
    if not folder.is_dir():
        return False  # a Hub id: vLLM uses the template the repository ships
    if (folder / "chat_template.jinja").is_file():
        return False
    try:
        return not json.loads((folder / "tokenizer_config.json").read_text()).get("chat_template")
    except (OSError, ValueError):
        return True


def _template_file() -> str:
    from medqa.data.formatting import GEMMA_CHAT_TEMPLATE

    path = Path(tempfile.gettempdir()) / CHAT_TEMPLATE_FILE
    path.write_text(GEMMA_CHAT_TEMPLATE, encoding="utf-8")
    return str(path)


def run_vllm(cfg: Any, adapters: dict[str, str], settings: Any) -> int:
    """Exec `vllm serve` for the configured base and adapters, or print the command where vLLM is not installed."""
    from medqa.modeling.adapters import adapter_dir
    from medqa.modeling.loading import resolve_base

    base = resolve_base(cfg.model.base)
    if base.gguf_file:
        raise MedqaError("vLLM serves LoRA adapters on a transformers base, not a .gguf file: pass --base with a "
                         "Hub id or a model folder")
    folders = {name: str(adapter_dir(spec)) for name, spec in adapters.items()}
    rank = max((r for r in map(adapter_rank, folders.values()) if r), default=None)
    template = _template_file() if _needs_template(base.path) else None
    cmd = vllm_command(base.path, folders, host=settings.host, port=settings.port, max_lora_rank=rank,
                       chat_template=template, max_model_len=settings.max_input_tokens + settings.max_tokens_cap)
    print(SAFETY_WARNING)
    env = dict(os.environ)
    if settings.api_key is not None:
        env[VLLM_API_KEY_ENV] = settings.api_key.get_secret_value()
    if shutil.which("vllm") is None:
        key = f"{VLLM_API_KEY_ENV}=... " if settings.api_key is not None else ""
        print(f"vLLM is not installed here; on a GPU machine with vLLM, run:\n  {key}{shlex.join(cmd)}")
        return 0
    print(f"exec: {shlex.join(cmd)}", flush=True)
    os.execvpe(cmd[0], cmd, env)
    return 0  # not reached
