"""The Ollama Modelfile: the GGUF it points at, the Gemma turn format in Go-template syntax, stops and policy."""

from __future__ import annotations

from medqa.artifacts.modelfile import GO_TEMPLATE, render_modelfile
from medqa.config import GenerationConfig
from medqa.safety import DEFAULT_SYSTEM_PROMPT


def test_modelfile_carries_template_stops_system_and_sampling():
    text = render_modelfile("model.gguf", DEFAULT_SYSTEM_PROMPT, GenerationConfig(temperature=0.3, top_p=0.8))
    lines = text.splitlines()
    assert lines[0] == "FROM ./model.gguf"
    assert f'SYSTEM """{DEFAULT_SYSTEM_PROMPT}"""' in text
    assert 'PARAMETER stop "<end_of_turn>"' in lines
    assert {"PARAMETER temperature 0.3", "PARAMETER top_p 0.8", "PARAMETER repeat_penalty 1.1"} <= set(lines)
    assert f'TEMPLATE """{GO_TEMPLATE}"""' in text


def test_go_template_mirrors_the_gemma_chat_template():
    # Same pieces as medqa.data.formatting.GEMMA_CHAT_TEMPLATE: system folded into the first user turn with a
    # blank line, assistant turns named "model", every turn closed, an open model turn at the end, no <bos>
    # (llama.cpp adds it).
    assert '{{ $sys = printf "%s\\n\\n" .Content }}' in GO_TEMPLATE
    assert "{{ if $first }}{{ $sys }}{{ end }}{{ .Content }}<end_of_turn>\n" in GO_TEMPLATE
    assert '<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}user{{ end }}\n' in GO_TEMPLATE
    assert GO_TEMPLATE.endswith("{{- end }}<start_of_turn>model\n")
    assert "<bos>" not in GO_TEMPLATE and GO_TEMPLATE.count("{{") == GO_TEMPLATE.count("}}")


def test_no_system_prompt_means_no_system_block():
    text = render_modelfile("medqa-q8_0.gguf", None)
    assert text.startswith("FROM ./medqa-q8_0.gguf\n") and "SYSTEM" not in text and "temperature" not in text
