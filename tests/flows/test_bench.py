"""The benchmark's corpus generator and report (the measured runs are `make bench`)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "scripts" / "bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench"] = module
    spec.loader.exec_module(module)
    return module


def test_synthetic_corpus_is_reproducible(tmp_path: Path) -> None:
    bench = _bench()
    made = bench.make_corpus(tmp_path / "a", 4, seed=3)
    again = bench.make_corpus(tmp_path / "b", 4, seed=3)
    assert made == again
    assert made["documents"] == made["pdf"] + made["text"] == 4
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert len(files) == 4
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_report_names_machine_and_targets() -> None:
    bench = _bench()
    run = {"seconds": 100.0, "peak_rss_mb": 900.0,
           "summary": {"ingest_seconds": 40.0, "analyse_seconds": 50.0}}
    results = {
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "os": "Linux",
                    "python": "3.11", "load_average": [0.1, 0.1, 0.1]},
        "corpus": {"documents": 10, "pdf": 7, "text": 3, "pdf_pages": 70, "sentences": 1500},
        "runs": {"cold": run, "unchanged": {**run, "seconds": 1.0},
                 "one_changed": {**run, "seconds": 2.0}},
        "out": {"pages": 73, "sentences": 1500, "words": 24000},
        "floor": {"pdfplumber_s": 10.0, "pdf_pages": 70, "spacy_s": 20.0, "words": 30000,
                  "embeddings_s": 5.0, "embedded": 300},
        "small": True, "date": "2026-01-01 00:00 UTC", "scaling": None,
    }
    text = bench.render(results)
    assert "Test CPU, 2 cores" in text
    assert "| unchanged re-run / cold | ≤ 2% | 1.0% |" in text
    assert "| cold run / floor | ≤ 1.3 | 2.86 |" in text
    assert "| ingest | 40.0 | 0.25 | 1.82 | 37.50 | 600.00 |" in text
    assert "| analyse | 50.0 | 0.20 | 1.46 | 30.00 | 480.00 |" in text


def test_synthetic_pages_hold_about_five_hundred_words() -> None:
    import random

    bench = _bench()
    pool = bench.corpus_sentences(ROOT / "corpus")
    rng = random.Random(5)
    vary = bench._recombiner(bench.organisation_names(), rng)
    counts = [sum(len(s.split()) for s in bench._page(pool, rng, vary)) for _ in range(20)]
    assert all(500 <= n < 600 for n in counts), counts


def test_hand_written_notes_survive_a_rewrite(tmp_path: Path) -> None:
    bench = _bench()
    report = tmp_path / "BENCHMARKS.md"
    assert bench._notes(report) == ""
    report.write_text(f"# old figures\n\n{bench.NOTES_MARKER}\n\n## Notes\n\nKept.\n",
                      encoding="utf-8")
    assert bench._notes(report) == f"\n{bench.NOTES_MARKER}\n\n## Notes\n\nKept.\n"
