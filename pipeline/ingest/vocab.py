"""Which strings are English words: the document's own words plus a base lexicon.

Used to rejoin words split by extraction ("Integ rated") and hyphenated at line ends: a join
is made only when the joined form is a known word.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

log = logging.getLogger(__name__)

_WORD = re.compile(r"[A-Za-z]+")
# The components disabled when only sentence boundaries are needed (segment.py uses the same
# tuple, so both share one cached pipeline).
SENTER_ONLY_DISABLED = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "ner")


@lru_cache(maxsize=2)
def spacy_lexicon(model: str) -> frozenset[str]:
    """Lower-case alphabetic strings of at least two letters known to the spaCy model ``model``."""
    from pipeline.nlp import load_spacy

    strings = load_spacy(model, disable=SENTER_ONLY_DISABLED).vocab.strings
    words = frozenset(s.lower() for s in strings if len(s) > 1 and s.isascii() and s.isalpha())
    log.debug("base lexicon from %s: %d words", model, len(words))
    return words


@dataclass(frozen=True)
class Vocabulary:
    """Known words: those in ``lexicon`` or seen at least ``min_count`` times in the document."""

    lexicon: frozenset[str] = frozenset()
    counts: Counter[str] = field(default_factory=Counter)
    min_count: int = 2

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], lexicon: frozenset[str] = frozenset(), min_count: int = 2
    ) -> Vocabulary:
        """Count the words of ``texts`` (the document) on top of ``lexicon``."""
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w.lower() for w in _WORD.findall(text))
        return cls(lexicon=lexicon, counts=counts, min_count=min_count)

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        low = word.lower()
        return low in self.lexicon or self.counts[low] >= self.min_count
