"""`prepare --index`: training prompts get passages (never the row's own source), some rows only distractors, and
answers cite the passages that support them."""

from __future__ import annotations

from medqa.config import IndexConfig
from medqa.data.passages import attach_passages
from medqa.data.schema import Example
from medqa.retrieval.index import Index, build_index

FLU = ("Influenza is a viral infection of the nose, throat and lungs. Antibiotics do not treat influenza because it is "
       "caused by a virus.")
ASTHMA = "Asthma is a long-term condition of the airways. Reliever inhalers open the airways within minutes."
GOUT = "Gout is a painful arthritis caused by uric acid crystals in a joint. Cherries do not cure gout."


def test_passages_cite_support_and_leave_out_the_rows_own_source(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in (("flu", FLU), ("asthma", ASTHMA), ("gout", GOUT)):
        (docs / f"{name}.md").write_text(f"# {name}\n\n{text}\n")
    cfg = IndexConfig(train_passages=2, train_distractor_share=0.0)
    build_index([docs], tmp_path / "idx", cfg, progress=False)
    index = Index.load(tmp_path / "idx", cfg)
    rows = [Example("Do antibiotics help with flu?", "No. Antibiotics do not treat influenza, which is a virus. "
                    "Rest at home."),
            Example("What is gout?", GOUT)]  # its answer is the gout passage itself
    out, stats = attach_passages(rows, index, cfg, "Be careful.")
    flu, gout = out
    assert flu.system.startswith("Be careful.") and "[1] flu: " + FLU in flu.system
    assert "which is a virus [1]." in flu.answer and "Rest at home." in flu.answer  # unsupported: kept, uncited
    assert GOUT not in gout.system and stats["own_passages_left_out"] == 1
    assert stats["cited_sentences"] >= 1 and stats["distractors_only"] == 0

    distract = cfg.model_copy(update={"train_distractor_share": 1.0})
    out, stats = attach_passages(rows, index, distract, None)
    assert stats["distractors_only"] == 2 and FLU not in out[0].system and "[" not in out[0].answer
