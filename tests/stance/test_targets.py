"""The target file: loading, validation errors and the matchers built from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.errors import ConfigError
from pipeline.stance import TargetSet, load_targets

MINIMAL = {
    "name": "parks",
    "consultation": {"owner": "City Parks Board", "document_references": ["the plan"]},
    "targets": [
        {
            "id": "late_opening",
            "label": "Late opening",
            "description": "Parks open until 10pm.",
            "aliases": ["late opening", "open later"],
            "ordinals": ["first"],
            "question": 1,
        },
        {
            "id": "dog_zones",
            "label": "Dog zones",
            "description": "Fenced areas for dogs.",
            "aliases": ["dog zones"],
            "weak_aliases": ["fencing"],
            "weak_context": ["dog"],
            "ordinals": ["second"],
            "question": 2,
        },
    ],
    "anaphora": ["this option"],
    "question_layouts": [r"^\s*(?:question|q)\s*(?P<n>\d+)\b"],
    "answer_words": {
        "support": ["agree"],
        "oppose": ["disagree", "strongly disagree"],
        "conditional": ["partly"],
    },
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_shipped_file_has_the_seven_core_targets(targets: TargetSet) -> None:
    assert targets.ids == [
        "option_1",
        "option_2",
        "q1_statutory_footing",
        "q3_permissive_membership",
        "q4_delegated_commissioning",
        "place_subsidiarity",
        "local_government_role",
    ]
    assert targets.by_question(2) is not None and targets.by_question(2).id == "option_2"


def test_minimal_file_loads_and_matches(tmp_path: Path) -> None:
    loaded = load_targets(_write(tmp_path, MINIMAL))
    assert loaded.mentions("We want parks to open later in summer.") == {"late_opening": 17}
    assert loaded.ordinal_mentions("They prefer the second option.") == {"dog_zones": 12}
    assert loaded.ordinal_mentions("The first wave of parks.") == {}
    assert loaded.ordinal_mentions("We back the first.") == {"late_opening": 8}


def test_weak_alias_needs_its_context(tmp_path: Path) -> None:
    loaded = load_targets(_write(tmp_path, MINIMAL))
    assert loaded.mentions("New fencing for the dog walkers.") == {"dog_zones": 4}
    assert loaded.mentions("New fencing around the pond.") == {}
    assert loaded.mentions("Late opening needs new fencing for dogs.") == {"late_opening": 0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Strongly disagree.", "oppose"),
        ("Disagree", "oppose"),
        ("Response: Agree", "support"),
        ("Partly, if the budget allows.", "conditional"),
        ("Agreements were signed in May.", None),
        ("We agree with the plan.", None),
    ],
)
def test_answer_words(tmp_path: Path, text: str, expected: str | None) -> None:
    assert load_targets(_write(tmp_path, MINIMAL)).answer_stance(text) == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "green"}, "colour"),
        ({"targets": []}, "targets"),
        ({"question_layouts": ["^(unclosed"]}, "bad question layout"),
        ({"question_layouts": [r"^q\d+"]}, "named group 'n'"),
        ({"consultation": {"owner": ""}}, "owner"),
    ],
)
def test_invalid_files_raise_config_error(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_targets(_write(tmp_path, {**MINIMAL, **change}))


def test_duplicate_ids_and_questions_are_rejected(tmp_path: Path) -> None:
    twice = {**MINIMAL, "targets": [MINIMAL["targets"][0], MINIMAL["targets"][0]]}  # type: ignore[index]
    with pytest.raises(ConfigError, match="duplicate target ids"):
        load_targets(_write(tmp_path, twice))
    same_question = [dict(t, question=1) for t in MINIMAL["targets"]]  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="same question"):
        load_targets(_write(tmp_path, {**MINIMAL, "targets": same_question}))


def test_unknown_target_key_is_rejected(tmp_path: Path) -> None:
    bad = [dict(MINIMAL["targets"][0], synonyms=["x"])]  # type: ignore[index]
    with pytest.raises(ConfigError, match="synonyms"):
        load_targets(_write(tmp_path, {**MINIMAL, "targets": bad}))


def test_missing_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_targets(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="mapping"):
        load_targets(_write(tmp_path, ["a", "list"]))
