"""GGUF export: llama.cpp tensor layout and metadata, the Gemma 3 vocabulary, refusals, and a verified F16 export.

(The Q8_0 export runs through the CLI in tests/integration/test_artifacts_cli.py; each load-back costs minutes of
transformers' GGUF parsing of the 262k-piece vocabulary, so each quantisation is exported once.)
"""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
from artifact_fixtures import merged_run

from medqa.artifacts import ArtifactError
from medqa.artifacts.export_gguf import EXPORT_REPORT, run_export
from medqa.artifacts.gguf_model import add_hparams, add_tensors, unsupported
from medqa.artifacts.gguf_vocab import ReferenceVocab, _from_json, _to_json, check_tokenizer, load_reference_vocab


@pytest.fixture(scope="module")
def run(tmp_path_factory, embedded_dir, prepared_small) -> Path:
    return merged_run(tmp_path_factory, embedded_dir, prepared_small)


@pytest.fixture(scope="module")
def merged_model(run):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(run / "merged"), dtype=torch.float32)


def _write_without_vocab(model, path: Path, quant: str) -> dict[str, int]:
    writer = gguf.GGUFWriter(path, "gemma3")
    add_hparams(writer, model.config, quant)
    counts = add_tensors(writer, model, model.config.vocab_size, quant)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return counts


def _field(reader: gguf.GGUFReader, key: str):
    return reader.fields[key].contents()


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_tensors_follow_llama_cpp_gemma3(merged_model, tmp_path, quant):
    counts = _write_without_vocab(merged_model, tmp_path / "m.gguf", quant)
    reader = gguf.GGUFReader(tmp_path / "m.gguf")
    tensors = {t.name: t for t in reader.tensors}
    cfg = merged_model.config
    assert "output.weight" not in tensors, "the output head is tied to token_embd"
    assert len(tensors) == 2 + 13 * cfg.num_hidden_layers
    assert {"blk.5.post_ffw_norm.weight", "blk.0.attn_q_norm.weight", "token_embd.weight"} <= set(tensors)
    big = "Q8_0" if quant == "q8_0" else "F16"
    assert counts == {big: 1 + 7 * cfg.num_hidden_layers, "F32": 1 + 6 * cfg.num_hidden_layers}
    assert tensors["token_embd.weight"].tensor_type.name == big
    assert tensors["blk.0.attn_norm.weight"].tensor_type.name == "F32"
    hf = merged_model.state_dict()
    norm = np.asarray(tensors["blk.0.attn_norm.weight"].data)
    assert np.allclose(norm, hf["model.layers.0.input_layernorm.weight"].numpy() + 1.0), "Gemma norms are 1 + w"
    q = gguf.quants.dequantize(tensors["blk.1.attn_q.weight"].data, tensors["blk.1.attn_q.weight"].tensor_type)
    assert np.abs(q.reshape(hf["model.layers.1.self_attn.q_proj.weight"].shape)
                  - hf["model.layers.1.self_attn.q_proj.weight"].numpy()).max() < 0.02
    assert _field(reader, "general.architecture") == "gemma3"
    assert _field(reader, "gemma3.attention.key_length") == cfg.head_dim == 256
    assert _field(reader, "gemma3.attention.sliding_window") == 16
    assert _field(reader, "gemma3.rope.freq_base") == 1_000_000.0
    assert _field(reader, "general.file_type") == (1 if quant == "f16" else 7)


def test_unsupported_models_are_refused_with_reasons(tiny_model):
    from transformers import AutoConfig, LlamaConfig

    problems = unsupported(AutoConfig.from_pretrained(str(tiny_model)))  # head_dim 16, a global layer every 2nd
    assert any("layer_types" in p for p in problems) and any("query_pre_attn_scalar" in p for p in problems)
    (llama,) = unsupported(LlamaConfig())
    assert "model type is 'llama'" in llama and "convert_hf_to_gguf.py" in llama


def test_reference_vocab_is_gemma3_and_survives_the_cache(tokenizer):
    ref = load_reference_vocab()
    assert len(ref.tokens) == 262144 and ref.tokens[106] == b"<end_of_turn>" and ref.tokens[138] == b"  "
    assert ref.fields["tokenizer.ggml.model"][0] == "llama"
    check_tokenizer(tokenizer, ref)  # the real Gemma 3 tokenizer passes
    small = {k: ref.fields[k] for k in ("tokenizer.ggml.scores", "tokenizer.ggml.add_bos_token")}
    small["tokenizer.ggml.tokens"] = (ref.tokens[:300] + [b"\xff\xfe"], *ref.fields["tokenizer.ggml.tokens"][1:])
    again = _from_json(Path("x"), json.loads(json.dumps(_to_json(small))))
    assert again.fields == small, "the JSON cache must round-trip types and raw bytes exactly"


def test_other_tokenizers_are_refused(tokenizer):
    ref = load_reference_vocab()
    shifted = ReferenceVocab(ref.source, {**ref.fields, "tokenizer.ggml.tokens": (
        ref.tokens[:500] + [b"changed"] + ref.tokens[501:], *ref.fields["tokenizer.ggml.tokens"][1:])})
    with pytest.raises(ArtifactError, match="token 500 is .*Gemma 3 has b'changed'"):
        check_tokenizer(tokenizer, shifted)
    shorter = ReferenceVocab(ref.source, {**ref.fields, "tokenizer.ggml.tokens": (
        ref.tokens[:-1], *ref.fields["tokenizer.ggml.tokens"][1:])})
    with pytest.raises(ArtifactError, match="262144 tokens, Gemma 3 has 262143"):
        check_tokenizer(tokenizer, shorter)


def test_f16_export_loads_back_and_predicts_like_the_merged_model(run):
    report = run_export(run, "gguf", "f16", progress=False)
    folder = run / "export-f16"
    assert json.loads((folder / EXPORT_REPORT).read_text()) == report
    assert report["passed"] and report["tokenizer_ids_match"] and report["chat_template_match"]
    assert report["last_token_agreement"] == 1.0 and report["all_positions_agreement"] >= 0.98
    assert report["max_abs_logit_diff"] < 0.01 and report["positions"] > 100
    assert report["bytes"] == (folder / "model.gguf").stat().st_size
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model.gguf\n") and 'PARAMETER stop "<end_of_turn>"' in modelfile
    assert not list(folder.glob(".model.gguf.*")), "no temporary file may be left behind"


def test_export_request_errors(run, tmp_path):
    with pytest.raises(ArtifactError) as err:
        run_export(run, "onnx", "q4_k")
    assert "unknown --format 'onnx'" in str(err.value) and "unknown --quant 'q4_k'" in str(err.value)
    with pytest.raises(ArtifactError, match="must be a .gguf file"):
        run_export(run, output=tmp_path / "model.bin")
    with pytest.raises(ArtifactError, match="does not exist"):
        run_export(tmp_path / "nowhere")


def test_export_to_a_chosen_file_without_verification(run, tmp_path):
    target = tmp_path / "out" / "medqa-tiny.gguf"
    report = run_export(run, quant="q8_0", output=target, verify=False, progress=False)
    assert target.is_file() and report["bytes"] == target.stat().st_size and "passed" not in report
    assert (tmp_path / "out" / "Modelfile").read_text().startswith("FROM ./medqa-tiny.gguf\n")
    assert json.loads((tmp_path / "out" / EXPORT_REPORT).read_text())["quant"] == "q8_0"
