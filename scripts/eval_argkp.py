"""Track-1 predictions for IBM's ArgKP with the pipeline's argument-to-key-point matcher.

Reads ``arguments_<subset>.csv`` and ``key_points_<subset>.csv`` from ``--data`` and writes
``{arg_id: {key_point_id: score}}`` for the key points of each argument's topic and stance,
scored by :func:`pipeline.arguments.match.match_scores` over the matcher's embeddings (the
code that puts the pipeline's arguments into themes), each argument against the key points of
its topic and stance. When ``labels_<subset>.csv`` is there,
it also prints mAP strict and relaxed as the official scorer computes them.

    python scripts/eval_argkp.py --data ../shared/argkp --subset dev --out /tmp/dev.json
    python ../shared/argkp/track_1_kp_matching.py ../shared/argkp /tmp/dev.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.arguments.match import (  # noqa: E402
    MATCHER_PATH,
    argkp_map,
    argkp_predictions,
    argkp_scores,
    matcher_for,
    read_rows,
)
from pipeline.io import atomic_write_bytes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--subset", choices=("train", "dev", "test"), required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weights", type=Path, default=MATCHER_PATH)
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "stancemap-argkp-cache",
                        help="where the exported matcher and its embeddings are cached")
    parser.add_argument("--record", action="store_true",
                        help="also write the figures into the weights' JSON sidecar")
    args = parser.parse_args()
    arguments = read_rows(args.data / f"arguments_{args.subset}.csv")
    key_points = read_rows(args.data / f"key_points_{args.subset}.csv")
    matcher = matcher_for(args.cache, weights=args.weights)
    scores = argkp_scores(arguments, key_points,
                          matcher.embed([r["argument"] for r in arguments]),
                          matcher.embed([r["key_point"] for r in key_points]))
    predictions = argkp_predictions(arguments, key_points, scores)
    atomic_write_bytes(args.out, json.dumps(predictions, indent=1).encode())
    print(f"{len(predictions)} arguments, {len(key_points)} key points -> {args.out}")
    labels = args.data / f"labels_{args.subset}.csv"
    if labels.exists():
        strict, relaxed = argkp_map(arguments, key_points, read_rows(labels), predictions)
        print(f"mAP strict {strict:.4f}  relaxed {relaxed:.4f}")
        if args.record:
            sidecar = args.weights.with_suffix(".json")
            record = json.loads(sidecar.read_text(encoding="utf-8"))
            record[f"eval_argkp_{args.subset}"] = {
                "map_strict": round(strict, 4), "map_relaxed": round(relaxed, 4),
                "scores": "match_scores (cosine less the mean over the candidates)"}
            atomic_write_bytes(sidecar, (json.dumps(record, indent=2) + "\n").encode())


if __name__ == "__main__":
    main()
