"""Train/validation/test splits that do not leak, cannot silently fail, and stay put.

A model that has seen an artist's other works in training recognises the hand, not the
medium, so every artist's works stay in one split; works whose artist is unknown are each a
group of their own. Within that constraint the splits keep each medium's share close to the
asked fractions.

Rules, in order:

1. **Stable.** Works that already have a split keep it (their artist's group goes with them);
   only groups with no split yet are assigned, so a data set that grows keeps its test set.
   ``reshuffle=True`` assigns everything anew.
2. **Enough groups.** A medium needs works by at least ``min_groups`` artist groups (3 by
   default: one each for train, validation and test); with fewer, :func:`splits` refuses
   before anything is written.
3. **Proportions, by many artists.** The new groups are taken largest first (ties in a
   seeded random order), each to the split whose per-medium counts it brings closest to their
   targets (the smallest growth of the squared, target-scaled distance). A group that alone
   would be more than half of a medium's validation or test target (a target of
   ``2 * MIN_VAL_WORKS`` works or more) goes to train instead, so that the figures measured
   there are not one artist's: on peopleart-mediums, the proportions alone put Hokusai's 47
   prints among the test's 53 engravings; they train now, and the test's engravings are by
   5 artists. :func:`kept_in_train` names such artists for the curator.
4. **Every medium in every split.** Each medium with three or more groups then has at least
   one group in validation and one in test: where the proportions left one out, the smallest
   single-medium group of that medium moves there from the split holding most of its groups.
5. **A model's answers train, they are never measured against.** A work whose label is a
   model's answer (``mediumnet label --column suggested_label``: its reason says so) goes to
   train with its artist's group, or to train alone when no other work of its artist is
   labelled; where its artist's works are in validation or test, it stays outside every
   split. Validation (which chooses the champion and classify's threshold) and test then
   hold only labels that did not come from a model, so no model is scored on its own answers.

The mediums of a data set are the ones it holds (:func:`present_mediums`): two or more of the
five; a set without photographs is split, trained and scored over the other mediums only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mediumnet.data.manifest import has_medium, labelled
from mediumnet.errors import DatasetError
from mediumnet.labels import MEDIUMS

if TYPE_CHECKING:
    import pandas as pd

SPLIT_NAMES = ("train", "val", "test")
MIN_GROUPS = 3
"""Artist groups a medium needs by default: one each for train, validation and test."""
MIN_VAL_WORKS = 5
"""Below this many validation works of a medium, :func:`split_warnings` says so."""
DOMINANT_SHARE = 0.5
"""Above this share of a medium's validation or test works by one artist,
:func:`split_warnings` says that the split's figure for the medium mostly measures that
artist (said only where the split holds at least ``2 * MIN_VAL_WORKS`` works of the medium:
below that, the thin-split warning already applies)."""


def artist_groups(manifest: pd.DataFrame) -> pd.Series:
    """Return the group of every work: its normalised artist, or its own id when unknown."""
    artist = manifest["artist"].fillna("").astype(str).str.strip().str.casefold()
    unknown = artist.isin(["", "unknown", "anonymous", "unidentified artist", "artist unknown"])
    return artist.where(~unknown, "\x00id:" + manifest["id"].astype(str))


def present_mediums(labels) -> tuple[str, ...]:
    """Return the mediums that occur in ``labels``, in the order of :data:`MEDIUMS`."""
    seen = set(labels)
    return tuple(m for m in MEDIUMS if m in seen)


def _existing_split(frame: pd.DataFrame, groups: pd.Series) -> dict[str, str]:
    """Return the split each already-split group keeps: the one most of its works are in."""
    done = frame["split"].isin(SPLIT_NAMES)
    if not done.any():
        return {}
    counts = frame[done].groupby(groups[done])["split"].agg(lambda s: s.value_counts().index[0])
    return counts.to_dict()


def _check_groups(counts: pd.DataFrame, min_groups: int) -> None:
    """Refuse mediums with works by fewer than ``min_groups`` artist groups."""
    n_groups = (counts > 0).sum(axis=0)
    thin = [f"{m} ({int(n_groups[m])})" for m in counts.columns if n_groups[m] < min_groups]
    if thin:
        raise DatasetError(
            f"too few artists (groups) for a fair split of {', '.join(thin)}: each medium "
            f"needs works by at least {min_groups} artists (one each for train, val and "
            "test); add works by other artists, or lower --min-groups (the medium then lacks "
            "a val or test work), or leave the medium out")


def splits(manifest: pd.DataFrame, val: float = 0.15, test: float = 0.15,
           seed: int = 0, *, min_groups: int = MIN_GROUPS,
           reshuffle: bool = False) -> pd.DataFrame:
    """Assign every work to ``train``, ``val`` or ``test``; return the manifest with ``split``.

    Parameters
    ----------
    manifest : pandas.DataFrame
        Rows with at least ``id``, ``label`` and ``artist`` (and ``split`` when some works
        are split already).
    val, test : float
        Shares of works for validation and test (per medium, approximately: whole artists
        move between splits).
    seed : int
        Seed of the tie-breaking order; the same inputs give the same splits.
    min_groups : int
        Artist groups each medium needs (default 3).
    reshuffle : bool
        Assign every work anew instead of keeping the splits works already have.

    Returns
    -------
    pandas.DataFrame
        A copy of ``manifest`` with the ``split`` column filled.

    Raises
    ------
    DatasetError
        If the fractions are out of range, the manifest is empty, or a medium has works by
        fewer than ``min_groups`` artist groups.
    """
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise DatasetError(f"val={val}, test={test}: each must be in [0, 1) and their sum "
                           "below 1, so that something is left to train on")
    if min_groups < 1:
        raise DatasetError(f"--min-groups {min_groups}: give 1 or more")
    if len(manifest) == 0:
        raise DatasetError("the manifest has no works to split: build the data set first")
    everything = manifest.copy()
    if "split" not in everything or reshuffle:
        everything["split"] = ""
    everything["split"] = everything["split"].fillna("").astype(str)
    known = has_medium(everything)
    if not known.any():
        raise DatasetError("the manifest has only unlabelled works: nothing to split; label "
                           "some (mediumnet suggest, then mediumnet label) first")
    everything.loc[~known, "split"] = ""  # unlabelled works stay outside every split
    answered = known & model_answers(everything)
    everything.loc[answered & (everything["split"] != "train"), "split"] = ""  # rule 5
    measured = known & ~answered
    if not measured.any():
        raise DatasetError("every labelled work's medium is a model's answer: nothing to "
                           "measure a model against; label some works yourself (mediumnet "
                           "suggest, then mediumnet label) first")
    frame = everything[measured].copy()
    groups = artist_groups(frame)
    counts = _group_counts(frame, groups)
    _check_groups(counts, min_groups)
    matrix = counts.to_numpy().astype(float)
    names = _PLACING_ORDER
    target = _targets(matrix, val, test)
    scale = np.maximum(target, 1.0)
    assigned = np.zeros_like(target)
    assignment: dict[str, str] = {}
    for group, split in _existing_split(everything[known], artist_groups(everything[known])
                                        ).items():
        assignment[group] = split       # a group of a model's answers alone: train
        if group in counts.index:
            assigned[names.index(split)] += matrix[counts.index.get_loc(group)]

    rng = np.random.default_rng(seed)
    tiebreak = rng.permutation(len(counts))
    free = [i for i in range(len(counts)) if counts.index[i] not in assignment]

    # Rule 3: the new groups, largest first, where they bring the counts closest to targets.
    sizes = matrix.sum(axis=1)
    too_big = _too_big_to_measure(matrix, target).any(axis=2)  # group x split
    placed: dict[int, int] = {}
    for index in sorted(free, key=lambda i: (-sizes[i], tiebreak[i])):
        g = matrix[index]
        growth = (((assigned + g - target) ** 2 - (assigned - target) ** 2) / scale).sum(axis=1)
        growth[too_big[index]] = np.inf  # train takes it
        best = int(np.argmin(growth))
        assigned[best] += g
        placed[index] = best
    # Rule 4: a medium of three or more groups left without val or test works gets one of
    # its newly placed groups moved there, the smallest single-medium one from the split
    # that has most groups of it (train first on a tie).
    _every_medium_everywhere(matrix, placed, assigned, tiebreak,
                             {names.index("val"): val, names.index("test"): test})
    for index, split in placed.items():
        assignment[counts.index[index]] = names[split]
    everything.loc[measured, "split"] = groups.map(assignment).astype(str)
    # Rule 5: a model's answer trains with its artist's group, or alone; never val or test.
    theirs = artist_groups(everything[answered]).map(assignment).fillna("train")
    everything.loc[answered, "split"] = theirs.where(theirs == "train", "")
    return everything


_PLACING_ORDER = ("test", "val", "train")
"""The rows of the target matrix; on a tie the evaluation splits come first."""


def _group_counts(frame: pd.DataFrame, groups: pd.Series) -> pd.DataFrame:
    """Works per artist group (rows) and medium (columns), for the mediums ``frame`` holds."""
    mediums = present_mediums(frame["label"])
    return (frame.groupby(groups)["label"].value_counts().unstack(fill_value=0)
            .reindex(columns=list(mediums), fill_value=0))


def _targets(matrix: np.ndarray, val: float, test: float) -> np.ndarray:
    """Return the works each split should hold per medium, in :data:`_PLACING_ORDER`."""
    totals = matrix.sum(axis=0)
    return np.stack([totals * test, totals * val, totals * (1 - val - test)])


def kept_in_train(manifest: pd.DataFrame, val: float = 0.15, test: float = 0.15) -> list[str]:
    """Name the artists in train who alone would be most of a medium's validation or test works.

    Rule 3 of :func:`splits` keeps such artists in train, so a curator whose most prolific
    artists never appear in validation or test learns why. The targets are recomputed from the
    split manifest and the fractions it was split with.

    Parameters
    ----------
    manifest : pandas.DataFrame
        A manifest split by :func:`splits` (``id``, ``label``, ``artist``, ``split``).
    val, test : float
        The fractions it was split with.

    Returns
    -------
    list of str
        One entry per artist, largest first, such as ``"ohara-koson (114 engraving)"``.
    """
    measured = has_medium(manifest) & ~model_answers(manifest)
    frame = manifest[measured]
    if frame.empty:
        return []
    groups = artist_groups(frame)
    counts = _group_counts(frame, groups)
    matrix = counts.to_numpy().astype(float)
    target = _targets(matrix, val, test)
    too_big = _too_big_to_measure(matrix, target).any(axis=1)  # group x medium
    in_train = frame["split"].eq("train").groupby(groups).any().reindex(counts.index)
    names = frame.groupby(groups)["artist"].first()
    out = []
    for i in np.argsort(-matrix.sum(axis=1), kind="stable"):
        if too_big[i].any() and in_train.iloc[i]:
            works = ", ".join(f"{int(matrix[i, m])} {counts.columns[m]}"
                              for m in np.flatnonzero(too_big[i]))
            out.append(f"{names[counts.index[i]]} ({works})")
    return out


def _too_big_to_measure(matrix: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Return, per group, split and medium, whether the group would hold most of those works.

    A group is kept out of validation or test (rule 3) where its works of some medium are more
    than :data:`DOMINANT_SHARE` of that split's target for the medium, and the target is large
    enough for :func:`split_warnings` to judge (``2 * MIN_VAL_WORKS`` works or more). Train
    (the last row of ``target``) is never barred.
    """
    judged = target >= 2 * MIN_VAL_WORKS
    barred = (matrix[:, None, :] > DOMINANT_SHARE * target[None, :, :]) & judged[None, :, :]
    barred[:, -1, :] = False
    return barred


def model_answers(manifest: pd.DataFrame) -> pd.Series:
    """Return, per row, whether the work's label is a model's answer (rule 5 of the splits)."""
    from mediumnet.data.labelling import given_by_model

    if "label_reason" not in manifest:
        return manifest["label"].map(lambda _: False).astype(bool)
    return manifest["label_reason"].map(given_by_model).astype(bool) & has_medium(manifest)


def _every_medium_everywhere(matrix: np.ndarray, placed: dict[int, int], assigned: np.ndarray,
                             tiebreak: np.ndarray, wanted: dict[int, float]) -> None:
    """Move newly placed groups so that each medium of 3+ groups has val and test works."""
    train = assigned.shape[0] - 1  # splits are ordered test, val, train
    n_groups = (matrix > 0).sum(axis=0)
    mediums_in = (matrix > 0).sum(axis=1)
    for m in np.argsort(n_groups, kind="stable"):
        if n_groups[m] < 3:
            continue
        for split, share in wanted.items():
            if share == 0 or assigned[split, m] > 0:
                continue
            per_split = np.bincount([s for i, s in placed.items() if matrix[i, m] > 0],
                                    minlength=assigned.shape[0])
            movable = [i for i, s in placed.items()
                       if matrix[i, m] > 0 and s != split and per_split[s] >= 2]
            if not movable:
                continue
            best = min(movable, key=lambda i: (-per_split[placed[i]], placed[i] != train,
                                               mediums_in[i], matrix[i].sum(), tiebreak[i]))
            assigned[placed[best]] -= matrix[best]
            assigned[split] += matrix[best]
            placed[best] = split


@dataclass
class SplitSummary:
    """What a split did, for the user and the tracked run."""

    table: pd.DataFrame
    """Works per medium (rows) and split (columns)."""
    moved: int
    """Works whose split changed (0 unless reshuffled or an artist's works were mixed)."""
    newly_assigned: int
    """Works that had no split before."""
    warnings: list[str] = field(default_factory=list)
    answers_in_train: int = 0
    """Works whose label is a model's answer, in train (rule 5)."""
    answers_outside: int = 0
    """Works whose label is a model's answer, outside every split: their artists' works are
    in validation or test (rule 5)."""
    kept_in_train: list[str] = field(default_factory=list)
    """Artists in train who alone would be most of a medium's val or test works (rule 3),
    largest first, as :func:`kept_in_train` names them."""

    KEPT_SHOWN = 5
    """Artists :meth:`kept_text` names before it says how many more there are."""

    def kept_text(self) -> str:
        """Say which artists train because they are too big to measure, or nothing."""
        if not self.kept_in_train:
            return ""
        shown = ", ".join(self.kept_in_train[:self.KEPT_SHOWN])
        more = len(self.kept_in_train) - self.KEPT_SHOWN
        return (f"kept in train, since alone each would be most of a medium's val or test "
                f"works and its figures would measure one artist: {shown}"
                f"{f' and {more} more' if more > 0 else ''}")

    def answers_text(self) -> str:
        """Say where the model's answers went, or nothing when there are none."""
        if not self.answers_in_train + self.answers_outside:
            return ""
        return (f"a model's answers (mediumnet label --column suggested_label) train and are "
                f"never measured against: {self.answers_in_train} in train, "
                f"{self.answers_outside} outside every split (their artists' works are in val "
                "or test)")


def split_table(manifest: pd.DataFrame) -> pd.DataFrame:
    """Works per medium (rows) and split (columns), for the mediums the data set holds."""
    mediums = present_mediums(manifest["label"]) or MEDIUMS
    manifest = labelled(manifest)
    return (manifest.groupby(["label", "split"]).size().unstack(fill_value=0)
            .reindex(index=list(mediums), columns=list(SPLIT_NAMES), fill_value=0))


def split_warnings(manifest: pd.DataFrame) -> list[str]:
    """Say, one line each, where a split is too thin to measure a medium well."""
    table = split_table(manifest)
    out = []
    for split in ("val", "test"):
        missing = [m for m in table.index if table.loc[m, split] == 0]
        if missing:
            out.append(f"no {split} works of {', '.join(missing)}: "
                       f"{'stacking and early stopping' if split == 'val' else 'the test table'}"
                       f" cannot measure {'it' if len(missing) == 1 else 'them'}; add works "
                       "by other artists")
    thin = [f"{m} ({int(table.loc[m, 'val'])})" for m in table.index
            if 0 < table.loc[m, "val"] < MIN_VAL_WORKS]
    if thin:
        out.append(f"fewer than {MIN_VAL_WORKS} validation works of {', '.join(thin)}: "
                   "validation scores of so few works are noisy; add works, or raise --val")
    return out + _dominant_artists(manifest)


def _dominant_artists(manifest: pd.DataFrame) -> list[str]:
    """Say where one artist holds most of a medium's validation or test works."""
    out = []
    frame = manifest.assign(group=artist_groups(manifest))
    for split in ("val", "test"):
        for medium, works in frame[frame["split"] == split].groupby("label"):
            if len(works) < 2 * MIN_VAL_WORKS:
                continue
            counts = works["group"].value_counts()
            if counts.iloc[0] / len(works) <= DOMINANT_SHARE:
                continue
            artist = works.loc[works["group"] == counts.index[0], "artist"].iloc[0]
            out.append(f"{split}: {counts.iloc[0]} of the {len(works)} {medium} works are by "
                       f"{artist} ({counts.iloc[0] / len(works):.0%}): the {split} figures "
                       f"for {medium} mostly measure one artist's works; add works by other "
                       "artists for a broader measure")
    return out


def summarize_split(before: pd.DataFrame, after: pd.DataFrame, *, val: float = 0.15,
                    test: float = 0.15) -> SplitSummary:
    """Compare a manifest before and after :func:`splits` (with fractions ``val``, ``test``)."""
    old = before.set_index("id")["split"].fillna("").astype(str) if "split" in before \
        else None
    new = after.set_index("id")["split"]
    if old is None:
        moved, fresh = 0, len(new)
    else:
        old = old.reindex(new.index).fillna("")
        moved = int(((old != "") & (old != new)).sum())
        fresh = int(((old == "") & (new != "")).sum())  # unlabelled works stay unassigned
    answers = after[model_answers(after)]
    return SplitSummary(split_table(after), moved, fresh, split_warnings(after),
                        answers_in_train=int((answers["split"] == "train").sum()),
                        answers_outside=int((answers["split"] != "train").sum()),
                        kept_in_train=kept_in_train(after, val, test))


def require_split(manifest: pd.DataFrame, split: str, dataset_dir: object = "DATASET_DIR"
                  ) -> pd.DataFrame:
    """Return the works of ``split``, or say in one line what the split actually left.

    Raises
    ------
    DatasetError
        If the manifest was never split, or the split left ``split`` empty.
    """
    column = manifest["split"].fillna("")
    works = manifest[column == split]
    if len(works):
        return works
    if not column.isin(SPLIT_NAMES).any():
        raise DatasetError(f"the manifest of {dataset_dir} is not split yet: run mediumnet "
                           f"split {dataset_dir}")
    counts = ", ".join(f"{s} {int((column == s).sum())}" for s in SPLIT_NAMES)
    raise DatasetError(f"the split of {dataset_dir} left no works in {split!r} ({counts}): run "
                       f"mediumnet split {dataset_dir} --reshuffle with a larger --{split}, "
                       "or add works by more artists")
