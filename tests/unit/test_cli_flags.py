"""The CLI fills the typed config from flags declaratively: file < flags < --set, values stay typed."""

import pytest

from medqa.cli import _config, build_parser
from medqa.errors import ConfigError


def config(argv: list[str]):
    return _config(build_parser().parse_args(argv))


def test_flags_land_in_their_config_sections_typed(tmp_path):
    cfg = config(["eval", "--task", "safety", "--task", "freetext", "--task", "safety", "--limit", "5",
                  "--temperature", "0.5", "--mcq-format", "mmlu", "--backend", "http://127.0.0.1:9/v1",
                  "--backend-read-timeout", "7.5"])
    assert cfg.eval.tasks == ["safety", "freetext"] and cfg.eval.limit == 5 and cfg.eval.temperature == 0.5
    assert cfg.eval.mcq_formats == ["mmlu"] and cfg.backend.url == "http://127.0.0.1:9/v1"
    assert cfg.backend.read_timeout_s == 7.5 and cfg.serve.port == 8000  # untouched sections keep defaults
    serve = config(["serve", "--port", "9001", "--cors-origin", "http://a", "--log-messages", "--engine", "vllm"])
    assert (serve.serve.port, serve.serve.cors_origins, serve.serve.log_messages, serve.serve.engine) == (
        9001, ["http://a"], True, "vllm")
    assert config(["triage", "--rules-only", "x"]).safety.semantic is False
    assert config(["triage", "x"]).safety.semantic is True


def test_file_then_flags_then_set(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("eval:\n  limit: 3\n  batch_size: 4\nserve:\n  port: 7000\n")
    cfg = config(["eval", "--config", str(path), "--limit", "9"])
    assert (cfg.eval.limit, cfg.eval.batch_size) == (9, 4)
    assert config(["eval", "--config", str(path), "--limit", "9", "--set", "eval.limit=11"]).eval.limit == 11
    assert config(["serve", "--config", str(path)]).serve.port == 7000


def test_bad_flag_values_fail_like_bad_config_values():
    with pytest.raises(ConfigError, match="eval.limit"):
        config(["eval", "--limit", "0"])
    with pytest.raises(ConfigError, match="backend.url"):
        config(["ask", "q", "--backend", "127.0.0.1:8001"])
    with pytest.raises(ConfigError, match="serve.port"):
        config(["serve", "--port", "70000"])
