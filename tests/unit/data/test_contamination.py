import json

from conftest import write_jsonl

from medqa.config import build_config
from medqa.data.contamination import build_eval_index, eval_texts, find_overlaps
from medqa.data.fingerprints import hash_words, words
from medqa.data.prepare import run_prepare

EXAM = ("A 45 year old man presents with crushing central chest pain radiating to the left arm for two hours "
        "with sweating and nausea what is the most likely diagnosis")


def _rows(n):
    return [{"question": f"Question {i}: my knee hurts when I climb the stairs number {i}, why is that?",
             "answer": f"Answer {i}: knee pain on stairs often comes from the kneecap joint; strengthen the thigh "
                       f"muscles and see a physiotherapist if it persists after {i} weeks."} for i in range(n)]


def test_eval_texts_reads_any_layout(tmp_path):
    (tmp_path / "mmlu.csv").write_text(f'"{EXAM}",Angina,Infarction,Reflux,Pericarditis,B\n')
    (tmp_path / "pubmed.json").write_text(json.dumps({"1": {"QUESTION": "Q one?", "CONTEXTS": ["ctx a", "ctx b"]},
                                                      "2": {"QUESTION": "Q two?", "CONTEXTS": []}}))
    write_jsonl(tmp_path / "mcq.jsonl", [{"question": "What is X?", "opa": "a", "cop": 1}])
    assert EXAM in next(eval_texts(tmp_path / "mmlu.csv"))
    assert list(eval_texts(tmp_path / "pubmed.json")) == ["Q one? ctx a ctx b", "Q two?"]
    assert list(eval_texts(tmp_path / "mcq.jsonl")) == ["What is X? a"]


def test_overlap_found_by_ngrams(tmp_path):
    (tmp_path / "exam.csv").write_text(f'"{EXAM}",A,B,C,D,A\nshort item,A,B,C,D,B\n')
    index = build_eval_index([str(tmp_path / "exam.csv")], 13)
    assert index.too_short == 1 and index.items_per_file[str(tmp_path / "exam.csv")] == 2
    texts = ["Doctor: " + EXAM.upper() + "? I think it is a heart attack.", "unrelated text about a knee " * 5]
    hits = find_overlaps(index, [hash_words(words(t)) for t in texts])
    assert hits[0] is not None and index.items[hits[0]][1] == 1 and hits[1] is None


def test_prepare_reports_and_optionally_drops_contaminated_rows(tmp_path):
    rows = _rows(30) + [{"question": EXAM + "?", "answer": "This is a myocardial infarction until proven otherwise; "
                                                            "call an ambulance now."}]
    src = write_jsonl(tmp_path / "train.jsonl", rows)
    (tmp_path / "exam.csv").write_text(f'"{EXAM}",A,B,C,D,A\n')
    base = [f"data.source={src}", "data.val_fraction=0", "data.test_fraction=0", "data.near_dup={enabled: false}",
            f"data.contamination={{eval_files: ['{tmp_path / 'exam.csv'}']}}"]
    stats = run_prepare(build_config({}, base), tmp_path / "a").stats["contamination"]
    assert stats["train_rows_overlapping"] == 1 and stats["examples"][0]["eval_item"] == 1
    res = run_prepare(build_config({}, base[:-1] + [f"data.contamination={{eval_files: ['{tmp_path / 'exam.csv'}'], "
                                                    "drop: true}"]), tmp_path / "b")
    assert res.dropped["contaminated"] == 1 and res.rows_out["train"] == 30
