"""Fine-tune the top layers of all-MiniLM-L6-v2 to match arguments to key points (ArgKP train).

The bottom ``--frozen`` transformer layers stay those of the shipped model, so their outputs are
computed once and cached; only the layers above them are trained, with an InfoNCE loss: each
argument against the key points of its topic and stance that the labels call matching (its
positive) or not matching (its negatives), plus a binary cross-entropy on all labelled pairs,
those of arguments that match no key point included, so that scores are comparable across
arguments (the track-1 mAP ranks arguments by score). The learning rate warms up linearly, then
decays to zero on a cosine.

Model selection holds out a share of the train *topics* (chosen by a hash of their names, so the
same ones every run) and keeps the checkpoint with the best mAP strict on them, as the official
scorer computes it over :func:`pipeline.arguments.match.match_scores`. The dev split is not read
here (``scripts/eval_argkp.py`` measures it afterwards), nor is the test split. Writes
``models/arguments/matcher.npz`` (the trained layers' weights, float32, no pickle) and
``matcher.json`` (training data sha256, held-out topics, selection figures, settings).

    python scripts/train_matcher.py --data ../shared/argkp [--frozen 4] [--epochs 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MAX_TOKENS = 128  # ArgKP arguments are short; longer ones are cut (as the model's 256 would)
sys.path.insert(0, str(ROOT))

from pipeline.arguments.match import (  # noqa: E402
    MATCHER_PATH,
    argkp_map,
    argkp_predictions,
    argkp_scores,
    base_encoder,
    read_rows,
)


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _cache_file(texts: list[str], frozen: int, cache: Path) -> Path:
    key = hashlib.sha256(("\n".join(texts) + f"|{frozen}").encode()).hexdigest()[:16]
    return cache / f"lower-{key}.npz"


def _lower_states(texts: list[str], frozen: int, cache: Path) -> list[np.ndarray]:
    """Hidden states after the first ``frozen`` layers, one (tokens, dim) array per text,
    cached; computed from the cached states of fewer layers when there are some."""
    import torch

    path = _cache_file(texts, frozen, cache)
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            flat, lengths = data["flat"], data["lengths"]
        return np.split(flat, np.cumsum(lengths)[:-1])
    tokenizer, model = base_encoder()
    below = next((f for f in range(frozen - 1, 0, -1) if _cache_file(texts, f, cache).exists()),
                 0)
    out: list[np.ndarray] = [np.zeros(0)] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # less padding
    with torch.no_grad():
        if below:
            states = _lower_states(texts, below, cache)
            top = _Top(below, frozen)
            for start in range(0, len(texts), 64):
                rows = order[start : start + 64]
                hidden, mask = top.run([states[i] for i in rows])
                for i, row, m in zip(rows, hidden, mask, strict=True):
                    out[i] = row[: int(m.sum())].numpy().astype(np.float32)
        else:
            layers = model.encoder.layer
            model.encoder.layer = layers[:frozen]  # only the frozen layers run here
            try:
                for start in range(0, len(texts), 64):
                    rows = order[start : start + 64]
                    batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True,
                                      max_length=MAX_TOKENS, return_tensors="pt")
                    hidden = model(**batch).last_hidden_state
                    for i, row, m in zip(rows, hidden, batch["attention_mask"], strict=True):
                        out[i] = row[: int(m.sum())].numpy().astype(np.float32)
            finally:
                model.encoder.layer = layers
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, flat=np.concatenate(out), lengths=np.array([len(x) for x in out]))
    return out


class _Top:
    """Layers ``first..last-1`` of the encoder (the trainable upper layers by default), run
    over cached lower states."""

    def __init__(self, first: int, last: int | None = None) -> None:
        _, model = base_encoder()
        self.model = model
        self.layers = model.encoder.layer[first:last]

    def run(self, states: list[np.ndarray]):  # type: ignore[no-untyped-def]
        """The hidden states after these layers and the attention mask (padded batch)."""
        import torch
        from transformers.masking_utils import create_bidirectional_mask

        width = min(max(len(s) for s in states), MAX_TOKENS)
        hidden = torch.zeros((len(states), width, states[0].shape[1]))
        mask = torch.zeros((len(states), width), dtype=torch.long)
        for i, s in enumerate(states):
            n = min(len(s), width)
            hidden[i, :n] = torch.from_numpy(s[:n])
            mask[i, :n] = 1
        attention = create_bidirectional_mask(config=self.model.config, inputs_embeds=hidden,
                                              attention_mask=mask)
        for layer in self.layers:
            hidden = layer(hidden, attention)
        return hidden, mask

    def encode(self, states: list[np.ndarray]):  # type: ignore[no-untyped-def]
        """Mean-pooled, normalised embeddings (as sentence-transformers pools the model)."""
        import torch

        hidden, mask = self.run(states)
        weights = mask.unsqueeze(-1).float()
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)
        return torch.nn.functional.normalize(pooled, dim=-1)


def held_out_topics(topics: list[str], share: float) -> list[str]:
    """The train topics kept for model selection: ``share`` of them (at least one), those
    first by the sha256 of their name, so the choice is fixed and blind to their content."""
    count = max(1, round(len(topics) * share))
    ranked = sorted(topics, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    return sorted(ranked[:count])


def _learning_rate(step: int, total: int, peak: float) -> float:
    """Linear warm-up over the first 10% of the steps, then a cosine decay to zero."""
    warm = max(1, total // 10)
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1.0 + math.cos(math.pi * (step - warm) / max(1, total - warm)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "argkp")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--max-steps", type=int, default=10**9)
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--frozen", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--held-out", type=float, default=0.2,
                        help="share of the train topics held out for model selection")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stancemap-matcher-cache"))
    parser.add_argument("--out", type=Path, default=MATCHER_PATH)
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    files = [args.data / f"{n}_train.csv" for n in ("arguments", "key_points", "labels")]
    arguments, key_points, labels = (read_rows(p) for p in files)
    held_out = held_out_topics(sorted({r["topic"] for r in arguments}), args.held_out)
    sel_a = [r for r in arguments if r["topic"] in held_out]
    sel_k = [r for r in key_points if r["topic"] in held_out]
    sel_ids = {r["arg_id"] for r in sel_a}
    sel_l = [r for r in labels if r["arg_id"] in sel_ids]
    # recorded by ArgKP topic number (arg_<topic>_<n>), not by the topics' own words
    topic_numbers = sorted({int(i.split("_")[1]) for i in sel_ids})
    states_a = _lower_states([r["argument"] for r in arguments], args.frozen, args.cache)
    states_k = _lower_states([r["key_point"] for r in key_points], args.frozen, args.cache)
    sel_states_a = [states_a[i] for i, r in enumerate(arguments) if r["topic"] in held_out]
    sel_states_k = [states_k[i] for i, r in enumerate(key_points) if r["topic"] in held_out]

    arg_index = {r["arg_id"]: i for i, r in enumerate(arguments)}
    kp_index = {r["key_point_id"]: i for i, r in enumerate(key_points)}
    labelled: dict[int, dict[int, int]] = {}
    for r in labels:
        if r["arg_id"] not in sel_ids:
            labelled.setdefault(arg_index[r["arg_id"]], {})[kp_index[r["key_point_id"]]] = int(
                r["label"])
    # one item per matching pair, and one (with no positive) per argument that matches none
    items = [(a, k) for a in sorted(labelled) for k, y in sorted(labelled[a].items()) if y]
    items += [(a, -1) for a in sorted(labelled) if not any(labelled[a].values())]
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for a, k in items:
        by_topic.setdefault(arguments[a]["topic"], []).append((a, k))

    top = _Top(args.frozen)
    params = [p for layer in top.layers for p in layer.parameters()]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = np.random.default_rng(0)
    steps_per_epoch = sum(-(-len(v) // args.batch) for v in by_topic.values())
    total = min(args.epochs * steps_per_epoch, args.max_steps)

    def batches() -> list[list[tuple[int, int]]]:
        """Batches of one topic and similar lengths (less padding), in random order."""
        out: list[list[tuple[int, int]]] = []
        for topic in sorted(by_topic):
            pool = [by_topic[topic][i] for i in rng.permutation(len(by_topic[topic]))]
            pool.sort(key=lambda item: len(states_a[item[0]]))
            out += [pool[i : i + args.batch] for i in range(0, len(pool), args.batch)]
        return [out[i] for i in rng.permutation(len(out))]

    def encode(states: list[np.ndarray]) -> np.ndarray:
        """Embeddings in length-sorted chunks (bounded memory, less padding)."""
        order = sorted(range(len(states)), key=lambda i: len(states[i]))
        out = np.zeros((len(states), states[0].shape[1]), dtype=np.float32)
        for start in range(0, len(order), 128):
            rows = order[start : start + 128]
            out[rows] = top.encode([states[i] for i in rows]).numpy()
        return out

    def selection_figures() -> tuple[float, float]:
        top.model.eval()
        with torch.no_grad():
            scores = argkp_scores(sel_a, sel_k, encode(sel_states_a), encode(sel_states_k))
        top.model.train()
        return argkp_map(sel_a, sel_k, sel_l, argkp_predictions(sel_a, sel_k, scores))

    started = time.time()
    history: list[dict[str, Any]] = [{"step": 0, "held_out_map": selection_figures()}]
    print("base model: held-out mAP strict/relaxed", history[-1]["held_out_map"], flush=True)
    chosen = history[-1]
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def checkpoint(step: int) -> dict[str, Any]:
        """Measure on the held-out topics; keep the weights when they are the best so far
        (written at once, so a run stopped early still leaves its best model)."""
        history.append({"step": step, "held_out_map": selection_figures()})
        print(f"step {step}: held-out mAP strict/relaxed", history[-1]["held_out_map"],
              flush=True)
        best = chosen
        if history[-1]["held_out_map"][0] > chosen["held_out_map"][0]:
            best = history[-1]
            np.savez(args.out, **{f"layer{args.frozen + i}.{name}": value.detach().numpy()
                                  for i, layer in enumerate(top.layers)
                                  for name, value in layer.state_dict().items()})
        sidecar = {
            "model": "all-MiniLM-L6-v2; encoder layers >= frozen_layers fine-tuned on ArgKP "
                     "train less the held-out topics (InfoNCE over same topic+stance key "
                     "points + pair BCE, arguments matching no key point included)",
            "frozen_layers": args.frozen, "lr": args.lr, "schedule": "10% warm-up, cosine",
            "batch": args.batch, "epochs": args.epochs, "steps_per_epoch": steps_per_epoch,
            "held_out_share": args.held_out, "held_out_topic_numbers": topic_numbers,
            "selection": "mAP strict on the held-out train topics (match_scores)",
            "chosen_step": best["step"],
            "held_out_map_strict": round(best["held_out_map"][0], 4),
            "held_out_map_relaxed": round(best["held_out_map"][1], 4),
            "history": history, "train_sha256": _sha256(files),
            "training_seconds": round(time.time() - started),
        }
        args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
        return best

    step = 0
    while step < total:
        top.model.train()
        for batch in batches():
            for group in optimiser.param_groups:
                group["lr"] = _learning_rate(step, total, args.lr)
            kps = sorted({k for a, _ in batch for k in labelled[a]})
            column = {k: i for i, k in enumerate(kps)}
            za = top.encode([states_a[a] for a, _ in batch])
            zk = top.encode([states_k[k] for k in kps])
            sims = za @ zk.T
            known = torch.tensor([[k in labelled[a] for k in kps] for a, _ in batch])
            target = torch.tensor([[float(labelled[a].get(k, 0)) for k in kps] for a, _ in batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                (sims[known] - 0.5) * 10.0, target[known])
            matched = [i for i, (_, pos) in enumerate(batch) if pos >= 0]
            if matched:
                allowed = torch.tensor([[k == batch[i][1] or labelled[batch[i][0]].get(k) == 0
                                         for k in kps] for i in matched])
                loss = loss + torch.nn.functional.cross_entropy(
                    (sims[matched] / 0.05).masked_fill(~allowed, -1e4),
                    torch.tensor([column[batch[i][1]] for i in matched]))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            step += 1
            if step % 10 == 0:
                print(f"step {step}/{total} loss {loss.item():.3f} "
                      f"{time.time() - started:.0f}s", flush=True)
            if step % args.eval_every == 0:
                chosen = checkpoint(step)
            if step >= total:
                break
    if step % args.eval_every:
        chosen = checkpoint(step)
    if chosen["step"] == 0:
        raise SystemExit("fine-tuning never beat the base model on the held-out topics; "
                         "nothing written")


if __name__ == "__main__":
    main()
