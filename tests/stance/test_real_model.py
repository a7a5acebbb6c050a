"""The shipped classifier with the rules, the demo corpus and the acceptance scores."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import load_settings
from pipeline.stance import load_stance_model
from tests.stance.helpers import taken

pytestmark = pytest.mark.slow
Run = Callable[..., list[dict[str, Any]]]


def test_hybrid_rows_record_which_component_decided(run: Run) -> None:
    model = load_stance_model(load_settings())
    model.method = "hybrid"
    rows = run(
        [
            "We strongly support the second option.",
            "Option 2: a statutory ICS NHS body that takes on CCG functions.",
        ],
        model=model,
    )
    assert taken(rows) == {("Northshire Council", "option_2", "support")}
    methods = {(r["stance"], r["method"]) for r in rows}
    assert ("support", "hybrid") in methods
    assert ("neutral", "rules") in methods


def test_board_paper_takes_no_option_stance(tmp_path: Path, corpus_dir: Path) -> None:
    from pipeline.evaluate import analyse_folder

    paper = corpus_dir / "nhs-england-board-2019-03-establishing-icss.txt"
    (tmp_path / paper.name).write_bytes(paper.read_bytes())
    _, stances, positions = analyse_folder(tmp_path, load_settings())
    assert stances.num_rows > 0
    options = [
        p
        for p in positions.to_pylist()
        if p["target"].startswith("option_") and p["stance"] != "neutral"
    ]
    assert options == []


@pytest.fixture(scope="module")
def embedding_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export and embedding cache for both gold sets (as a run keeps in OUT/_cache)."""
    return tmp_path_factory.mktemp("embeddings")


# A regression floor under the measured seed figure of the learned decision (0.58, see
# docs/stance.md; the bar of 0.90 is not met). dev and dev2 trained the model, so they
# are measured by cross-validation (`make eval`), never here.
@pytest.mark.shared
@pytest.mark.parametrize(
    ("gold", "docs", "minimum"),
    [("gold/seed_stances.csv", "seeds", 0.55)],
)
def test_acceptance_scores(shared_dir: Path, gold: str, docs: str, minimum: float,
                           embedding_cache: Path) -> None:
    from pipeline.entities import load_register
    from pipeline.evaluate import analyse_folder, evaluate

    settings = load_settings()
    documents, _, positions = analyse_folder(shared_dir / docs, settings, embedding_cache)
    result = evaluate(
        shared_dir / gold, shared_dir / docs, positions, documents, load_register(settings)
    )
    lenient = result.scores["lenient (conditional = support)"]
    assert lenient["overall"].f1 >= minimum, result.to_markdown()
    assert lenient["author-held"].f1 >= minimum


def _learned_rows(run: Run, texts: list[str]) -> list[dict[str, Any]]:
    model = load_stance_model(load_settings())
    assert model.method == "learned" and model.decider is not None
    return run(texts, model=model)


def test_learned_decision_is_deterministic(run: Run) -> None:
    texts = [
        "Question 3: do you agree that membership should be permissive?",
        "We agree: systems should shape their own governance arrangements.",
        "Councillor Ann Brook said the board must keep a seat for every district council.",
    ]
    assert _learned_rows(run, texts) == _learned_rows(run, texts)


def test_learned_rows_carry_calibrated_confidences(run: Run) -> None:
    rows = _learned_rows(run, ["We strongly support delegated commissioning of dental care."])
    learned = [r for r in rows if r["method"] == "learned"]
    assert learned and all(0.0 <= r["confidence"] <= 1.0 for r in learned)


def test_worry_that_councils_are_sidelined_is_not_opposition_to_their_role(run: Run) -> None:
    rows = _learned_rows(
        run, ["We are worried that district councils will be sidelined by the new boards."]
    )
    assert not [r for r in rows if r["target"] == "local_government_role"
                and r["stance"] == "oppose"]


def test_a_negated_prescription_is_not_opposition(run: Run) -> None:
    rows = _learned_rows(
        run, ["Place partnerships must not be reduced to mere delivery arms of the board."]
    )
    assert not [r for r in rows if r["target"] == "place_subsidiarity"
                and r["stance"] == "oppose"]


def test_a_view_on_what_the_paper_proposes_is_the_authors(run: Run) -> None:
    rows = _learned_rows(
        run, ["The consultation paper proposes a statutory ICS NHS body, which we strongly oppose."]
    )
    held = {(r["holder"], r["holder_is_author"]) for r in rows if r["stance"] != "neutral"}
    assert held == {("Northshire Council", True)}


def test_a_sentence_naming_only_one_option_takes_no_stance_on_the_other(run: Run) -> None:
    rows = _learned_rows(
        run, ["We agree with the district councils that Option 1 keeps the partners together."]
    )
    assert not [r for r in rows if r["target"] == "option_2"]
