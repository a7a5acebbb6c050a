"""``make eval``: honest stance figures, printed and written into README's accuracy table.

Usage: python scripts/eval_stance.py [--shared ../shared] [--cache DIR] [--readme README.md]

1. Document-grouped 5-fold cross-validation over ``../shared/dev`` + ``../shared/dev2``: every
   document is decided by a learned decision trained without it; the held-out positions are
   scored together by ``../shared/tools/score_stances.py``.
2. The seeds (``../shared/seeds`` against ``../shared/gold/seed_stances.csv``) analysed with the
   shipped model, which was trained on dev + dev2 only, scored by the same scorer.

Both scorer outputs are printed as the scorer prints them. Exits 0 without doing anything when
``../shared`` is absent.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline.config import PROJECT_ROOT

log = logging.getLogger("eval_stance")
START, END = "<!-- stance-eval:start -->", "<!-- stance-eval:end -->"


def seed_figures(shared: Path, cache: Path) -> tuple[str, dict[str, float]]:
    """The shipped model on the seeds, scored by the official scorer."""
    import stance_cv

    from pipeline.config import load_settings
    from pipeline.evaluate import analyse_folder

    settings = load_settings(None)
    _, _, positions = analyse_folder(shared / "seeds", settings, cache / "embeddings")
    return stance_cv.score(
        positions, shared / "gold" / "seed_stances.csv", shared / "tools" / "score_stances.py"
    )


def table(cv: dict[str, Any], seeds: dict[str, float]) -> str:
    """README's accuracy table (lenient = the scorer's polarity lines)."""
    lines = [
        START,
        "| gold set | how | P | R | F1 | author-held F1 | cited F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    deals = [cv["lenient"], *cv["lenient_without_position_head_other_partitions"].values()]
    mean = {k: sum(d.get(k, 0.0) for d in deals) / len(deals)
            for k in ("all_p", "all_r", "all_f1", "author_f1", "cited_f1")}
    for name, how, f in (
        ("dev + dev2 (132 texts)", "document-grouped 5-fold CV", cv["lenient"]),
        ("same", f"mean over {len(deals)} deals of the documents into folds", mean),
        ("seeds (5 texts, 15 positions)", "model trained on dev + dev2", seeds),
    ):
        lines.append(
            f"| {name} | {how} | {f.get('all_p', 0):.2f} | {f.get('all_r', 0):.2f} | "
            f"**{f.get('all_f1', 0):.2f}** | {f.get('author_f1', 0):.2f} | "
            f"{f.get('cited_f1', 0):.2f} |"
        )
    return "\n".join([*lines, END])


def write_readme(readme: Path, text: str) -> None:
    """Replace the marked table in ``readme`` (atomic write)."""
    content = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(content):
        raise SystemExit(f"{readme}: no {START} ... {END} block to update")
    tmp = readme.with_suffix(".md.tmp")
    tmp.write_text(pattern.sub(lambda _: text, content), encoding="utf-8")
    tmp.replace(readme)


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=PROJECT_ROOT.parent / "shared")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir())
                        / "stancemap-stance-cache")
    parser.add_argument("--readme", type=Path, default=PROJECT_ROOT / "README.md")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not (args.shared / "dev" / "gold_stances.csv").exists():
        print(f"{args.shared} not found: nothing to evaluate")
        return 0
    import stance_cv

    from pipeline.config import load_settings

    settings = load_settings(None)
    ctx = stance_cv.Context(settings)
    ctx.use_cache(args.cache / "embeddings")
    hand = PROJECT_ROOT / "models" / "stance" / "training_sentences.csv"
    corpus = stance_cv.load_corpus(ctx, args.shared, args.cache, hand)
    from train_stance import DECIDER_C

    cv, _ = stance_cv.cv_figures(ctx, corpus, args.shared, DECIDER_C)
    print("# dev + dev2, document-grouped 5-fold cross-validation "
          f"(min_confidence {cv['min_confidence']})")
    print("\n".join(cv["scorer_output"]))
    seeds_text, seeds = seed_figures(args.shared, args.cache)
    print("# seeds, model trained on dev + dev2")
    print(seeds_text.strip())
    write_readme(args.readme, table(cv, seeds))
    print(f"updated {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
