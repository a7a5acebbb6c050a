"""Near-duplicate grouping by MinHash over word shingles, with LSH banding.

Used twice: on whole documents (a campaign letter sent by many respondents) and on argument
sentences across documents (a template paragraph pasted into otherwise different responses).
Candidate pairs come from LSH buckets, so the cost grows with the number of texts, not its
square; a pair joins a group when its estimated Jaccard similarity reaches the threshold.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

_PRIME = np.uint64((1 << 61) - 1)
_WORD = re.compile(r"[a-z0-9]+")


def _shingle_hashes(text: str, size: int) -> np.ndarray:
    words = _WORD.findall(text.lower())
    grams = {" ".join(words[i : i + size]) for i in range(max(1, len(words) - size + 1))}
    return np.asarray(
        [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=4).digest(), "little")
         for g in sorted(grams)],
        dtype=np.uint64,
    )


@dataclass
class SignatureCache:
    """MinHash signatures by text hash, kept between runs (whole documents: the costliest
    texts to hash, and nearly all unchanged from one run to the next)."""

    known: dict[str, np.ndarray] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @staticmethod
    def key(text: str, n_perm: int, shingle: int) -> str:
        """The cache key of ``text`` under these MinHash parameters."""
        return hashlib.sha256(f"{n_perm}|{shingle}|{text}".encode()).hexdigest()[:32]

    def kept(self) -> dict[str, np.ndarray]:
        """The signatures used since this cache was loaded (what is worth saving)."""
        return {k: self.known[k] for k in sorted(self.used) if k in self.known}


def minhash_signatures(texts: Sequence[str], n_perm: int = 64, shingle: int = 3,
                       cache: SignatureCache | None = None) -> np.ndarray:
    """An ``(len(texts), n_perm)`` uint64 MinHash signature per text (fixed seeds), taken
    from ``cache`` where it holds them (and added to it)."""
    rng = np.random.default_rng(20201126)
    # a, b < 2**32 and shingle hashes < 2**32, so a*x + b never overflows 64 bits.
    a = rng.integers(1, 1 << 32, size=n_perm, dtype=np.uint64)
    b = rng.integers(0, 1 << 32, size=n_perm, dtype=np.uint64)
    known = cache if cache is not None else SignatureCache()  # a repeated text is hashed once
    signatures = np.empty((len(texts), n_perm), dtype=np.uint64)
    for i, text in enumerate(texts):
        key = SignatureCache.key(text, n_perm, shingle)
        if key not in known.known:
            x = _shingle_hashes(text, shingle)
            known.known[key] = ((a[:, None] * x[None, :] + b[:, None]) % _PRIME).min(axis=1)
        signatures[i] = known.known[key]
        known.used.add(key)
    return signatures


def near_duplicate_groups(
    keys: Sequence[str], texts: Sequence[str], threshold: float,
    n_perm: int = 64, bands: int = 16, shingle: int = 3, cache: SignatureCache | None = None,
) -> dict[str, str]:
    """Map each key that has a near-duplicate to its group id (``dup-`` + hash of members).

    Keys without a near-duplicate are absent from the result. Empty texts never match.
    """
    signatures = minhash_signatures(texts, n_perm, shingle, cache)
    rows = n_perm // bands
    parent = list(range(len(keys)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    usable = [i for i, t in enumerate(texts) if _WORD.search(t.lower())]
    for band in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i in usable:
            buckets[signatures[i, band * rows : (band + 1) * rows].tobytes()].append(i)
        for bucket in buckets.values():
            for j in bucket[1:]:
                a, b = find(bucket[0]), find(j)
                if a != b and np.mean(signatures[bucket[0]] == signatures[j]) >= threshold:
                    parent[max(a, b)] = min(a, b)
    groups: dict[int, list[str]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[find(i)].append(key)
    result: dict[str, str] = {}
    for members in groups.values():
        if len(members) > 1:
            group_id = "dup-" + hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()[:12]
            result.update(dict.fromkeys(members, group_id))
    return result
