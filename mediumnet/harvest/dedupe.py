"""Merge works whose images are the same bytes or perceptually the same (near-duplicates).

Under one label the first id stays and the others are ``duplicate`` / ``near_duplicate``; under
different labels all are dropped as ``label_conflict``. An unlabelled copy never conflicts: the
first labelled copy stands for the work.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mediumnet.labels import UNLABELLED


def _clusters(sha: list[str], phashes: list[str], max_distance: int) -> list[int]:
    """Union-find over works with equal bytes or close perceptual hashes; return roots."""
    n = len(sha)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)

    first_by_sha: dict[str, int] = {}
    for i, s in enumerate(sha):
        if s in first_by_sha:
            union(first_by_sha[s], i)
        else:
            first_by_sha[s] = i
    if max_distance >= 0 and n > 1:
        values = np.array([int(p, 16) if p else 0 for p in phashes], dtype=np.uint64)
        for start in range(0, n, 512):
            block = values[start:start + 512, None] ^ values[None, :]
            close = np.bitwise_count(block) <= max_distance
            for a, b in zip(*np.nonzero(close), strict=True):
                i = start + int(a)
                if i < int(b):
                    union(i, int(b))
    return [find(i) for i in range(n)]


def deduplicate(rows: list[dict[str, Any]], max_distance: int
                ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Merge duplicate and near-duplicate works (rows sorted by id first).

    Returns
    -------
    kept : list of dict
        One row per distinct image.
    dropped : list of (row, reason)
        Reasons ``duplicate``, ``near_duplicate`` or ``label_conflict``.
    """
    rows = sorted(rows, key=lambda r: r["id"])
    roots = _clusters([r["sha256"] for r in rows], [r["phash"] for r in rows], max_distance)
    groups: dict[int, list[int]] = {}
    for i, root in enumerate(roots):
        groups.setdefault(root, []).append(i)
    kept, dropped = [], []
    for members in groups.values():
        labels = {rows[i]["label"] for i in members} - {UNLABELLED}
        if len(labels) > 1:
            dropped += [(rows[i], "label_conflict") for i in members]
            continue
        # A labelled copy stands for the work; unlabelled copies are its duplicates.
        first = next((i for i in members if rows[i]["label"] != UNLABELLED), members[0])
        head = rows[first]
        kept.append(head)
        for i in members:
            if i != first:
                same = rows[i]["sha256"] == head["sha256"]
                dropped.append((rows[i], "duplicate" if same else "near_duplicate"))
    kept.sort(key=lambda r: r["id"])
    return kept, dropped
