"""What a harvest leaves behind: the deduplicated manifest, its counts and the summary file."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediumnet.config import HarvestConfig
from mediumnet.data.labelling import conflict_copies, conflict_reason, named_copies
from mediumnet.data.manifest import HARVEST_SUMMARY_NAME
from mediumnet.harvest.dedupe import conflicts, deduplicate
from mediumnet.harvest.gone import moved_splits
from mediumnet.harvest.store import NO_MEDIUM_REASONS, HarvestStore, write_json_atomic
from mediumnet.labels import MEDIUMS, UNLABELLED

if TYPE_CHECKING:
    import pandas as pd

@dataclass
class HarvestResult:
    """What a harvest did, for the summary line and the MLflow run."""

    source: str
    dataset_dir: Path
    seen: int = 0
    kept_by_medium: dict[str, int] = field(default_factory=dict)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    failed_examples: dict[str, str] = field(default_factory=dict)
    """For each failure reason, its first work (in id order): ``"id: what went wrong"``."""
    unmapped_by_reason: dict[str, int] = field(default_factory=dict)
    unlabelled: int = 0
    """Works of this source kept without a medium (``--keep-unlabelled``)."""
    duplicates: int = 0
    complete: bool = False
    retries: int = 0
    seconds: float = 0.0
    manifest_rows: int = 0
    digest: str = ""
    run_location: str = ""
    added: int = 0
    """Works of this source that this run added to the manifest (negative: it holds fewer)."""
    notes: list[str] = field(default_factory=list)
    """What the run did with its arguments beyond the obvious (one line each)."""
    label_conflicts: list[str] = field(default_factory=list)
    """Each image the data set holds, or this run left out, under two mediums: every copy's
    medium and id (``"painting (met:1), drawing (folder:a.jpg)"``)."""

    @property
    def kept(self) -> int:
        """Works of this source in the manifest (the unlabelled ones included)."""
        return sum(self.kept_by_medium.values()) + self.unlabelled

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {"source": self.source, "records_seen": self.seen, "kept": self.kept,
                "kept_by_medium": self.kept_by_medium, "unlabelled": self.unlabelled,
                "dropped_by_reason": self.dropped_by_reason,
                "failed_by_reason": self.failed_by_reason,
                "failed_examples": self.failed_examples,
                "unmapped_by_reason": self.unmapped_by_reason,
                "duplicates_dropped": self.duplicates, "listing_complete": self.complete,
                "retries": self.retries, "seconds": round(self.seconds, 3),
                "manifest_rows": self.manifest_rows, "manifest_digest": self.digest,
                "added": self.added, "notes": self.notes,
                "label_conflicts": self.label_conflicts}

    def text(self) -> str:
        """Return a short human summary, one fact per line."""
        change = f"{self.added} new" if self.added >= 0 else f"{-self.added} fewer"
        lines = [f"{self.source}: {self.seen} records examined, {self.kept} kept ({change})"
                 f"{'' if self.complete else ' (listing not finished: run again to go on)'}"]
        lines += [f"  note:    {note}" for note in self.notes]
        lines.append("  kept:    " + ", ".join(f"{m} {self.kept_by_medium.get(m, 0)}"
                                               for m in MEDIUMS)
                     + (f"; unlabelled {self.unlabelled} (outside every split; mediumnet "
                        "classify suggests their medium)" if self.unlabelled else ""))
        if self.dropped_by_reason:
            lines.append("  dropped: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.dropped_by_reason.items())))
        if self.failed_by_reason:
            lines.append("  failed:  " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.failed_by_reason.items()))
                + " (tried again on the next run)")
            lines += [f"           {reason}, e.g. {example}"
                      for reason, example in sorted(self.failed_examples.items())]
        return "\n".join(lines)

    def nothing_kept_text(self) -> str:
        """Say why the harvest left the manifest empty, and what to do: its one error line."""
        why = [f"{kind} {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}"
               for kind, counts in (("failed:", self.failed_by_reason),
                                    ("dropped:", self.dropped_by_reason)) if counts]
        text = (f"nothing harvested into {self.dataset_dir}: {self.seen} "
                f"record{'' if self.seen == 1 else 's'} examined, none kept "
                f"({'; '.join(why) if why else 'the source listed none'})")
        if self.failed_by_reason:
            text += ("; put right what the lines above name and run again (failed records "
                     "are tried again)")
        if set(NO_MEDIUM_REASONS) & set(self.dropped_by_reason):
            text += ("; --keep-unlabelled keeps the works whose record names no medium that "
                     "maps")
        return text


FLAT_PHASH = "0" * 16
"""The perceptual hash of a flat image. Before the hash was taken on the branches' pixels,
every 16-bit greyscale scan got it too (its levels clipped to white)."""


def _rehash_flat(root: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Take the hash of every work stored with the flat one again, from its stored image.

    A data set harvested before 16-bit scans were hashed on their scaled levels held them all
    as one image (near-duplicates, or a label conflict); its next harvest keeps them apart.
    A truly flat image hashes flat again.
    """
    from mediumnet.harvest.verify import BadImageError, verify_image

    fresh = []
    for row in rows:
        # A stored image gone or unreadable keeps its stored hash.
        with contextlib.suppress(OSError, BadImageError):
            if row.get("phash") == FLAT_PHASH:
                image = (root / row["image_path"]).read_bytes()
                row = {**row, "phash": verify_image(image).phash}
        fresh.append(row)
    return fresh


def build_manifest(root: Path, store: HarvestStore, settings: HarvestConfig
                   ) -> tuple[Any, list[tuple[dict[str, Any], str]], CuratorsLabels]:
    """Replace this source's rows in the manifest by its deduplicated kept works.

    Other sources' rows stay, except that a work of theirs with the very same image bytes as a
    kept work of this source under another label is dropped with it (``label_conflict``). The
    mediums a labels merge gave this source's works stay (:func:`_curators_labels`).
    """
    import pandas as pd

    from mediumnet.data.manifest import (
        empty_manifest,
        manifest_frame,
        manifest_path,
        read_manifest,
        write_manifest,
    )

    old = read_manifest(root) if manifest_path(root).exists() else empty_manifest()
    candidates = _rehash_flat(root, [o["row"] for o in store.outcomes.values()
                                     if o["status"] == "kept"])
    mine_before = old[old["source"] == store.source]
    candidates, curated = _curators_labels(candidates, mine_before, store)
    keep = settings.keep_unlabelled
    kept, dropped = deduplicate(candidates, settings.phash_distance, keep_conflicts=keep,
                                kept_before=set(mine_before.loc[_unsettled(mine_before), "id"]))
    others = old[old["source"] != store.source]
    if len(others) and kept:
        kept, others, crossed = _across_sources(kept, others, keep_conflicts=keep)
        dropped += crossed
    split_by_id = old.set_index("id")["split"].to_dict()
    moved = moved_splits(store, split_by_id)
    for row in kept:   # an image kept unlabelled (a label conflict) leaves its split
        split = split_by_id.get(row["id"]) or moved.get(row["id"], "")
        row["split"] = split if row["label"] != UNLABELLED else ""
    mine = manifest_frame(kept) if kept else empty_manifest()
    frame = pd.concat([others, mine], ignore_index=True).sort_values("id", kind="stable")
    write_manifest(root, frame.reset_index(drop=True))
    return frame, dropped, curated


@dataclass
class CuratorsLabels:
    """The labels a labels merge gave that a harvest of the same source kept."""

    kept: int = 0
    """Works whose medium a curator gave (or accepted), kept over the source's record."""
    disagreeing: int = 0
    """Of those, works whose record now names another medium."""
    revived: set[str] = field(default_factory=set)
    """Works the source now leaves without a medium (dropped without --keep-unlabelled)
    that stay, with the curator's medium."""


def _curators_labels(candidates: list[dict[str, Any]], old_mine: pd.DataFrame,
                     store: HarvestStore) -> tuple[list[dict[str, Any]], CuratorsLabels]:
    """Keep the mediums ``mediumnet label`` gave this source's works over the records'.

    A curator's medium (or a model's answer a curator accepted) was given because the record
    named none, or a wrong one: a harvest of the same source again must not undo it. The
    kept works take the label and reason of the manifest; a work the source now drops for
    naming no medium (``unmapped``, ``unknown_label``: a harvest without --keep-unlabelled)
    stays as the manifest has it. Its image is still in the store.
    """
    from mediumnet.data.labelling import given_by_curator

    curated = CuratorsLabels()
    given = old_mine[old_mine["label_reason"].map(given_by_curator).astype(bool)
                     ].set_index("id")
    if given.empty:
        return candidates, curated
    rows = []
    for row in candidates:
        if row["id"] in given.index:
            label = given.at[row["id"], "label"]
            curated.kept += 1
            curated.disagreeing += int(row["label"] not in (UNLABELLED, label))
            row = {**row, "label": label, "label_reason": given.at[row["id"], "label_reason"]}
        rows.append(row)
    for work_id, outcome in store.outcomes.items():
        if (work_id in given.index and outcome["status"] == "dropped"
                and outcome["reason"] in NO_MEDIUM_REASONS):
            rows.append(given.loc[work_id].to_dict() | {"id": work_id})
            curated.kept += 1
            curated.revived.add(work_id)
    return rows, curated


def _unsettled(frame: pd.DataFrame) -> pd.Series:
    """Return, per row, whether it is an image under two mediums kept unlabelled."""
    return frame["label_reason"].map(conflict_copies).ne("")


def _across_sources(kept: list[dict[str, Any]], others: pd.DataFrame, *,
                    keep_conflicts: bool = False
                    ) -> tuple[list[dict[str, Any]], pd.DataFrame, list[tuple[dict, str]]]:
    """Settle the works this source shares (same image bytes) with the data set's others.

    The same label: this source's copy is a ``duplicate``. Different labels: both go
    (``label_conflict``, each labelled copy counted). An unlabelled copy never conflicts: when
    this source labels a work another source kept unlabelled, that row takes the label (its
    record, title and medium text are kept) and this copy is a ``duplicate``; this source's
    unlabelled copy of a work kept before is a ``duplicate`` too. A medium a curator gave
    (``mediumnet label``) settles it: another source's copy of a curated work is a
    ``duplicate``, and a curated work of this source replaces the other sources' copies. With
    ``keep_conflicts`` the other sources' copies of a conflicted image stay, unlabelled, their
    reason naming every copy's medium (a copy already kept so is not labelled by this
    source's).
    """
    from mediumnet.data.labelling import given_by_curator

    others = others.copy()
    labels_by_sha = others.groupby("sha256")["label"].agg(set).to_dict()
    curated = set(others.loc[others["label_reason"].map(given_by_curator).astype(bool),
                             "sha256"])
    unsettled = set(others.loc[_unsettled(others), "sha256"])
    dropped: list[tuple[dict, str]] = []
    conflicting: set[str] = set()
    stay = []
    for row in kept:
        theirs = labels_by_sha.get(row["sha256"])
        if theirs is None:
            stay.append(row)
            continue
        if row["sha256"] in curated:           # a curator's medium for this image stands
            dropped.append((row, "duplicate"))
            continue
        if given_by_curator(row["label_reason"]):
            conflicting.add(row["sha256"])     # the other sources' copies go, this one stays
            stay.append(row)
            continue
        known = theirs - {UNLABELLED}
        if row["label"] != UNLABELLED and row["sha256"] in unsettled:
            dropped.append((row, "label_conflict"))
            continue
        if row["label"] != UNLABELLED and not known:
            taken = others["sha256"] == row["sha256"]
            others.loc[taken, "label"] = row["label"]
            others.loc[taken, "label_reason"] = f"{row['label_reason']} (from {row['id']})"
        elif row["label"] != UNLABELLED and known != {row["label"]}:
            dropped.append((row, "label_conflict"))
            taken = others["sha256"] == row["sha256"]
            if not keep_conflicts:   # the other sources' copies go too, and are counted
                conflicting.add(row["sha256"])
                dropped += [(copy, "label_conflict") for copy in others[taken].to_dict("records")
                            if copy["label"] != UNLABELLED]
                continue
            copies = others[taken].to_dict("records") + [row]
            others.loc[taken, ["label", "split"]] = UNLABELLED, ""
            others.loc[taken, "label_reason"] = conflict_reason(copies)
            continue
        dropped.append((row, "duplicate"))
    return stay, others[~others["sha256"].isin(conflicting)], dropped


def _finish(store: HarvestStore, settings: HarvestConfig, *, complete: bool, retries: int,
            started: float, kept_before: int = 0, notes: Sequence[str] = ()) -> HarvestResult:
    """Write the manifest and the summary of a harvest or re-parse.

    ``kept_before``: the source's works in the manifest before (what ``added`` counts from);
    ``notes``: the run's own notes, put before those the manifest's build adds.
    """
    from mediumnet.data.manifest import manifest_digest

    root = store.root
    frame, dup_dropped, curated = build_manifest(root, store, settings)
    result = HarvestResult(source=store.source, dataset_dir=root, complete=complete,
                           retries=retries)
    outcomes = list(store.outcomes.values())
    result.seen = len(outcomes)
    result.dropped_by_reason = dict(
        Counter(o["reason"] for o in outcomes if o["status"] == "dropped"
                and o["id"] not in curated.revived)
        + Counter(reason for _, reason in dup_dropped))
    failed = sorted((o for o in outcomes if o["status"] == "failed"), key=lambda o: o["id"])
    result.failed_by_reason = dict(Counter(o["reason"] for o in failed))
    for outcome in failed:
        result.failed_examples.setdefault(outcome["reason"],
                                          f"{outcome['id']}: {outcome['detail']}")
    result.unmapped_by_reason = dict(Counter(o["detail"] for o in outcomes
                                             if o["reason"] == "unmapped"))
    result.duplicates = len(dup_dropped)
    mine = frame[frame["source"] == store.source]
    result.kept_by_medium = {m: int((mine["label"] == m).sum()) for m in MEDIUMS}
    result.unlabelled = int((mine["label"] == UNLABELLED).sum())
    result.manifest_rows = len(frame)
    result.digest = manifest_digest(frame)
    result.seconds = time.perf_counter() - started
    result.added = result.kept - kept_before
    result.notes = list(notes)
    if curated.kept:
        result.notes.append(
            f"{curated.kept} work{'' if curated.kept == 1 else 's'} keep the medium a curator "
            "gave (mediumnet label) over the record"
            + (f"; the record now names another medium for {curated.disagreeing} (see "
               "medium_text)" if curated.disagreeing else "")
            + (f"; {len(curated.revived)} kept although their record names no medium and "
               "--keep-unlabelled is off" if curated.revived else ""))
    result.label_conflicts = _conflicted(frame, dup_dropped, settings)
    if result.label_conflicts:
        result.notes.append(_conflicts_note(result.label_conflicts, settings.keep_unlabelled,
                                            store.source))
    waiting = int(((frame["split"] == "") & (frame["label"] != UNLABELLED)).sum())
    if waiting and (frame["split"] != "").any():   # a split data set that grew
        one = waiting == 1
        result.notes.append(f"{waiting} work{'' if one else 's'} {'has' if one else 'have'} "
                            f"no split yet: run mediumnet split {root} to give "
                            f"{'it' if one else 'them'} one (the splits the others have are "
                            f"kept); until then training leaves {'it' if one else 'them'} out")
    write_json_atomic(root / HARVEST_SUMMARY_NAME.format(source=store.source), result.as_dict())
    return result


def _conflicted(frame: pd.DataFrame, dropped: list[tuple[dict[str, Any], str]],
                settings: HarvestConfig) -> list[str]:
    """Name each image under two mediums: those the manifest keeps unlabelled, those dropped.

    Each as its copies' mediums and ids, ``"painting (met:1), drawing (folder:a.jpg)"``.
    """
    kept = [conflict_copies(reason) for reason in frame.loc[_unsettled(frame), "label_reason"]]
    named = " ".join(kept)
    return kept + [named_copies(copies) for copies in conflicts(dropped, settings.phash_distance)
                   if not any(f"({row['id']})" in named for row in copies)]


def _conflicts_note(texts: list[str], kept: bool, source: str) -> str:
    """Say which images are under two mediums and how a curator settles them."""
    more = (f"; {len(texts) - 1} more in {HARVEST_SUMMARY_NAME.format(source=source)}"
            if len(texts) > 1 else "")
    delete = ("; or delete the wrong copies from the folder and harvest again"
              if source == "folder" else "")
    images = f"{len(texts)} image{'' if len(texts) == 1 else 's'} recorded under two mediums"
    if kept:
        return (f"{images} kept unlabelled, one copy each ({texts[0]}{more}): give each the "
                "medium it is with mediumnet label (a sheet of id,label), or take mediumnet "
                f"classify's answer{delete}")
    return (f"{images} left out, every copy ({texts[0]}{more}): harvest again with "
            "--keep-unlabelled to keep one copy of each, unlabelled, then give it the medium "
            f"it is with mediumnet label{delete}")
