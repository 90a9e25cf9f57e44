"""Signs of a coordinated attack on a listing, as pure functions over one window of mentions
(no I/O, no clock): near-duplicate texts, a burst of low ratings far above the listing's own
baseline, and one account posting on several platforms.

Near-duplicates: a text is folded (:func:`monitor.text.fold`: NFKC, case, Traditional ->
Simplified), every character that is not a letter or digit is dropped (punctuation, emoji,
spaces between CJK characters), and it becomes its set of shingles: character bigrams
within runs of CJK characters (most Chinese words are two characters; no segmentation is
needed) and character ``SHINGLE``-grams within the other runs (Latin words and digits).
A MinHash signature (``PERMUTATIONS`` hash
functions) is cut into ``BANDS`` bands; texts sharing a band are candidates, and a
candidate pair is kept only when the exact Jaccard similarity of the two shingle sets is
at least ``similarity``. Kept pairs are joined into clusters (union-find). A cluster is
evidence when it spans at least ``min_cluster`` accounts or at least ``min_cluster`` sources
(an anonymous mention is an account of its own) and at least half its mentions are
negative: praise that is naturally alike (「謝謝醫師」, "highly recommend") never is, and
neither is one account re-posting on one site, nor one patient who pastes a complaint on a
second site and happens to resemble another.

Rating bomb, per source (a bomb hits one platform; real complaints spread over several, so
a bad day of the listing is not a bomb on each): ``k`` low ratings (``<= low_rating``) on
the source in the window against ``B`` there in the baseline before it. The expected count
is ``(B + 1) * window / baseline`` (one added, so a listing with no history is not
infinitely surprised) and the burst is the Poisson tail ``P(X >= k)``. It is evidence when
``k >= min_low`` and the tail is at most ``max_p`` when at
least ``new_share`` of the low ratings come from accounts first seen in the window (not
seen on the listing during the baseline), or at most ``max_p / 100`` otherwise.

Cross-posting: one account (handle folded, a leading ``@`` and spaces dropped; anonymous
placeholders ignored) first seen in the window, with negative mentions of the listing on at
least ``min_platforms`` sources within it. A regular of the listing (seen in the baseline)
is not a drive-by account, and common display names (Amy, 王小姐) are usually regulars.
"""
from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Mapping, Sequence

import numpy as np

from monitor.text import CJK, fold

SHINGLE = 3
CJK_SHINGLE = 2
PERMUTATIONS = 63
BANDS = 21  # of PERMUTATIONS // BANDS = 3 rows: a pair at Jaccard 0.5 shares a band with p 0.94
_PRIME = (1 << 61) - 1
_rng = np.random.default_rng(20261202)  # fixed: signatures must agree across processes and runs
_A = _rng.integers(1, 1 << 31, PERMUTATIONS, dtype=np.uint64)
_B = _rng.integers(0, 1 << 31, PERMUTATIONS, dtype=np.uint64)
_KEEP = re.compile(r"[^\W_]+")
_RUNS = re.compile(f"({CJK.pattern}+)|((?:(?!{CJK.pattern}).)+)")


@dataclass(frozen=True)
class Post:
    """What the detector reads of one mention."""

    id: int
    source: str
    author: str | None
    text: str
    rating: float | None
    negative: bool  # low rating, or (no rating) a negative verdict


@dataclass(frozen=True)
class Cluster:
    """Near-duplicate mentions: ids, their sources and accounts, and the similarity of the
    pairs that joined them (the lowest and the mean)."""

    mention_ids: tuple[int, ...]
    sources: tuple[str, ...]
    authors: tuple[str, ...]
    min_similarity: float
    mean_similarity: float


@dataclass(frozen=True)
class Bomb:
    """A burst of low ratings on one source: observed vs what the baseline predicts."""

    source: str
    mention_ids: tuple[int, ...]
    observed: int
    new_accounts: int
    baseline_count: int
    expected: float
    p_value: float
    low_rating: float  # a rating at most this is low


@dataclass(frozen=True)
class CrossPost:
    author: str
    sources: tuple[str, ...]
    mention_ids: tuple[int, ...]


def normal_form(text: str) -> str:
    """What near-duplicates are compared on: folded, letters and digits only; Latin words
    keep one space between them, CJK characters none."""
    runs = _KEEP.findall(fold(text))
    return re.sub(r"(?<=[^\x00-\x7f]) | (?=[^\x00-\x7f])", "", " ".join(runs))


def shingles(form: str) -> frozenset[str]:
    """The shingles of a normal form (see the module docstring)."""
    out: set[str] = set()
    for cjk, other in _RUNS.findall(form):
        run, k = (cjk, CJK_SHINGLE) if cjk else (other.strip(), SHINGLE)
        if len(run) <= k:
            out.update((run,) if run else ())
        else:
            out.update(run[i:i + k] for i in range(len(run) - k + 1))
    return frozenset(out)


@lru_cache(maxsize=65_536)
def _signature(shingle_set: frozenset[str]) -> tuple[int, ...]:
    hashes = np.fromiter((zlib.crc32(s.encode()) for s in shingle_set), dtype=np.uint64, count=len(shingle_set))
    mins = ((np.outer(_A, hashes) + _B[:, None]) % _PRIME).min(axis=1)
    return tuple(int(v) for v in mins)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    inter = len(a & b)
    return inter / (len(a) + len(b) - inter)


def similar_pairs(sets: Sequence[frozenset[str]], similarity: float) -> list[tuple[int, int, float]]:
    """(i, j, Jaccard) for the pairs of ``sets`` at least ``similarity`` alike, found through
    MinHash bands and checked exactly."""
    rows = PERMUTATIONS // BANDS
    buckets: dict[tuple, list[int]] = {}
    for i, s in enumerate(sets):
        sig = _signature(s)
        for band in range(BANDS):
            buckets.setdefault((band, *sig[band * rows:(band + 1) * rows]), []).append(i)
    seen: set[tuple[int, int]] = set()
    out = []
    for members in buckets.values():
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                pair = (members[x], members[y])
                if pair in seen:
                    continue
                seen.add(pair)
                sim = jaccard(sets[pair[0]], sets[pair[1]])
                if sim >= similarity:
                    out.append((*pair, sim))
    return out


def _components(n: int, pairs: Iterable[tuple[int, int, float]]) -> dict[int, list[tuple[int, int, float]]]:
    """Union-find: root -> the pairs inside that component."""
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = list(pairs)
    for i, j, _ in pairs:
        parent[root(i)] = root(j)
    out: dict[int, list[tuple[int, int, float]]] = {}
    for pair in pairs:
        out.setdefault(root(pair[0]), []).append(pair)
    return out


def account(author: str | None, ignore: frozenset[str]) -> str | None:
    """An account's handle in the form compared (None: anonymous or a placeholder)."""
    if not author:
        return None
    handle = fold(author).lstrip("@").replace(" ", "")
    return None if not handle or handle in ignore else handle


def near_duplicates(posts: Sequence[Post], similarity: float, min_cluster: int, min_chars: int,
                    ignore: frozenset[str] = frozenset()) -> list[Cluster]:
    """Clusters of near-duplicate texts that look like a campaign (see the module docstring);
    texts shorter than ``min_chars`` letters and digits are not compared."""
    usable = [(p, shingles(f)) for p in posts if len(f := normal_form(p.text)) >= min_chars]
    pairs = similar_pairs([s for _, s in usable], similarity)
    clusters = []
    for edges in _components(len(usable), pairs).values():
        members = sorted({i for e in edges for i in e[:2]}, key=lambda i: usable[i][0].id)
        group = [usable[i][0] for i in members]
        accounts = {account(p.author, ignore) or f"#{p.id}" for p in group}
        spread = max(len(accounts), len({p.source for p in group}))
        if spread < min_cluster or 2 * sum(p.negative for p in group) < len(group):
            continue
        sims = [e[2] for e in edges]
        clusters.append(Cluster(tuple(p.id for p in group), tuple(sorted({p.source for p in group})),
                                tuple(sorted({p.author for p in group if p.author})),
                                round(min(sims), 3), round(sum(sims) / len(sims), 3)))
    return sorted(clusters, key=lambda c: c.mention_ids)


def poisson_tail(k: int, mean: float) -> float:
    """P(X >= k) for X ~ Poisson(mean), summed upward from k (no 1 - CDF cancellation)."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    term = math.exp(k * math.log(mean) - mean - math.lgamma(k + 1))
    total, i = 0.0, k
    while term > 0 and (i <= mean or term > total * 1e-15):
        total += term
        i += 1
        term *= mean / i
    return min(1.0, total)


def rating_bomb(posts: Sequence[Post], low_rating: float, baseline: Mapping[str, int], ratio: float,
                known: set[str], min_low: int, max_p: float, new_share: float,
                ignore: frozenset[str] = frozenset()) -> Bomb | None:
    """The most significant burst of low ratings on one source (see the module docstring).
    ``baseline``: the listing's low ratings per source during the baseline; ``ratio``: window
    / baseline length; ``known``: the accounts seen on the listing during the baseline."""
    by_source: dict[str, list[Post]] = {}
    for p in posts:
        if p.rating is not None and p.rating <= low_rating:
            by_source.setdefault(p.source, []).append(p)
    found = []
    for source, low in sorted(by_source.items()):
        if len(low) < min_low:
            continue
        expected = (baseline.get(source, 0) + 1) * ratio
        p_value = poisson_tail(len(low), expected)
        new = sum(1 for p in low if account(p.author, ignore) is not None and p.author not in known)
        if p_value <= (max_p if new >= new_share * len(low) else max_p / 100):
            found.append(Bomb(source, tuple(p.id for p in low), len(low), new, baseline.get(source, 0),
                              round(expected, 3), p_value, low_rating))
    return min(found, key=lambda b: b.p_value, default=None)


def cross_posters(posts: Sequence[Post], min_platforms: int, ignore: frozenset[str],
                  known: set[str] = frozenset()) -> list[CrossPost]:
    """Accounts first seen in the window (not in ``known``) with negative mentions on at
    least ``min_platforms`` sources."""
    by_account: dict[str, list[Post]] = {}
    for p in posts:
        handle = account(p.author, ignore)
        if handle is not None and p.negative and p.author not in known:
            by_account.setdefault(handle, []).append(p)
    out = []
    for handle, mine in sorted(by_account.items()):
        sources = sorted({p.source for p in mine})
        if len(sources) >= min_platforms:
            out.append(CrossPost(mine[0].author or handle, tuple(sources), tuple(sorted(p.id for p in mine))))
    return out
