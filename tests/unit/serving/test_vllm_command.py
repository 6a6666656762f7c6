"""The `vllm serve` command that `medqa serve --engine vllm` builds (vLLM itself is not needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from medqa.serving.vllm import adapter_rank, vllm_command


def test_command_serves_base_and_named_adapters():
    cmd = vllm_command("/models/gemma", {"demo": "/runs/demo/adapter", "safe": "/runs/safe/adapter"},
                       host="0.0.0.0", port=9000, max_lora_rank=12, chat_template="/tmp/t.jinja", max_model_len=3072)
    assert cmd[:3] == ["vllm", "serve", "/models/gemma"]
    flags = " ".join(cmd)
    assert "--served-model-name base" in flags and "--host 0.0.0.0" in flags and "--port 9000" in flags
    assert "--enable-lora" in cmd and "--max-loras 2" in flags
    assert "--max-lora-rank 16" in flags  # rounded up to a rank vLLM accepts
    assert "--chat-template /tmp/t.jinja" in flags and "--max-model-len 3072" in flags
    assert cmd[cmd.index("--lora-modules") + 1:] == ["demo=/runs/demo/adapter", "safe=/runs/safe/adapter"]


def test_command_without_adapters_has_no_lora_flags():
    cmd = vllm_command("google/gemma-2-2b-it", {})
    assert "--enable-lora" not in cmd and "--lora-modules" not in cmd and "--chat-template" not in cmd


def test_adapter_rank(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 8}))
    assert adapter_rank(str(tmp_path)) == 8 and adapter_rank("user/hub-id") is None


def test_cli_without_vllm_says_how_to_run_and_front_it(tmp_path, tiny_model):
    if shutil.which("vllm"):
        pytest.skip("vLLM is installed here: the command would start it")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 16, "base_model_name_or_path": str(tiny_model)}))
    res = subprocess.run([sys.executable, "-m", "medqa.cli", "serve", "--engine", "vllm", "--base", str(tiny_model),
                          "--adapter", f"demo={adapter}", "--api-key", "s3cret", "--port", "8100"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert f"vllm serve {tiny_model}" in res.stderr and f"demo={adapter}" in res.stderr
    assert "--port 8101" in res.stderr and "--host 127.0.0.1" in res.stderr  # vLLM stays local, behind the front
    assert "--chat-template" in res.stderr  # the tiny model's tokenizer has no template
    assert "s3cret" not in res.stderr + res.stdout and "VLLM_API_KEY=" in res.stderr
    assert "medqa serve --backend http://127.0.0.1:8101/v1" in res.stderr
