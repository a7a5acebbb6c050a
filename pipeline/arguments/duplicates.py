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
    return groups_from_signatures(keys, signatures, usable(texts), threshold, bands)


def usable(texts: Sequence[str]) -> np.ndarray:
    """Which texts have a word at all (the others never match anything)."""
    return np.asarray([bool(_WORD.search(t.lower())) for t in texts], dtype=bool)


def groups_from_signatures(keys: Sequence[str], signatures: np.ndarray, usable: np.ndarray,
                           threshold: float, bands: int = 16) -> dict[str, str]:
    """:func:`near_duplicate_groups` on signatures already computed."""
    rows = signatures.shape[1] // bands if len(signatures) else 0
    links = UnionFind(len(keys))
    candidates = np.flatnonzero(usable)
    for band in range(bands):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for i in candidates:
            buckets[signatures[i, band * rows : (band + 1) * rows].tobytes()].append(int(i))
        for bucket in buckets.values():
            for j in bucket[1:]:
                if (links.find(bucket[0]) != links.find(j)
                        and similarity(signatures[bucket[0]], signatures[j]) >= threshold):
                    links.union(bucket[0], j)
    return group_ids(keys, links)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """The Jaccard similarity estimated from two MinHash signatures."""
    return float(np.mean(a == b))


def band_hashes(signatures: np.ndarray, bands: int = 16) -> np.ndarray:
    """An ``(n, bands)`` uint32 hash of each LSH band of each signature: a compact index that
    names the candidates of a later text (equal bands hash equally; a rare collision only adds
    a candidate, which is then checked on full signatures)."""
    rows = signatures.shape[1] // bands
    shaped = signatures[:, : bands * rows].reshape(len(signatures), bands, rows)
    mixed = np.zeros(shaped.shape[:2], dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            mixed = (mixed * np.uint64(0x100000001B3)) ^ shaped[:, :, r]
    return (mixed ^ (mixed >> np.uint64(32))).astype(np.uint32)


class UnionFind:
    """Disjoint sets over ``0..n-1``; the smaller index is a set's root."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        """The root of ``i``'s set."""
        parent = self.parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, i: int, j: int) -> None:
        """Join the sets of ``i`` and ``j``."""
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def group_ids(keys: Sequence[str], links: UnionFind) -> dict[str, str]:
    """Each key in a set of two or more, mapped to its group id (a hash of the members)."""
    groups: dict[int, list[str]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[links.find(i)].append(key)
    result: dict[str, str] = {}
    for members in groups.values():
        if len(members) > 1:
            group_id = "dup-" + hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()[:12]
            result.update(dict.fromkeys(members, group_id))
    return result
