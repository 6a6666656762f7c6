import numpy as np

from medqa.config import NearDupConfig
from medqa.data.dedup import NearDuplicateIndex, lsh_params, minhash, pair_key
from medqa.data.fingerprints import hash_words, rolling_hashes, shingle_hashes, words
from medqa.data.cleaning import normalise_key

BASE = ("a lingering dry cough after a cold is common but night time tightness in the chest can point to asthma so "
        "see your doctor for a lung check and ask about an inhaler trial if it lasts more than three weeks")


def test_words_match_normalise_key():
    for text in ("What is  Asthma?", "Café Über-straße, naïve", "x_y 1.5mg"):
        assert b" ".join(words(text)).decode() == normalise_key(text)


def _key(text):
    return b" ".join(words(text))


def test_exact_key_ignores_case_and_punctuation():
    assert pair_key(_key("What is asthma?"), _key("A lung disease.")) == pair_key(_key("what is ASTHMA"),
                                                                                  _key("a lung disease"))
    assert pair_key(_key("a b"), _key("c")) != pair_key(_key("a"), _key("b c"))


def test_lsh_params_fit_the_threshold():
    for threshold in (0.5, 0.8, 0.9):
        bands, rows = lsh_params(threshold, 64)
        assert bands * rows <= 64 and abs((1 / bands) ** (1 / rows) - threshold) < 0.12


def test_minhash_estimates_jaccard():
    rng = np.random.default_rng(0)
    a = (rng.integers(0, 2**31, 64) * 2 + 1).astype(np.uint32)
    b = rng.integers(0, 2**32, 64).astype(np.uint32)
    s1 = shingle_hashes(hash_words(words(BASE)), 3)
    s2 = shingle_hashes(hash_words(words(BASE.replace("common", "very common"))), 3)
    sig = minhash([s1, s2, s1], a, b)
    assert (sig[0] == sig[2]).all() and 0.6 < (sig[0] == sig[1]).mean() < 1.0


def test_near_duplicates_found_and_distinct_rows_kept():
    index = NearDuplicateIndex(NearDupConfig(threshold=0.7))
    texts = [BASE, BASE.replace("common", "very common"), "rashes in children after a fever are often viral and fade",
             BASE.replace("asthma", "reflux").replace("lung", "stomach").replace("three", "two").replace("cold", "flu")]
    sigs = index.signatures_of([hash_words(words(t)) for t in texts])
    assert [index.add_if_new(s) for s in sigs] == [None, 0, None, None]


def test_rolling_hashes_count_and_short_texts():
    wh = hash_words(words("one two three four five"))
    assert len(rolling_hashes(wh, 3)) == 3 and len(rolling_hashes(wh, 6)) == 0
    assert len(shingle_hashes(wh[:2], 3)) == 1 and len(shingle_hashes(wh[:0], 3)) == 1
