"""Chat formatting and tokenisation with answer-only labels.

The tokenizer's own chat template is used when it has one; otherwise Gemma's turn format. Gemma has no system
role, so a system prompt goes into the first user turn. Each sequence gets exactly one `<bos>`, labels are
-100 on the prompt, and the answer's closing end-of-turn token is trained so the model learns to stop.
"""

from __future__ import annotations

import re

from dataclasses import dataclass
from typing import Any

from medqa.data.schema import Example

IGNORE_INDEX = -100
START_OF_TURN, END_OF_TURN = "<start_of_turn>", "<end_of_turn>"
# The same format as Jinja, saved with adapters and exports so other tools format prompts identically.
GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{% set sys = messages[0]['content'] + '\n\n' %}"
    "{% set messages = messages[1:] %}{% else %}{% set sys = '' %}{% endif %}"
    "{% for m in messages %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
    "<start_of_turn>{{ role }}\n{% if loop.first %}{{ sys }}{% endif %}{{ m['content'] | trim }}<end_of_turn>\n"
    "{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
_STOP_TOKENS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>")


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    labels: list[int]
    answer_tokens: int  # answer tokens before truncation
    truncated_answer_tokens: int


def to_messages(ex: Example, system: str | None) -> list[dict[str, str]]:
    """The conversation up to and excluding the answer; `ex.system` wins over the default system prompt."""
    sys_text = ex.system if ex.system is not None else system
    msgs = [{"role": "system", "content": sys_text}] if sys_text else []
    msgs += [{"role": r, "content": t} for r, t in ex.history]
    msgs.append({"role": "user", "content": ex.question})
    return msgs


def _gemma_prompt(messages: list[dict[str, str]], bos: str) -> str:
    sys_text = ""
    if messages and messages[0]["role"] == "system":
        sys_text, messages = messages[0]["content"] + "\n\n", messages[1:]
    parts = [bos]
    for i, m in enumerate(messages):
        role = "model" if m["role"] == "assistant" else "user"
        body = (sys_text if i == 0 else "") + m["content"].strip()
        parts.append(f"{START_OF_TURN}{role}\n{body}{END_OF_TURN}\n")
    parts.append(f"{START_OF_TURN}model\n")
    return "".join(parts)


def _template_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception:
        if messages[0]["role"] != "system":
            raise
        # Templates without a system role (Gemma's raises): fold it into the first user turn.
        folded = [{"role": "user", "content": messages[0]["content"] + "\n\n" + messages[1]["content"]}]
        return tokenizer.apply_chat_template(folded + messages[2:], tokenize=False, add_generation_prompt=True)


_MARKUP = re.compile(r"<[^<>\s]{1,64}>")


def strip_control_tokens(tokenizer: Any, text: str) -> str:
    """`text` without the tokenizer's special-token strings (`<end_of_turn>`, `<start_of_turn>`, `<bos>`, ...).

    Typed into a message they would tokenise as real turn markers and let a user forge turns or a system prompt.
    """
    specials = getattr(tokenizer, "_medqa_specials", None)
    if specials is None:
        decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
        specials = {t.content for t in decoder.values() if getattr(t, "special", False)}
        specials |= set(getattr(tokenizer, "all_special_tokens", []) or [])
        try:
            tokenizer._medqa_specials = specials
        except AttributeError:
            pass
    if "<" not in text or not specials:
        return text
    return _MARKUP.sub(lambda m: "" if m.group(0) in specials else m.group(0), text)


def render_prompt(tokenizer: Any, messages: list[dict[str, str]]) -> str:
    """Prompt text ending where the assistant's answer begins (message texts cannot carry control tokens)."""
    messages = [{**m, "content": strip_control_tokens(tokenizer, m["content"])} for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return _template_prompt(tokenizer, messages)
    return _gemma_prompt(messages, tokenizer.bos_token or "")


def answer_suffix(tokenizer: Any) -> str:
    """The text that closes an answer turn under the tokenizer's format."""
    if getattr(tokenizer, "chat_template", None):
        probe = [{"role": "user", "content": "x"}]
        prompt = _template_prompt(tokenizer, probe)
        full = tokenizer.apply_chat_template(probe + [{"role": "assistant", "content": "ANSWER"}], tokenize=False)
        tail = full[len(prompt):] if full.startswith(prompt) else full[full.rfind("ANSWER"):]
        return tail.split("ANSWER", 1)[1].rstrip("\n") if "ANSWER" in tail else (tokenizer.eos_token or "")
    return END_OF_TURN


def stop_token_ids(tokenizer: Any) -> list[int]:
    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in _STOP_TOKENS if t in vocab)
    return sorted(ids)


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of a prompt with exactly one leading BOS (templates add it as text; tokenizers may add it too)."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    bos = tokenizer.bos_token_id
    if bos is not None and _adds_bos(tokenizer):
        while len(ids) > 1 and ids[0] == bos and ids[1] == bos:
            ids = ids[1:]
        if not ids or ids[0] != bos:
            ids = [bos] + ids
    return ids


def _adds_bos(tokenizer: Any) -> bool:
    cached = getattr(tokenizer, "_medqa_adds_bos", None)
    if cached is None:
        ids = tokenizer("x")["input_ids"]
        cached = bool(ids) and ids[0] == tokenizer.bos_token_id
        try:
            tokenizer._medqa_adds_bos = cached
        except AttributeError:
            pass
    return cached


def encode_example(tokenizer: Any, ex: Example, system: str | None, max_len: int, suffix: str | None = None) -> Encoded:
    """Tokenise prompt + answer; labels cover the answer and its end-of-turn token only."""
    prompt_ids = encode_prompt(tokenizer, render_prompt(tokenizer, to_messages(ex, system)))
    suffix = answer_suffix(tokenizer) if suffix is None else suffix
    answer = strip_control_tokens(tokenizer, ex.answer.strip())
    answer_ids = tokenizer(answer + suffix, add_special_tokens=False)["input_ids"]
    ids = (prompt_ids + answer_ids)[:max_len]
    kept_answer = max(0, len(ids) - len(prompt_ids))
    labels = [IGNORE_INDEX] * min(len(prompt_ids), len(ids)) + ids[len(prompt_ids):]
    return Encoded(ids, labels, len(answer_ids), len(answer_ids) - kept_answer)


def system_prompt(prompt_setting: str | None) -> str | None:
    """The configured system prompt: None means medqa's answer policy, an empty string means none."""
    if prompt_setting is None:
        from medqa.safety import DEFAULT_SYSTEM_PROMPT

        return DEFAULT_SYSTEM_PROMPT
    return prompt_setting or None


def encode_examples(tokenizer: Any, examples: list[Example], system: str | None, max_len: int) -> list[Encoded]:
    suffix = answer_suffix(tokenizer)
    return [encode_example(tokenizer, ex, system, max_len, suffix) for ex in examples]
