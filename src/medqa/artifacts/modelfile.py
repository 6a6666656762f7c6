"""An Ollama Modelfile for an exported GGUF, carrying medqa's chat format and answer policy.

The TEMPLATE is medqa's Gemma turn format (medqa.data.formatting.GEMMA_CHAT_TEMPLATE) in Ollama's Go-template
syntax: the system prompt goes at the top of the first user turn, assistant turns are "model" turns, and the
prompt ends with an open model turn. llama.cpp adds <bos> itself (tokenizer.ggml.add_bos_token), so the template
does not. `ollama create medqa -f Modelfile` next to the GGUF builds the model.
"""

from __future__ import annotations

from typing import Any

# Mirrors GEMMA_CHAT_TEMPLATE: {% set sys %} folding, role renaming, one <end_of_turn> per turn, open model turn.
GO_TEMPLATE = (
    '{{- $sys := "" }}{{- $first := true }}\n'
    "{{- range .Messages }}\n"
    '{{- if eq .Role "system" }}{{ $sys = printf "%s\\n\\n" .Content }}\n'
    '{{- else }}<start_of_turn>{{ if eq .Role "assistant" }}model{{ else }}user{{ end }}\n'
    "{{ if $first }}{{ $sys }}{{ end }}{{ .Content }}<end_of_turn>\n"
    "{{ $first = false }}\n"
    "{{- end }}\n"
    "{{- end }}<start_of_turn>model\n"
)
STOP_TOKENS = ("<end_of_turn>", "<eos>")


def render_modelfile(gguf_name: str, system: str | None, generation: Any | None = None) -> str:
    """The Modelfile text; `generation` (a GenerationConfig) sets the sampling defaults when given."""
    for text in (system or "", GO_TEMPLATE):
        if '"""' in text:
            raise ValueError('Modelfile blocks cannot contain """')  # internal: our own constants
    lines = [f"FROM ./{gguf_name}", "", f'TEMPLATE """{GO_TEMPLATE}"""', ""]
    if system:
        lines += [f'SYSTEM """{system}"""', ""]
    lines += [f'PARAMETER stop "{token}"' for token in STOP_TOKENS]
    if generation is not None:
        lines += [f"PARAMETER temperature {generation.temperature}", f"PARAMETER top_p {generation.top_p}",
                  f"PARAMETER repeat_penalty {generation.repetition_penalty}"]
    return "\n".join(lines) + "\n"
