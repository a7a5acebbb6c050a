"""Near-duplicate grouping with MinHash."""

from __future__ import annotations

import numpy as np

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
