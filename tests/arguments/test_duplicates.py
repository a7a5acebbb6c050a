"""Near-duplicate grouping with MinHash."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.arguments.duplicates import minhash_signatures, near_duplicate_groups

TEMPLATE = ("As a resident I object to the plan to close the minor injuries unit at the "
            "community hospital because the nearest alternative is forty minutes away by bus "
            "and many older people in the town do not drive")


def test_template_copies_group_and_distinct_texts_do_not() -> None:
    texts = [
        TEMPLATE,
        TEMPLATE.replace("As a resident", "As a local resident"),
        "The council welcomes the emphasis on prevention and asks for a stronger role at place.",
        TEMPLATE + " and I hope you will listen",
    ]
    groups = near_duplicate_groups(["r1", "r2", "c1", "r3"], texts, threshold=0.7)
    assert set(groups) == {"r1", "r2", "r3"}
    assert len(set(groups.values())) == 1
    assert next(iter(groups.values())).startswith("dup-")


def test_group_id_depends_only_on_members() -> None:
    a = near_duplicate_groups(["x", "y"], [TEMPLATE, TEMPLATE], threshold=0.8)
    b = near_duplicate_groups(["y", "x"], [TEMPLATE, TEMPLATE], threshold=0.8)
    assert a == b


def test_empty_and_short_texts_do_not_match_each_other() -> None:
    groups = near_duplicate_groups(["a", "b", "c", "d"], ["", "", "yes", "no"], threshold=0.8)
    assert groups == {}


def test_signatures_are_deterministic_and_similarity_tracks_jaccard() -> None:
    sig = minhash_signatures([TEMPLATE, TEMPLATE, "something else entirely different here"])
    assert sig.shape == (3, 64)
    assert np.array_equal(sig[0], sig[1])
    assert np.mean(sig[0] == sig[2]) < 0.1
    assert np.array_equal(sig, minhash_signatures([TEMPLATE, TEMPLATE,
                                                   "something else entirely different here"]))


def test_a_signature_cache_gives_the_same_signatures_and_skips_known_texts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.arguments import duplicates
    from pipeline.arguments.duplicates import SignatureCache, minhash_signatures

    texts = ["the council backs a statutory board for the area",
             "trusts want more time before any transfer of functions"]
    cache = SignatureCache()
    first = minhash_signatures(texts, cache=cache)
    assert np.array_equal(first, minhash_signatures(texts))
    calls: list[str] = []
    real = duplicates._shingle_hashes
    monkeypatch.setattr(duplicates, "_shingle_hashes",
                        lambda text, size: calls.append(text) or real(text, size))
    again = SignatureCache(dict(cache.known))
    second = minhash_signatures([*texts[1:], "a new text about primary care networks"],
                                cache=again)
    assert calls == ["a new text about primary care networks"]
    assert np.array_equal(second[0], first[1])
    assert len(again.kept()) == 2  # the text no longer used is not kept
