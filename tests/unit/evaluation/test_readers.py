"""Each MCQ reader on a tiny hand-made file in its format, format detection and the stratified --limit."""

import json
from collections import Counter

import pytest

from medqa.errors import DataError
from medqa.evaluation.readers import MCQItem, detect_format, item_stratum, read_mcq, stratified_sample


def _pubmedqa(folder, with_truth):
    data = {
        "111": {"QUESTION": "Does aspirin reduce fever?", "CONTEXTS": ["Trial one.", "Trial two."],
                "final_decision": "yes"},
        "222": {"QUESTION": "Is coffee a cure for flu?", "CONTEXTS": ["Small study."], "final_decision": "no"},
        "333": {"QUESTION": "Do naps help memory?", "CONTEXTS": [], "final_decision": "maybe"},
    }
    path = folder / "ori_pqal.json"
    path.write_text(json.dumps(data, indent=4))
    if with_truth:
        (folder / "test_ground_truth.json").write_text(json.dumps({"222": "no", "333": "maybe"}))
    return path


def test_pubmedqa_reads_all_or_the_official_test_ids(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    items = read_mcq(_pubmedqa(tmp_path / "a", with_truth=False))
    assert [i.id for i in items] == ["111", "222", "333"]
    assert items[0].options == ("yes", "no", "maybe") and items[0].gold == 0
    assert items[0].context == "Trial one. Trial two." and items[2].context is None
    test_only = read_mcq(_pubmedqa(tmp_path / "b", with_truth=True), "pubmedqa")
    assert [(i.id, i.gold_letter) for i in test_only] == [("222", "B"), ("333", "C")]


def test_medmcqa_cop_is_one_based(tmp_path):
    rows = [{"id": "q1", "question": "Which vitamin prevents scurvy?", "opa": "A", "opb": "C", "opc": "D",
             "opd": "K", "cop": 2, "subject_name": "Biochemistry"},
            {"id": "q2", "question": "Broken row", "opa": "x", "cop": 1},
            {"id": "q3", "question": "Drug of choice?", "opa": "w", "opb": "x", "opc": "y", "opd": "z", "cop": 4,
             "subject_name": "Pharmacology"}]
    path = tmp_path / "dev.json"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "not json\n")
    assert detect_format(path) == "medmcqa"
    items = read_mcq(path)
    assert [(i.id, i.gold, i.gold_letter, i.subject) for i in items] == [
        ("q1", 1, "B", "Biochemistry"), ("q3", 3, "D", "Pharmacology")]
    assert items[0].options == ("A", "C", "D", "K")


def test_mmlu_file_and_folder_with_subject_per_file(tmp_path):
    (tmp_path / "anatomy_test.csv").write_text('"Which bone, in the arm, is longest?",Humerus,Ulna,Radius,Carpal,A\n'
                                               "Heart chambers?,2,3,4,5,C\r\n")
    (tmp_path / "virology_test.csv").write_text("Flu is a?,Virus,Bacterium,Fungus,Prion,A\nbad,row\n")
    one = read_mcq(tmp_path / "anatomy_test.csv")
    assert [i.question for i in one] == ["Which bone, in the arm, is longest?", "Heart chambers?"]
    assert one[1].gold_letter == "C" and one[1].subject == "anatomy"
    folder = read_mcq(tmp_path)
    assert detect_format(tmp_path) == "mmlu"
    assert Counter(i.subject for i in folder) == {"anatomy": 2, "virology": 1}


def test_medqa_letter_options(tmp_path):
    row = {"question": "A 23-year-old has a sore throat. Next step?", "options": {"A": "Rest", "B": "Surgery",
           "C": "Antibiotics", "D": "Imaging"}, "answer_idx": "C", "meta_info": "step1"}
    path = tmp_path / "medqa.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps({**row, "answer_idx": "Z"}) + "\n")
    assert detect_format(path) == "medqa"
    (item,) = read_mcq(path)
    assert item.options == ("Rest", "Surgery", "Antibiotics", "Imaging") and item.gold == 2 and item.subject == "step1"


def test_unknown_or_empty_files_fail_clearly(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"foo": 1}) + "\n")
    with pytest.raises(DataError, match="mcq-format"):
        read_mcq(path)
    with pytest.raises(DataError, match="does not exist"):
        read_mcq(tmp_path / "missing.json")
    with pytest.raises(DataError, match="no usable"):
        read_mcq(path, "medmcqa")


def _items(n_per):
    items = []
    for subject, letters in n_per.items():
        for k, letter in enumerate(letters):
            items.append(MCQItem(f"{subject}{k}", "q", ("a", "b", "c", "d"), "ABCD".index(letter), subject))
    return items


def test_stratified_limit_is_seeded_and_keeps_shares():
    items = _items({"anatomy": "A" * 30 + "B" * 10, "genetics": "C" * 20 + "D" * 40})  # 100 items
    sample = stratified_sample(items, 20, item_stratum, seed=1)
    assert len(sample) == 20
    assert Counter(item_stratum(i) for i in sample) == {("anatomy", "A"): 6, ("anatomy", "B"): 2,
                                                        ("genetics", "C"): 4, ("genetics", "D"): 8}
    assert sample == stratified_sample(items, 20, item_stratum, seed=1)
    assert sample != stratified_sample(items, 20, item_stratum, seed=2)
    assert [items.index(i) for i in sample] == sorted(items.index(i) for i in sample)  # input order kept
    assert stratified_sample(items, None, item_stratum) == items
    assert len(stratified_sample(items, 7, item_stratum, seed=0)) == 7  # remainders are handed out
