"""Merge works whose images are the same bytes or perceptually the same (near-duplicates).

Under one label the first id stays and the others are ``duplicate`` / ``near_duplicate``; under
different labels all are dropped as ``label_conflict``. An unlabelled copy never conflicts: the
first labelled copy stands for the work. A medium a curator gave (``mediumnet label``) settles a
conflict: the curator's copy stands. A harvest that keeps unlabelled works keeps one copy of a
conflicted image (its first id) unlabelled, its reason naming the mediums recorded, for a
curator to give it the one it is.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from mediumnet.data.labelling import conflict_reason
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


def deduplicate(rows: list[dict[str, Any]], max_distance: int, *, keep_conflicts: bool = False,
                kept_before: Collection[str] = ()
                ) -> tuple[list[dict[str, Any]], list[tuple[dict[str, Any], str]]]:
    """Merge duplicate and near-duplicate works (rows sorted by id first).

    Parameters
    ----------
    rows : list of dict
        Manifest rows (``id``, ``label``, ``label_reason``, ``sha256``, ``phash``).
    max_distance : int
        The largest Hamming distance of two perceptual hashes of one image.
    keep_conflicts : bool
        Keep the first copy of an image recorded under two mediums, unlabelled, instead of
        dropping every copy (a harvest with ``--keep-unlabelled``).
    kept_before : collection of str
        Ids of conflicted images an earlier harvest kept unlabelled: kept so again, as a
        harvest keeps the unlabelled works an earlier one kept.

    Returns
    -------
    kept : list of dict
        One row per distinct image.
    dropped : list of (row, reason)
        Reasons ``duplicate``, ``near_duplicate`` or ``label_conflict``.
    """
    from mediumnet.data.labelling import given_by_curator

    rows = sorted(rows, key=lambda r: r["id"])
    kept, dropped = [], []
    for members in _groups(rows, max_distance):
        labels = {rows[i]["label"] for i in members} - {UNLABELLED}
        curated = ([i for i in members if given_by_curator(rows[i].get("label_reason"))]
                   if len(labels) > 1 else [])   # asked of conflicts only
        if len(labels) > 1 and len({rows[i]["label"] for i in curated}) == 1:
            first = curated[0]                 # a curator's medium settles the conflict
        elif len(labels) > 1 and (keep_conflicts or any(rows[i]["id"] in kept_before
                                                        for i in members)):
            first = next((i for i in members if rows[i]["id"] in kept_before), members[0])
            rows[first] = {**rows[first], "label": UNLABELLED,
                           "label_reason": conflict_reason([rows[i] for i in members])}
        elif len(labels) > 1:
            dropped += [(rows[i], "label_conflict") for i in members]
            continue
        else:  # a labelled copy stands for the work; unlabelled copies are its duplicates
            first = next((i for i in members if rows[i]["label"] != UNLABELLED), members[0])
        head = rows[first]
        kept.append(head)
        for i in members:
            if i != first and head["label"] == UNLABELLED and rows[i]["label"] != UNLABELLED:
                dropped.append((rows[i], "label_conflict"))
            elif i != first:
                same = rows[i]["sha256"] == head["sha256"]
                dropped.append((rows[i], "duplicate" if same else "near_duplicate"))
    kept.sort(key=lambda r: r["id"])
    return kept, dropped


def _groups(rows: list[dict[str, Any]], max_distance: int) -> list[list[int]]:
    """Return the indices of ``rows`` grouped by image (equal bytes or close hashes)."""
    roots = _clusters([r["sha256"] for r in rows], [r["phash"] for r in rows], max_distance)
    groups: dict[int, list[int]] = {}
    for i, root in enumerate(roots):
        groups.setdefault(root, []).append(i)
    return list(groups.values())


def conflicts(dropped: list[tuple[dict[str, Any], str]], max_distance: int
              ) -> list[list[dict[str, Any]]]:
    """Group the ``label_conflict`` drops by image: the copies a curator has to look at."""
    rows = sorted((row for row, reason in dropped if reason == "label_conflict"),
                  key=lambda r: r["id"])
    return [[rows[i] for i in members] for members in _groups(rows, max_distance)]
