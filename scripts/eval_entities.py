"""Score the entities stage on the seed gold and print Markdown tables.

Usage: python scripts/eval_entities.py [--corpus corpus] [--gold tests/gold/seed_entities.csv]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline.config import PROJECT_ROOT, load_settings
from pipeline.entities import load_register
from pipeline.entities.evaluate import (
    evaluate_corpus,
    read_gold,
    read_gold_authors,
    to_markdown,
)


def main() -> None:
    """Run the evaluation and print scores, misses, false finds and the stage's speed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=PROJECT_ROOT / "corpus")
    parser.add_argument("--gold", type=Path,
                        default=PROJECT_ROOT / "tests" / "gold" / "seed_entities.csv")
    parser.add_argument("--authors", type=Path,
                        default=PROJECT_ROOT / "tests" / "gold" / "seed_entities.authors.csv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings()
    gold = read_gold(args.gold)
    authors = read_gold_authors(args.authors) if args.authors.exists() else {}
    files = {g.file for g in gold} | set(authors)
    evaluation = evaluate_corpus(args.corpus, files, settings, load_register(settings), gold,
                                 authors)
    print(to_markdown(evaluation))
    print("\nmisses (file, label, id, n):")
    for miss in evaluation.misses:
        print("  ", miss)
    print("false finds (file, label, id, n):")
    for find in evaluation.false_finds:
        print("  ", find)
    if evaluation.words_per_second:
        print(f"\nentities stage (after parsing): {evaluation.words_per_second:,.0f} words/s")


if __name__ == "__main__":
    main()
