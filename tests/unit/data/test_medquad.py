"""The MedQuAD reader on tiny hand-made XML (the real set stays in ../shared/data)."""

import json

from medqa.config import build_config
from medqa.data.medquad import iter_medquad, parse_document
from medqa.data.prepare import run_prepare

DOC = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="{id}" source="GARD" url="https://example.org/{id}">
<Focus>{focus}</Focus>
<QAPairs>
  <QAPair pid="1"><Question qid="{id}-1" qtype="information">What is (are) {focus} ?</Question>
    <Answer>{focus} is a rare condition that affects the joints and the skin of adults and children.</Answer></QAPair>
  <QAPair pid="2"><Question qid="{id}-2" qtype="symptoms">What are the symptoms of {focus} ?</Question>
    <Answer>People with {focus} often have stiff joints, a skin rash and tiredness that lasts for weeks.</Answer></QAPair>
  <QAPair pid="3"><Question qid="{id}-3" qtype="treatment">What are the treatments for {focus} ?</Question>
    <Answer></Answer></QAPair>
</QAPairs>
</Document>
"""


def write_medquad(root, n_docs=6):
    (root / "2_GARD_QA").mkdir(parents=True)
    (root / "10_MPlus_ADAM_QA").mkdir()
    for i in range(n_docs):
        (root / "2_GARD_QA" / f"{i:07d}.xml").write_text(DOC.format(id=f"{i:07d}", focus=f"Condition {chr(65 + i)}yx"))
    (root / "10_MPlus_ADAM_QA" / "0000001.xml").write_text(DOC.format(id="adam", focus="Removed"))
    (root / "2_GARD_QA" / "broken.xml").write_text("<Document><Focus>oops</Document>")
    return root


def test_reader_skips_removed_folders_and_records_document(tmp_path):
    rows = list(iter_medquad(write_medquad(tmp_path / "medquad")))
    good = [r for r in rows if r.fields]
    assert len(good) == 18 and all("Removed" not in r.fields["focus"] for r in good)
    first = good[0].fields
    assert first["group"] == "0000000" and first["qtype"] == "information" and first["focus"] == "Condition Ayx"
    assert [r.error for r in rows if r.error] == [next(r.error for r in rows if r.error)]
    assert "malformed XML" in next(r.error for r in rows if r.error)


def test_variant_root_tags_are_read():
    xml = b"""<doc docid="7" corpus="NINDS" url="u"><doctitle-focus>Holmes-Adie</doctitle-focus><qaPairs>
      <pair pid="1"><question qid="7-1" qtype="information">what is holmes-adie syndrome ?</question>
      <answer>A disorder of the pupil.</answer></pair></qaPairs></doc>"""
    (row,) = parse_document(xml, "f.xml")
    assert row.fields["focus"] == "Holmes-Adie" and row.fields["group"] == "7" and row.fields["answer"]


def test_prepare_medquad_folder_groups_documents_into_one_split(tmp_path):
    src = write_medquad(tmp_path / "medquad", n_docs=12)
    cfg = build_config({}, [f"data.source={src}", "data.val_fraction=0.3", "data.test_fraction=0.3"])
    res = run_prepare(cfg, tmp_path / "out")
    assert res.rows_in == 37 and res.dropped["empty_answer"] == 12 and res.dropped["malformed"] == 1
    split_of = {}
    for split in ("train", "validation", "test"):
        for line in (tmp_path / "out" / f"{split}.jsonl").read_text().splitlines():
            row = json.loads(line)
            split_of.setdefault(row["group"], set()).add(split)
    assert len(split_of) == 12 and all(len(s) == 1 for s in split_of.values())
    card = (tmp_path / "out" / "DATA_CARD.md").read_text()
    assert "CC BY 4.0" in card and "Condition" in card
