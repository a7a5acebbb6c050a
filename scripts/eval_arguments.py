"""Measure the arguments stage on a folder of texts (default: ../shared seeds and dev).

Ingests and analyses each text as a run does (``pipeline.chain``; or only splits it into
spaCy sentences with ``--spacy``), builds the argument tables in a scratch output folder
(embeddings cached there), and prints the share of arguments in a cluster, the cosine
silhouette, and 20 arguments beside their cluster's key point for a hand check.
``--compare`` sweeps clusterers and thresholds.

    python scripts/eval_arguments.py [--docs DIR ...] [--out DIR] [--compare]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.arguments.build import (
    ArgumentResult,
    build_argument_tables,
    cached_embedder,
    load_argument_rules,
    load_classifier,
)
from pipeline.arguments.match import MATCHER_PATH, matcher_for
from pipeline.chain import Analysers, analyse_sources, load_analysers
from pipeline.config import Settings, load_settings
from pipeline.io import OutputStore
from pipeline.nlp import load_spacy
from pipeline.schema import empty_table, to_table

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
log = logging.getLogger("eval_arguments")


def _authors(folder: Path) -> dict[str, str]:
    """Author organisations from a ``sources.csv`` beside ``folder`` (metadata only)."""
    sources = folder.parent / "sources.csv"
    if not sources.exists():
        return {}
    with open(sources, newline="", encoding="utf-8") as fh:
        return {r["id"]: r["author_org"] for r in csv.DictReader(fh) if r.get("author_org")}


def segment(path: Path, author: str | None, settings: Settings) -> tuple[dict[str, Any],
                                                                         list[dict[str, Any]]]:
    """One ``documents`` row and its ``sentences`` rows, split with spaCy."""
    data = path.read_bytes()
    text = data.decode("utf-8", errors="replace")
    doc_id = hashlib.sha256(data).hexdigest()[:16]
    nlp = load_spacy(settings.nlp.spacy_model, ("ner",))
    sentences = []
    for idx, sent in enumerate(s for s in nlp(text).sents if s.text.strip()):
        sentences.append({
            "sentence_id": f"{doc_id}-{idx:05d}", "doc_id": doc_id, "idx": idx, "page": None,
            "section": None, "start": sent.start_char, "end": sent.end_char,
            "text": " ".join(sent.text.split()),
        })
    document = {
        "doc_id": doc_id, "source_path": str(path), "format": path.suffix.lstrip("."),
        "title": text.strip().splitlines()[0][:200] if text.strip() else None,
        "author_org": author, "author_org_id": None, "author_confidence": None,
        "doc_kind": "unknown", "date": None, "n_pages": None, "n_sentences": len(sentences),
        "n_chars": len(text), "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "metadata_source": "eval_arguments", "ingested_at": dt.datetime.now(dt.UTC),
        "copy_of": None,
    }
    return document, sentences


def analyse(folder: Path, authors: dict[str, str], analysers: Analysers) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[pa.Table]]:
    """Documents and sentences rows of ``folder`` by ``pipeline.ingest``, and their stances
    by the run's per-document chain (:func:`pipeline.chain.analyse_document`)."""
    documents, sentences, stances = [], [], []
    for found in analyse_sources(folder, analysers):
        found.analysis.raise_failure()
        document = found.analysis.document
        document["author_org"] = document.get("author_org") or authors.get(found.source.path.stem)
        documents.append(document)
        sentences.extend(found.ingested.sentences.to_pylist())
        if found.analysis.stances is not None:
            stances.append(found.analysis.stances)
    return documents, sentences, stances


def load_corpus(folders: list[Path], settings: Settings, use_ingest: bool = True,
                cache_folder: Path | None = None) -> tuple[pa.Table, pa.Table, pa.Table]:
    """``documents``, ``sentences`` and ``stances`` tables for every text file in ``folders``:
    ingested and analysed as a run does, or with ``use_ingest`` false segmented by spaCy
    (no stances)."""
    documents, sentences, stances = [], [], []
    analysers = load_analysers(settings, cache_folder=cache_folder) if use_ingest else None
    for folder in folders:
        authors = _authors(folder)
        if analysers is not None:
            docs, sents, found = analyse(folder, authors, analysers)
            documents.extend(docs)
            sentences.extend(sents)
            stances.extend(found)
            continue
        for path in sorted(folder.glob("*.txt")):
            doc, doc_sentences = segment(path, authors.get(path.stem), settings)
            documents.append(doc)
            sentences.extend(doc_sentences)
    return (to_table("documents", documents), to_table("sentences", sentences),
            pa.concat_tables(stances) if stances else empty_table("stances"))


def quality(result: ArgumentResult) -> dict[str, float]:
    """Share of arguments in a cluster, number of clusters, cosine silhouette of clustered."""
    from sklearn.metrics import silhouette_score

    cluster_ids = result.arguments.column("cluster_id").to_pylist()
    clustered = np.asarray([c is not None for c in cluster_ids])
    labels = [c for c in cluster_ids if c is not None]
    n_clusters = len(set(labels))
    vectors = result.vectors
    silhouette = (float(silhouette_score(vectors[clustered], labels, metric="cosine"))
                  if vectors is not None and 1 < n_clusters < len(labels) else float("nan"))
    return {"arguments": len(cluster_ids), "clusters": n_clusters,
            "arguments_per_theme": round(len(cluster_ids) / max(n_clusters, 1), 1),
            "share_clustered": round(float(clustered.mean()) if len(clustered) else 0.0, 3),
            "silhouette": round(silhouette, 3)}


def hand_check(result: ArgumentResult, n: int = 20) -> list[dict[str, str]]:
    """``n`` clustered arguments (evenly spread over the id order, key points themselves
    left out) beside their cluster's key point."""
    key_points = dict(zip(result.clusters.column("cluster_id").to_pylist(),
                          result.clusters.column("key_point").to_pylist(), strict=True))
    labels = dict(zip(result.clusters.column("cluster_id").to_pylist(),
                      result.clusters.column("label").to_pylist(), strict=True))
    rows = [r for r in result.arguments.to_pylist()
            if r["cluster_id"] and r["text"] != key_points[r["cluster_id"]]]
    step = max(1, len(rows) // n)
    return [{"argument": r["text"], "label": labels[r["cluster_id"]],
             "key_point": key_points[r["cluster_id"]]} for r in rows[::step][:n]]


def main() -> None:
    """Build, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, nargs="*",
                        default=[SHARED / "seeds", SHARED / "dev" / "docs"])
    parser.add_argument("--out", type=Path, default=Path("/tmp/stancemap-eval-arguments"))
    parser.add_argument("--stances", type=Path,
                        help="an output folder to take stances from (default: analyse)")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--spacy", action="store_true", help="segment with spaCy, not ingest")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    settings = load_settings()
    store = OutputStore(args.out)
    documents, sentences, stances = load_corpus(args.docs, settings, not args.spacy,
                                                store.cache_dir("embeddings"))
    if args.stances:
        stances = OutputStore(args.stances).read_table("stances")
    embed = cached_embedder(store, settings).embed
    classifier = load_classifier(settings)
    rules = load_argument_rules(settings)
    match = (matcher_for(store.cache_dir("embeddings")).embed if MATCHER_PATH.exists()
             else None)

    def run(config: Any) -> ArgumentResult:
        return build_argument_tables(sentences, stances, documents, embed, classifier, config,
                                     rules, match=match)

    result = run(settings.arguments)
    for name in ("arguments", "clusters", "comparison"):
        store.write_table(name, getattr(result, name))
    again = run(settings.arguments)
    identical = all(getattr(result, name).equals(getattr(again, name))
                    for name in ("arguments", "clusters", "comparison"))
    print(json.dumps({"documents": documents.num_rows, "sentences": sentences.num_rows,
                      "matcher": MATCHER_PATH.exists(), **quality(result),
                      "identical_second_run": identical}))
    for row in hand_check(result):
        print(json.dumps(row))
    if args.compare:
        base = settings.arguments
        grid = [("agglomerative", t) for t in (0.4, 0.5, 0.6, 0.7, 0.8)] + [("hdbscan", 0.0)]
        for centre in (False, True):
            for clusterer, t in grid:
                for min_size in (2, 3):
                    config = base.model_copy(update={
                        "clusterer": clusterer, "distance_threshold": t or 0.5,
                        "min_cluster_size": min_size, "centre_embeddings": centre,
                        "outlier_distance": max(base.outlier_distance, t)})
                    print(json.dumps({"centre": centre, "clusterer": clusterer, "threshold": t,
                                      "min_cluster_size": min_size, **quality(run(config))}))


if __name__ == "__main__":
    main()
