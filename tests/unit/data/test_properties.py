"""Property-based tests: random, corrupted, binary and huge input never raises and every row is accounted for."""

import json
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medqa.config import build_config
from medqa.data.cleaning import RULES, clean_example, clean_text
from medqa.data.filters import language_reason
from medqa.data.prepare import run_prepare
from medqa.data.schema import Example, RowError, to_example
from medqa.config import LanguageConfig

FRAGMENTS = ["Hi,", "Hello dear,", "Thanks for your query.", "Welcome to Chat Doctor.", "Chat Doctor", "ChatDoctor.com",
             "Regards, Dr. Ravi Kumar", "Take care.", "Hope this helps", "www.x.com/a?b=1", "https://a.org", "a@b.co",
             "+1 (555) 123-4567", "98765 43210", "120/80", "500 mg", "â€™", "Ã©", "â€", "I??e", "don??t", "??", "&amp;",
             "&#39;", "<br>", "<b>", "\x00", "\x92", "\u200b", "\ufffd", "As an AI language model,", "Patient:", "User:",
             "Please generate a dialogue", "??169,X,['y'],", "Mr.", "Dr.", "M.M.", "  ", "\n\n\n", "\t", ".", ",", " ,",
             "()", "[]", "e.g.", "a.b.c.d.e", "12-03-2019", "I'm", "It's", "\ud800", "😀", "ß", "Ω", "-", ":"]
noisy_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=40).map(" ".join)
any_text = st.one_of(st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
                             max_size=300), noisy_text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_text)
def test_every_rule_accepts_any_text(text):
    for rule in RULES:
        assert isinstance(rule.fn(text), str)
    assert isinstance(clean_text(text), str)
    assert language_reason(text, LanguageConfig()) in (None, "language")


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
                           lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=8), kids, max_size=3),
                           max_leaves=8)
row_fields = st.dictionaries(st.sampled_from(["question", "answer", "input", "output", "instruction", "messages", "topic",
                                              "statements", "id", "group", "role", "content", "x"]),
                             json_values, max_size=5)


@settings(max_examples=300, deadline=None)
@given(row_fields)
def test_schema_mapping_raises_only_row_errors(fields):
    try:
        ex = to_example(fields)
    except RowError:
        return
    assert isinstance(clean_example(ex), Example)


GOOD = [{"question": f"My knee has hurt for {i} days after running, what should I do about it?",
         "answer": f"Rest it for {i} days, use ice and see a doctor if it swells or locks."} for i in range(3)]
bad_lines = st.one_of(st.binary(max_size=200), row_fields.map(lambda f: json.dumps(f).encode()),
                      any_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
                      st.integers(1, 3000).map(lambda n: b"[" * n),
                      st.sampled_from([b"", b"\n", b"{", b"null", b'"x"', b"\xff\xfe\x00", b"{}" * 3]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(bad_lines, max_size=12), st.booleans())
def test_run_prepare_survives_corrupted_files(tmp_path_factory, lines, huge):
    folder = tmp_path_factory.mktemp("prop")
    good = [json.dumps(r).encode() for r in GOOD]
    if huge:
        good.append(json.dumps({"question": "Why? " * 30_000, "answer": "Because. " * 20}).encode())
    (folder / "in.jsonl").write_bytes(b"\n".join(good + [line.replace(b"\n", b" ") for line in lines]) + b"\n")
    cfg = build_config({}, [f"data.source={folder / 'in.jsonl'}", "data.val_fraction=0", "data.test_fraction=0",
                            "data.max_bad_fraction=1.0"])
    res = run_prepare(cfg, folder / "out")
    assert res.rows_in == sum(res.rows_out.values()) + sum(res.dropped.values())
    stats = json.loads((folder / "out" / "stats.json").read_text())
    assert stats["rows_in"] == stats["rows_out"] + stats["dropped_total"]
    assert res.rows_out["train"] >= 1


def test_huge_and_pathological_rows_are_linear():
    cases = ["a" * 100_000 + "@", "a." * 50_000 + ".com", " " * 100_000 + "x", "an ai " * 20_000, "1 " * 50_000,
             "Hi, " * 25_000, "??" * 50_000, "Dr. A" * 20_000, "x" * 99_000 + " please generate a dialogue"]
    start = time.perf_counter()
    for text in cases:
        for rule in RULES:
            rule.fn(text)
    assert time.perf_counter() - start < 30  # quadratic patterns would take hours on these
