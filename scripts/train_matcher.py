"""Fine-tune the top layers of all-MiniLM-L6-v2 to match arguments to key points (ArgKP train).

The bottom ``--frozen`` transformer layers stay those of the shipped model, so their outputs are
computed once and cached; only the layers above them are trained, with an InfoNCE loss: each
argument against the key points of its topic and stance that the labels call matching (its
positive) or not matching (its negatives), plus a binary cross-entropy on the labelled pairs so
that scores are comparable across arguments (the track-1 mAP ranks arguments by score).
Model selection uses the dev split (mAP strict, the official scorer's definition); the test
split is never read. Writes ``models/arguments/matcher.npz`` (the trained layers' weights,
float32, no pickle) and ``matcher.json`` (training data sha256, dev figures, settings).

    python scripts/train_matcher.py --data ../shared/argkp [--frozen 5] [--epochs 1]
"""

from __future__ import annotations

import argparse
import hashlib
import json
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "argkp")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-steps", type=int, default=10**9)
    parser.add_argument("--eval-every", type=int, default=40)
    parser.add_argument("--frozen", type=int, default=5)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/stancemap-matcher-cache"))
    parser.add_argument("--out", type=Path, default=MATCHER_PATH)
    args = parser.parse_args()

    import torch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    files = {s: [args.data / f"{n}_{s}.csv" for n in ("arguments", "key_points", "labels")]
             for s in ("train", "dev")}
    data = {s: [read_rows(p) for p in files[s]] for s in files}
    arguments, key_points, labels = data["train"]
    states_a = _lower_states([r["argument"] for r in arguments], args.frozen, args.cache)
    states_k = _lower_states([r["key_point"] for r in key_points], args.frozen, args.cache)
    dev_a, dev_k, dev_l = data["dev"]
    dev_states_a = _lower_states([r["argument"] for r in dev_a], args.frozen, args.cache)
    dev_states_k = _lower_states([r["key_point"] for r in dev_k], args.frozen, args.cache)

    arg_index = {r["arg_id"]: i for i, r in enumerate(arguments)}
    kp_index = {r["key_point_id"]: i for i, r in enumerate(key_points)}
    pairs = [(arg_index[r["arg_id"]], kp_index[r["key_point_id"]], int(r["label"]))
             for r in labels]
    labelled: dict[int, dict[int, int]] = {}
    for a, k, y in pairs:
        labelled.setdefault(a, {})[k] = y
    positives = [(a, k) for a, k, y in pairs if y == 1]
    by_topic: dict[str, list[tuple[int, int]]] = {}
    for a, k in positives:
        by_topic.setdefault(arguments[a]["topic"], []).append((a, k))

    top = _Top(args.frozen)
    params = [p for layer in top.layers for p in layer.parameters()]
    optimiser = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = np.random.default_rng(0)

    def batches() -> list[list[tuple[int, int]]]:
        """Batches of one topic and similar lengths (less padding), in random order."""
        out: list[list[tuple[int, int]]] = []
        for topic in sorted(by_topic):
            items = [by_topic[topic][i] for i in rng.permutation(len(by_topic[topic]))]
            items.sort(key=lambda item: len(states_a[item[0]]))
            out += [items[i : i + args.batch] for i in range(0, len(items), args.batch)]
        return [out[i] for i in rng.permutation(len(out))]

    def dev_figures() -> tuple[float, float]:
        top.model.eval()
        with torch.no_grad():
            scores = argkp_scores(dev_a, dev_k, top.encode(dev_states_a).numpy(),
                                  top.encode(dev_states_k).numpy())
        top.model.train()
        return argkp_map(dev_a, dev_k, dev_l, argkp_predictions(dev_a, dev_k, scores))

    started = time.time()
    history: list[dict[str, Any]] = [{"step": 0, "dev_map": dev_figures()}]
    print("base model: dev mAP strict/relaxed", history[-1]["dev_map"], flush=True)
    chosen = history[-1]
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def checkpoint(step: int) -> dict[str, Any]:
        """Measure on dev; keep the weights when they are the best so far (written at once,
        so a run stopped early still leaves its best model)."""
        history.append({"step": step, "dev_map": dev_figures()})
        print(f"step {step}: dev mAP strict/relaxed", history[-1]["dev_map"], flush=True)
        best = chosen
        if history[-1]["dev_map"][0] > chosen["dev_map"][0]:
            best = history[-1]
            np.savez(args.out, **{f"layer{args.frozen + i}.{name}": value.detach().numpy()
                                  for i, layer in enumerate(top.layers)
                                  for name, value in layer.state_dict().items()})
        sidecar = {
            "model": "all-MiniLM-L6-v2; encoder layers >= frozen_layers fine-tuned on ArgKP "
                     "train (InfoNCE over same topic+stance key points + pair BCE)",
            "frozen_layers": args.frozen, "lr": args.lr, "batch": args.batch,
            "steps_per_epoch": len(positives) // args.batch + 1, "chosen_step": best["step"],
            "dev_map_strict": round(best["dev_map"][0], 4),
            "dev_map_relaxed": round(best["dev_map"][1], 4),
            "history": history,
            "train_sha256": _sha256(files["train"]), "dev_sha256": _sha256(files["dev"]),
            "training_seconds": round(time.time() - started),
        }
        args.out.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
        return best

    step = 0
    for _epoch in range(args.epochs):
        top.model.train()
        for batch in batches():
            kps = sorted({k for a, _ in batch for k in labelled[a]})
            column = {k: i for i, k in enumerate(kps)}
            za = top.encode([states_a[a] for a, _ in batch])
            zk = top.encode([states_k[k] for k in kps])
            sims = za @ zk.T
            allowed = torch.tensor([[k == pos or labelled[a].get(k) == 0 for k in kps]
                                    for a, pos in batch])
            loss = torch.nn.functional.cross_entropy(
                (sims / 0.05).masked_fill(~allowed, -1e4),
                torch.tensor([column[pos] for _, pos in batch]))
            known = torch.tensor([[k in labelled[a] for k in kps] for a, _ in batch])
            target = torch.tensor([[float(labelled[a].get(k, 0)) for k in kps] for a, _ in batch])
            loss = loss + torch.nn.functional.binary_cross_entropy_with_logits(
                (sims[known] - 0.5) * 10.0, target[known])
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimiser.step()
            step += 1
            if step % 10 == 0:
                print(f"step {step} loss {loss.item():.3f} {time.time() - started:.0f}s",
                      flush=True)
            if step % args.eval_every == 0:
                chosen = checkpoint(step)
            if step >= args.max_steps:
                break
        if step >= args.max_steps:
            break
    if step % args.eval_every:
        chosen = checkpoint(step)
    if chosen["step"] == 0:
        raise SystemExit("fine-tuning never beat the base model on dev; nothing written")


if __name__ == "__main__":
    main()
