"""Analyst theme files: reading them and the errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.arguments.codebook import AnalystTheme, load_codebook
from pipeline.errors import StancemapError, ThemeFileError

GOOD = """\
themes:
  - id: local-voice
    key_point: Councils must keep an equal voice on the new board.
    target: option_2
    stance: oppose
  - id: single-budget
    key_point: A single budget lets partners plan care around residents.
    label: One budget
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "themes.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_codebook_is_read_in_order(tmp_path: Path) -> None:
    themes = load_codebook(_write(tmp_path, GOOD))
    assert themes == [
        AnalystTheme("local-voice", "Councils must keep an equal voice on the new board.",
                     None, "option_2", "oppose"),
        AnalystTheme("single-budget", "A single budget lets partners plan care around residents.",
                     "One budget", None, None),
    ]
    assert themes[0].cluster_id == "t-local-voice"


def test_a_bare_list_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path, "- id: a\n  key_point: Councils must keep their voice on boards.\n"
                            "- id: b\n  key_point: Budgets should be set at place level.\n")
    assert [t.id for t in load_codebook(path)] == ["a", "b"]


@pytest.mark.parametrize(("text", "message"), [
    ("themes:\n  - id: a\n    keypoint: Councils must keep their voice.\n",
     ":3: unknown key 'keypoint' (allowed: id, key_point, label, target, stance)"),
    ("themes:\n  - id: a\n    key_point: Councils keep a voice.\n  - id: b\n    key_point: ''\n",
     ":4: the theme has no 'key_point' (or it is empty)"),
    ("themes:\n  - key_point: Councils keep a voice.\n", ":2: the theme has no 'id'"),
    ("themes:\n  - id: a\n    key_point: One.\n  - id: a\n    key_point: Two.\n",
     ":4: id 'a' is already used on line 2"),
    ("themes:\n  - id: a\n    key_point: One.\n    stance: against\n",
     ":2: stance 'against' is not one of support, oppose, conditional, neutral"),
    ("themes:\n  - id: a\n    key_point: [One]\n", ":3: expected a text value"),
    ("themes: [\n", ": not valid YAML"),
    ("", ": the theme file is empty"),
    ("topics:\n  - id: a\n", ":1: expected a list of themes, or a mapping"),
    ("themes:\n  - id: a\n    key_point: Councils keep a voice.\n",
     ":2: at least two themes are needed"),
])
def test_errors_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ThemeFileError) as caught:
        load_codebook(path)
    assert str(caught.value).startswith(str(path))
    assert message in str(caught.value)
    assert isinstance(caught.value, StancemapError)


def test_a_missing_file_is_a_theme_file_error(tmp_path: Path) -> None:
    with pytest.raises(ThemeFileError, match="cannot read the theme file"):
        load_codebook(tmp_path / "absent.yaml")
