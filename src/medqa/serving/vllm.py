"""Scale-out: `medqa serve --engine vllm` launches vLLM's OpenAI server with the same base and adapters on a local
port and fronts it with medqa's gateway, so triage, the answer policy, limits, auth and the web page stay in place.

`vllm_command()` is a pure function that builds the `vllm serve` argument list; `launch_backend()` starts any
OpenAI-compatible server command and waits until it lists its models (or says why it died); `run_vllm()` ties
them to `medqa.serving.launch.serve_app`. vLLM gets a random key of its own, so nothing on the machine can reach
the model around the safety layer. Exercised by tests/unit/serving/test_vllm_command.py and, with a real second
server process standing in for vLLM (which needs a GPU), tests/integration/test_gateway.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from medqa.errors import MedqaError
from medqa.inference.generator import BASE

# vLLM's --max-lora-rank accepts only these values; an adapter's rank is rounded up to the next one.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
VLLM_API_KEY_ENV = "VLLM_API_KEY"  # vLLM reads its key here, which keeps it out of `ps` and of the printed command
CHAT_TEMPLATE_FILE = "medqa-gemma-chat-template.jinja"
ENGINE_KEY_ENV = "MEDQA_ENGINE_KEY"  # the random key medqa's front uses to reach the vLLM it launched
START_TIMEOUT_S = 900.0  # downloading and loading a base on first start can take minutes


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


def launch_backend(cmd: list[str], url: str, env: dict[str, str] | None = None, key: str | None = None,
                   timeout_s: float = START_TIMEOUT_S) -> subprocess.Popen:
    """Start an OpenAI-compatible server and wait until `url`/models answers; a server that exits or does not come up
    in time is stopped and reported with its exit code and the end of its output."""
    import httpx

    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise MedqaError(f"{cmd[0]} exited with code {proc.returncode} before it was ready:\n{_tail(log)}")
        try:
            if httpx.get(url.rstrip("/") + "/models", headers=headers, timeout=5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            stop(proc)
            raise MedqaError(f"{cmd[0]} did not answer at {url} within {timeout_s:.0f} s:\n{_tail(log)}")
        time.sleep(0.5)


def stop(proc: subprocess.Popen, grace_s: float = 20.0) -> None:
    """Terminate a launched server (its whole process group), killing it if it ignores the request."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _tail(log: Any, chars: int = 3000) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-chars:]


def run_vllm(cfg: Any, adapters: dict[str, str], settings: Any) -> int:
    """Launch `vllm serve` for the configured base and adapters on `serve.engine_port` and front it with medqa."""
    from medqa.modeling.adapters import adapter_dir
    from medqa.modeling.loading import resolve_base
    from medqa.serving.launch import backend_assistant, serve_app

    base = resolve_base(cfg.model.base)
    if base.gguf_file:
        raise MedqaError("vLLM serves LoRA adapters on a transformers base, not a .gguf file: pass --base with a "
                         "Hub id or a model folder")
    folders = {name: str(adapter_dir(spec)) for name, spec in adapters.items()}
    rank = max((r for r in map(adapter_rank, folders.values()) if r), default=None)
    template = _template_file() if _needs_template(base.path) else None
    port = settings.engine_port or settings.port + 1
    cmd = vllm_command(base.path, folders, host="127.0.0.1", port=port, max_lora_rank=rank,
                       chat_template=template, max_model_len=settings.max_input_tokens + settings.max_tokens_cap)
    url = f"http://127.0.0.1:{port}/v1"
    if shutil.which("vllm") is None:
        raise MedqaError("vLLM is not installed here (on a GPU machine: pip install vllm). To run it by hand, start\n"
                         f"  {VLLM_API_KEY_ENV}=... {shlex.join(cmd)}\nand front it with\n  medqa serve --backend {url} "
                         "--backend-api-key-env VAR")
    key = secrets.token_urlsafe(24)
    os.environ[ENGINE_KEY_ENV] = key  # read back by connect(); never printed or logged
    print(f"starting vLLM on {url} (its output appears if it fails): {shlex.join(cmd)}", flush=True)
    proc = launch_backend(cmd, url, {**os.environ, VLLM_API_KEY_ENV: key}, key)
    try:
        backend = settings.backend.model_copy(update={"url": url, "model": BASE, "api_key_env": ENGINE_KEY_ENV})
        front = settings.model_copy(update={"backend": backend})
        return serve_app(backend_assistant(cfg, front, models=[BASE, *folders]), front)
    finally:
        stop(proc)
