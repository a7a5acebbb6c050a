"""Analyst themes: a codebook of key points the analyst wants arguments mapped to.

A theme file is YAML: a list of themes (or a mapping with a ``themes`` list), each with an
``id`` and a ``key_point`` (the sentence arguments are matched against), and optionally a
``label``, a ``target`` and a ``stance``. Arguments whose match score with a key point reaches
``arguments.match_threshold`` (and whose target and stance agree, where the theme sets them)
join that theme; the others are clustered into discovered themes. Errors name the file and
line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from pipeline.errors import ThemeFileError

STANCES = ("support", "oppose", "conditional", "neutral")
_KEYS = ("id", "key_point", "label", "target", "stance")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class AnalystTheme:
    """One codebook entry."""

    id: str
    key_point: str
    label: str | None = None
    target: str | None = None
    stance: str | None = None

    @property
    def cluster_id(self) -> str:
        """The theme's id in the ``clusters`` table (analyst themes start with ``t-``)."""
        return f"t-{self.id}"


def _scalar(node: yaml.Node, path: Path) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise ThemeFileError(f"{path}:{node.start_mark.line + 1}: expected a text value")
    return str(node.value).strip()


def load_codebook(path: Path) -> list[AnalystTheme]:
    """Read and check the theme file ``path``."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ThemeFileError(f"{path}: cannot read the theme file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ThemeFileError(f"{path}{where}: not valid YAML ({exc})") from exc
    if root is None:
        raise ThemeFileError(f"{path}: the theme file is empty")
    if isinstance(root, yaml.MappingNode):
        items = {_scalar(k, path): v for k, v in root.value}
        if set(items) != {"themes"}:
            raise ThemeFileError(f"{path}:{root.start_mark.line + 1}: expected a list of "
                                 "themes, or a mapping with only a 'themes' key")
        root = items["themes"]
    if not isinstance(root, yaml.SequenceNode) or not root.value:
        raise ThemeFileError(f"{path}:{root.start_mark.line + 1}: expected a list of themes")
    themes: list[AnalystTheme] = []
    seen: dict[str, int] = {}
    for entry in root.value:
        line = entry.start_mark.line + 1
        if not isinstance(entry, yaml.MappingNode):
            raise ThemeFileError(f"{path}:{line}: a theme must be a mapping with 'id' and "
                                 "'key_point'")
        fields: dict[str, str] = {}
        for key_node, value_node in entry.value:
            key = _scalar(key_node, path)
            if key not in _KEYS:
                raise ThemeFileError(f"{path}:{key_node.start_mark.line + 1}: unknown key "
                                     f"{key!r} (allowed: {', '.join(_KEYS)})")
            fields[key] = _scalar(value_node, path)
        for required in ("id", "key_point"):
            if not fields.get(required):
                raise ThemeFileError(f"{path}:{line}: the theme has no {required!r} "
                                     "(or it is empty)")
        if not _ID.match(fields["id"]):
            raise ThemeFileError(f"{path}:{line}: id {fields['id']!r} must be letters, digits, "
                                 "'-', '_' or '.' (at most 64)")
        if fields["id"] in seen:
            raise ThemeFileError(f"{path}:{line}: id {fields['id']!r} is already used on line "
                                 f"{seen[fields['id']]}")
        if fields.get("stance") and fields["stance"] not in STANCES:
            raise ThemeFileError(f"{path}:{line}: stance {fields['stance']!r} is not one of "
                                 f"{', '.join(STANCES)}")
        seen[fields["id"]] = line
        themes.append(AnalystTheme(fields["id"], fields["key_point"], fields.get("label") or None,
                                   fields.get("target") or None, fields.get("stance") or None))
    if len(themes) < 2:
        raise ThemeFileError(f"{path}:{root.start_mark.line + 1}: at least two themes are "
                             "needed (an argument is matched against all the key points)")
    return themes
