"""Stance targets as data: the YAML target file, validated, and the matchers built from it."""

from __future__ import annotations

import re
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.config import read_yaml_mapping
from pipeline.errors import ConfigError

STANCE_LABELS = ("support", "oppose", "conditional", "neutral")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Target(_Strict):
    """One thing a holder can take a stance on."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    description: str = Field(min_length=1)
    aliases: list[str] = Field(min_length=1)
    weak_aliases: list[str] = []
    weak_context: list[str] = []
    ordinals: list[str] = []
    question: int | None = Field(default=None, ge=1)


class Consultation(_Strict):
    """Who owns the consultation and how its document is referred to."""

    owner: str = Field(min_length=1)
    document_references: list[str] = []


class AnswerWords(_Strict):
    """Short answers on a response form, per stance."""

    support: list[str] = []
    oppose: list[str] = []
    conditional: list[str] = []
    neutral: list[str] = []


def _phrase_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = sorted({re.escape(p.lower()) for p in phrases}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


class TargetSet(_Strict):
    """All targets of one consultation plus its general cue lists."""

    name: str = Field(min_length=1)
    consultation: Consultation
    targets: list[Target] = Field(min_length=1)
    anaphora: list[str] = []
    question_layouts: list[str] = []
    answer_words: AnswerWords = AnswerWords()

    @field_validator("targets")
    @classmethod
    def _unique_ids(cls, targets: list[Target]) -> list[Target]:
        ids = [t.id for t in targets]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate target ids: {duplicates}")
        questions = [t.question for t in targets if t.question is not None]
        if len(questions) != len(set(questions)):
            raise ValueError("two targets claim the same question number")
        return targets

    @field_validator("question_layouts")
    @classmethod
    def _valid_layouts(cls, layouts: list[str]) -> list[str]:
        for layout in layouts:
            try:
                compiled = re.compile(layout)
            except re.error as exc:
                raise ValueError(f"bad question layout {layout!r}: {exc}") from exc
            if "n" not in compiled.groupindex:
                raise ValueError(f"question layout {layout!r} needs a named group 'n'")
        return layouts

    @property
    def ids(self) -> list[str]:
        """Target ids in file order."""
        return [t.id for t in self.targets]

    def by_question(self, number: int) -> Target | None:
        """The target answered by consultation question ``number``, if any."""
        return next((t for t in self.targets if t.question == number), None)

    @cached_property
    def _alias_patterns(self) -> dict[str, re.Pattern[str] | None]:
        return {t.id: _phrase_pattern(t.aliases) for t in self.targets}

    @cached_property
    def _weak_patterns(self) -> dict[str, re.Pattern[str] | None]:
        return {t.id: _phrase_pattern(t.weak_aliases) for t in self.targets}

    @cached_property
    def _weak_contexts(self) -> dict[str, re.Pattern[str] | None]:
        return {t.id: _phrase_pattern(t.weak_context) for t in self.targets}

    @cached_property
    def _ordinal_pattern(self) -> re.Pattern[str] | None:
        words = [o for t in self.targets for o in t.ordinals]
        if not words:
            return None
        alternatives = "|".join(sorted({re.escape(w) for w in words}, key=len, reverse=True))
        return re.compile(
            r"\bthe\s+(" + alternatives + r")(?:\s+(?:option|model|one|proposal)\b"
            r"|(?=\s*(?:[.,;:)!?]|$)))",
            re.I,
        )

    @cached_property
    def anaphora_pattern(self) -> re.Pattern[str] | None:
        """Phrases that refer back to the option mentioned last."""
        return _phrase_pattern(self.anaphora)

    @cached_property
    def layout_patterns(self) -> list[re.Pattern[str]]:
        """Compiled question layouts."""
        return [re.compile(p, re.IGNORECASE) for p in self.question_layouts]

    @cached_property
    def document_reference_pattern(self) -> re.Pattern[str] | None:
        """Phrases standing for the consultation document itself."""
        return _phrase_pattern(self.consultation.document_references)

    def mentions(self, text: str) -> dict[str, int]:
        """Targets named in ``text`` by alias, each with the offset of its first mention.

        Weak aliases count only when no alias of any target is present and, if the target lists
        ``weak_context`` phrases, one of them is in the sentence too.
        """
        return {t: span[0] for t, span in self.mention_spans(text).items()}

    def mention_spans(self, text: str) -> dict[str, tuple[int, int]]:
        """Like :meth:`mentions`, with the (start, end) of each first mention."""
        found = _first_hits(self._alias_patterns, text)
        if found:
            return found
        weak = _first_hits(self._weak_patterns, text)
        contexts = self._weak_contexts
        return {
            t: span for t, span in weak.items() if (ctx := contexts[t]) is None or ctx.search(text)
        }

    def ordinal_mentions(self, text: str) -> dict[str, int]:
        """Targets named by an ordinal ("the second option"), with offsets."""
        if self._ordinal_pattern is None:
            return {}
        found: dict[str, int] = {}
        for match in self._ordinal_pattern.finditer(text):
            word = match.group(1).lower()
            for target in self.targets:
                if word in (o.lower() for o in target.ordinals):
                    found.setdefault(target.id, match.start())
        return found

    def answer_stance(self, text: str) -> str | None:
        """The stance of a short form answer ("Strongly disagree."), if ``text`` opens with one."""
        head = re.sub(r"^\s*(?:response|answer)\s*[:\-–]\s*", "", text.strip(), flags=re.I)
        head = head.lower().strip(" .:;!-–")
        best: tuple[int, str] | None = None
        for stance in STANCE_LABELS:
            for word in getattr(self.answer_words, stance):
                w = word.lower()
                if (head == w or re.match(re.escape(w) + r"\s*[,.;:–!-]", head)) and (
                    best is None or len(w) > best[0]
                ):
                    best = (len(w), stance)
        return best[1] if best else None


def _first_hits(
    patterns: dict[str, re.Pattern[str] | None], text: str
) -> dict[str, tuple[int, int]]:
    hits: dict[str, tuple[int, int]] = {}
    for target_id, pattern in patterns.items():
        if pattern is not None and (match := pattern.search(text)):
            hits[target_id] = match.span()
    return hits


def load_targets(path: Path) -> TargetSet:
    """Read and validate a target file; raise :class:`ConfigError` when it is unusable."""
    data = read_yaml_mapping(path, "target file")
    try:
        return TargetSet.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"invalid target file {path}: {exc}") from exc
