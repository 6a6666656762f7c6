"""Wire models, settings, error mapping, adapter names and the chat page, without a model."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from medqa.errors import ConfigError
from medqa.inference.assistant import AssistantClosed, InputTooLong, QueueFull, UnknownModel
from medqa.safety import DISCLAIMER
from medqa.serving.app import chat_page
from medqa.serving.errors import refusal_error
from medqa.serving.launch import parse_adapters
from medqa.serving.protocol import ChatCompletionChunk, ChatCompletionRequest, ChunkChoice, Delta
from medqa.serving.settings import API_KEY_ENV, ServeSettings


def test_request_flattens_content_and_maps_developer_role():
    req = ChatCompletionRequest.model_validate({
        "model": "base", "stop": "END", "max_completion_tokens": 5,
        "messages": [{"role": "developer", "content": "be brief"},
                     {"role": "user", "content": [{"type": "text", "text": "sore "},
                                                  {"type": "text", "text": "throat"}]}]})
    assert req.conversation() == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "sore throat"}]
    assert req.stop == ["END"] and req.token_limit() == 5


@pytest.mark.parametrize("bad", [
    {"model": "base", "messages": []},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "n": 9},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "presence_penalty": -2.5},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 2},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]},
    {"model": "base", "messages": [{"role": "tool", "content": "x"}]},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "top_p": 0},
    {"model": "base", "messages": [{"role": "user", "content": "x"}], "logit_bias": {}},
])
def test_request_refuses_what_it_cannot_honour(bad):
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate(bad)


def test_chunk_delta_carries_only_present_keys():
    chunk = ChatCompletionChunk(id="c", created=1, model="base", choices=[ChunkChoice(delta=Delta(content="hi"))])
    assert chunk.model_dump()["choices"][0]["delta"] == {"content": "hi"}


def test_settings_key_from_env_is_secret(monkeypatch):
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    settings = ServeSettings.build(port=None, api_key=None)
    assert settings.api_key.get_secret_value() == "from-env" and "from-env" not in repr(settings)
    assert ServeSettings.build(api_key="flag").api_key.get_secret_value() == "flag"
    monkeypatch.setenv(API_KEY_ENV, "")
    assert ServeSettings.build().api_key is None and ServeSettings.build().cors_origins == []
    with pytest.raises(ConfigError, match="queue_size"):
        ServeSettings.build(queue_size=0)


def test_refusals_map_to_statuses():
    assert [refusal_error(e).status for e in (UnknownModel("m"), InputTooLong("t"), QueueFull("q"),
                                              AssistantClosed("c"))] == [404, 400, 429, 503]
    assert refusal_error(UnknownModel("m")).code == "model_not_found"


def test_adapter_names():
    assert parse_adapters(["runs/demo", "safe=runs/other/", "user/hub-adapter"]) == {
        "demo": "runs/demo", "safe": "runs/other/", "hub-adapter": "user/hub-adapter"}
    for bad in (["base=runs/x"], ["runs/a", "other/a"], ["bad name=runs/x"]):
        with pytest.raises(ConfigError):
            parse_adapters(bad)


def test_chat_page_is_self_contained_with_disclaimer():
    page = chat_page()
    assert DISCLAIMER in page and "{{DISCLAIMER}}" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    for element in ('id="banner"', 'id="model"', 'id="disclaimer"', "/v1/chat/completions", "/v1/models"):
        assert element in page
    assert "innerHTML" not in page  # model text is shown as text only


def test_cors_is_off_unless_origins_are_configured(tiny_model):
    from fastapi.testclient import TestClient

    from medqa.config import GenerationConfig, ModelConfig
    from medqa.inference.assistant import Assistant
    from medqa.inference.generator import Generator
    from medqa.modeling.loading import load_base
    from medqa.serving.app import create_app

    model, tok, _ = load_base(ModelConfig(base=str(tiny_model)))
    origin = {"Origin": "https://clinic.example", "Access-Control-Request-Method": "POST"}
    for origins, allowed in (([], None), (["https://clinic.example"], "https://clinic.example")):
        assistant = Assistant(Generator(model, tok), None, GenerationConfig())
        app = create_app(assistant, ServeSettings(cors_origins=origins))
        with TestClient(app) as client:
            assert client.get("/health").status_code == 200
            preflight = client.options("/v1/chat/completions", headers=origin)
            assert preflight.headers.get("access-control-allow-origin") == allowed
            assert client.get("/v1/models", headers=origin).headers.get("access-control-allow-origin") == allowed
        assert not app.state.assistant.running  # the lifespan stopped the worker
