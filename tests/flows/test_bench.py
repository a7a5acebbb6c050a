"""The benchmark's corpus generators and report (the measured runs are `make bench`)."""

from __future__ import annotations

import random
from pathlib import Path

from tests.script_loader import load_script


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_realistic_corpus_is_reproducible_and_rarely_repeats_a_line(tmp_path: Path) -> None:
    bench = load_script("bench")
    made = bench.make_corpus(tmp_path / "a", 6, seed=3)
    again = bench.make_corpus(tmp_path / "b", 6, seed=3)
    assert made == again
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert made["documents"] == made["pdf"] + made["text"] == 6
    assert len(_files(tmp_path / "a")) == 6
    assert made["max_copies"] <= 3
    assert made["distinct_lines"] / made["lines"] > 0.9


def test_realistic_pages_hold_about_five_hundred_words() -> None:
    load_script("bench")
    import synthetic_corpus as sc

    writer = sc.Writer(random.Random(5), sc.organisations(random.Random(5)))
    for question in (None, 2):
        page = sc._body_page(writer, "Ashby City Council", "Summary", question)
        words = sum(len(text.split()) for _, text in page)
        assert 500 <= words < 650, words
        assert [name for name, _ in page[:2]] == ["heading", "question" if question else "body"]


def test_no_line_is_written_more_than_three_times() -> None:
    load_script("bench")
    import synthetic_corpus as sc

    writer = sc.Writer(random.Random(1), ["Ashby City Council"])
    lines = [writer.unique(lambda: "Option 1 is preferred.") for _ in range(3)]
    assert lines == ["Option 1 is preferred."] * 3
    assert writer.seen["Option 1 is preferred."] == 3
    drawn = [writer.sentence("Ashby City Council") for _ in range(2000)]
    assert max(writer.seen[s] for s in drawn) <= 3


def test_sentences_agree_with_a_plural_holder() -> None:
    load_script("bench")
    import synthetic_corpus as sc

    assert sc._agree("strongly supports", "We") == "strongly support"
    assert sc._agree("is concerned that", "We") == "are concerned that"
    assert sc._agree("does not support", "We") == "do not support"
    assert sc._agree("does not support", "Ashby City Council") == "does not support"


def test_repetitive_corpus_is_reproducible(tmp_path: Path) -> None:
    bench = load_script("bench")
    made = bench.make_repetitive_corpus(tmp_path / "a", 4, seed=3)
    assert made == bench.make_repetitive_corpus(tmp_path / "b", 4, seed=3)
    assert made["documents"] == made["pdf"] + made["text"] == 4
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_report_names_machine_targets_floor_ratios_and_fixed_costs() -> None:
    bench = load_script("bench")
    run = {"seconds": 100.0, "peak_rss_mb": 900.0,
           "summary": {"ingest_seconds": 40.0, "analyse_seconds": 50.0}}
    fixed = {"min": 1.0, "median": 1.5, "max": 2.0}
    results = {
        "machine": {"cpu": "Test CPU", "cores": 2, "memory_gb": 8.0, "os": "Linux",
                    "python": "3.11", "load_average": [0.1, 0.1, 0.1]},
        "corpus": {"documents": 10, "pdf": 7, "text": 3, "pdf_pages": 70, "sentences": 1500,
                   "max_copies": 3},
        "runs": {"cold": run, "unchanged": {**run, "seconds": 1.0},
                 "one_changed": {**run, "seconds": 2.0}},
        "out": {"pages": 73, "sentences": 1500, "words": 24000, "errors": 1,
                "distinct_sentences": 1200, "embedded": 300},
        "floor": {"pdfplumber_s": 10.0, "pdf_pages": 70, "spacy_s": 20.0, "words": 30000,
                  "embeddings_s": 5.0, "embedded": 300},
        "options": " --documents 10", "date": "2026-01-01 00:00 UTC",
        "scaling": {"base_documents": 1, "docs_ratio": 10.0, "base_seconds": 12.5,
                    "time_ratio": 8.0},
        "fixed": {"report": fixed, "run (unchanged)": {**fixed, "median": 3.5}},
    }
    text = bench.render(results)
    assert "Measured by `python scripts/bench.py --documents 10`" in text
    assert "Test CPU, 2 cores" in text
    assert "1500 sentences, of which **1200 distinct (80.0%)**" in text
    assert "| unchanged re-run / cold | ≤ 2% | 1.0% |" in text
    assert "| cold run / floor (one-core total ÷ 2) | ≤ 1.3 | 5.71 |" in text
    assert "| **floor total** |  | 35.0 | 17.5 | **cold run** | 100.0 | 5.71 |" in text
    assert "| pdfplumber `extract_text`, every PDF page | 7.00 pages/s | 10.0 | 5.0 | ingest " \
           "| 40.0 | 8.00 |" in text
    assert "| time at 10× the documents (1 → 10) | ≤ 11× | 8.0× |" in text
    assert "| `stancemap report` | 1.00 | 1.50 | 2.00 |" in text
    assert "| unchanged `stancemap run` on the demo outputs (median) | ≤ 4 s | 3.50 s |" in text
    assert "| ingest | 40.0 | 0.25 | 1.82 | 37.50 | 600.00 |" in text
    assert "extractor" not in text
    results["floor"].update({"extractor": "auto", "extractor_s": 4.0})
    text = bench.render(results)
    assert "| the run's PDF extractor (`auto`), every PDF page | 17.50 pages/s | 4.0 | 2.0 | " \
           "ingest | 40.0 | 20.00 |" in text
    assert "| floor total with the run's PDF extractor |  | 29.0 | 14.5 | cold run | 100.0 | " \
           "6.90 |" in text
    assert "| cold run / floor with the run's PDF extractor (`auto`) | ≤ 1.3 | 6.90 |" in text
    assert "| cold run / floor (one-core total ÷ 2) | ≤ 1.3 | 5.71 |" in text


def test_hand_written_notes_survive_a_rewrite(tmp_path: Path) -> None:
    bench = load_script("bench")
    report = tmp_path / "BENCHMARKS.md"
    assert bench._notes(report) == ""
    report.write_text(f"# old figures\n\n{bench.NOTES_MARKER}\n\n## Notes\n\nKept.\n",
                      encoding="utf-8")
    assert bench._notes(report) == f"\n{bench.NOTES_MARKER}\n\n## Notes\n\nKept.\n"
