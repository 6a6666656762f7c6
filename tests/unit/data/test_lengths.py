"""The fast token counter must agree with encode_example, the training path's own count."""

import dataclasses

from conftest import HCM_ROWS

from medqa.data import lengths
from medqa.data.formatting import encode_example
from medqa.data.schema import Example, to_example
from medqa.data.sources import iter_rows


def _examples():
    exs = [to_example(r.fields) for r in iter_rows("embedded")][:60] + [to_example(r) for r in HCM_ROWS]
    return exs + [Example(question="  spaced   q ", answer="a  b > </c> &amp;"),
                  Example(question="Q?", answer="A.", history=(("user", "hi"), ("assistant", "hello"))),
                  Example(question="Q2?", answer="A2.", system="Be brief."),
                  Example(question="Ünïcødé 😀 question\nwith lines", answer="ok <end_of_turn> literal")]


def test_piece_counter_matches_encode_example(tokenizer, monkeypatch):
    monkeypatch.setattr(lengths, "CHECK_FIRST", 0)  # compare everything here instead
    for system in ("You are careful.", None):
        counter = lengths.PieceCounter(tokenizer, system)
        got = counter.lengths(_examples())
        want = []
        for ex in _examples():
            enc = encode_example(tokenizer, ex, system, max_len=10**9)
            want.append((len(enc.input_ids) - enc.answer_tokens, enc.answer_tokens))
        assert got == want and counter.method == "exact-pieces"


def test_counter_falls_back_to_exact_on_a_mismatch(tokenizer):
    counter = lengths.PieceCounter(tokenizer, None)
    # simulate a tokenizer for which the piece rule does not hold
    counter.plan = dataclasses.replace(counter.plan, head_tokens=counter.plan.head_tokens + 1)
    exs = _examples()[:4]
    got = counter.lengths(exs)
    assert counter.method == "exact" and counter.mismatches == 1
    assert got == [(len(e.input_ids) - e.answer_tokens, e.answer_tokens)
                   for e in (encode_example(tokenizer, x, None, 10**9) for x in exs)]
