"""`run_push`: dry-run listing without network, pickle refusal, token handling, and the Hub calls it makes."""

from __future__ import annotations

import shutil

import huggingface_hub
import pytest
from artifact_fixtures import tiny_run

from medqa.artifacts import ArtifactError
from medqa.artifacts.model_card import GENERATED_MARK
from medqa.artifacts.push import run_push


@pytest.fixture()
def run(tmp_path, tmp_path_factory, embedded_dir, prepared_small):
    dst = tmp_path / "run"
    shutil.copytree(tiny_run(tmp_path_factory, embedded_dir, prepared_small), dst)
    return dst


def test_dry_run_lists_files_sizes_and_card_metadata_without_writing(run, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", None)  # any network use would fail loudly
    (run / "adapter" / ".lock").write_text("x")
    card = (run / "adapter" / "README.md").read_text()
    assert GENERATED_MARK in card  # training wrote medqa's card, not peft's empty template
    report = run_push(run, "me/medqa-lora", private=True, dry_run=True)
    files = {f["path"]: f["bytes"] for f in report["files"]}
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json", "README.md"} <= set(files)
    assert ".lock" not in files and files["adapter_model.safetensors"] > 1000
    assert report["total_bytes"] == sum(files.values()) and report["private"] and report["dry_run"]
    assert report["card_metadata"]["library_name"] == "peft" and "medical" in report["card_metadata"]["tags"]
    assert (run / "adapter" / "README.md").read_text() == card, "a dry run changes nothing"


def test_pickle_files_are_refused_unless_allowed(run):
    (run / "adapter" / "training_args.bin").write_bytes(b"\x80\x04.")
    with pytest.raises(ArtifactError, match=r"refusing to upload pickle files \(training_args.bin\)"):
        run_push(run, "me/medqa-lora", dry_run=True)
    report = run_push(run, "me/medqa-lora", dry_run=True, allow_pickle=True)
    assert "training_args.bin" in {f["path"] for f in report["files"]}


def test_bad_repo_id_and_missing_token_are_clear(run, monkeypatch):
    with pytest.raises(ArtifactError, match="user-or-org/name"):
        run_push(run, "no-namespace", dry_run=True)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: None)
    with pytest.raises(ArtifactError, match="hf auth login"):
        run_push(run, "me/medqa-lora")


class FakeApi:
    calls: list = []

    def __init__(self, token=None):
        FakeApi.calls.append(("init", token))

    def create_repo(self, repo_id, **kw):
        FakeApi.calls.append(("create_repo", repo_id, kw))
        return f"https://huggingface.co/{repo_id}"

    def upload_folder(self, **kw):
        FakeApi.calls.append(("upload_folder", kw))


def test_push_creates_repo_and_uploads_adapter_with_card(run, monkeypatch, capsys):
    FakeApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "hf_secret_token_value")
    report = run_push(run, "me/medqa-lora", private=True)
    assert report["url"] == "https://huggingface.co/me/medqa-lora"
    (_, token), (_, repo, kw), (_, up) = FakeApi.calls
    assert token == "hf_secret_token_value" and repo == "me/medqa-lora" and kw["private"] and kw["exist_ok"]
    assert up["folder_path"] == str(run / "adapter") and "README.md" in up["allow_patterns"]
    card = (run / "adapter" / "README.md").read_text()
    assert GENERATED_MARK in card and '"me/medqa-lora"' in card
    assert "hf_secret" not in capsys.readouterr().out + str(report)


def test_a_card_the_user_edited_is_kept(run, monkeypatch):
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "get_token", lambda: "t")
    (run / "adapter" / "README.md").write_text("---\nlicense: mit\n---\n# my own card\n")
    report = run_push(run, "me/medqa-lora")
    assert report["card_metadata"] == {"license": "mit"}
    assert (run / "adapter" / "README.md").read_text().endswith("# my own card\n")
