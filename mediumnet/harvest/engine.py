"""The harvest engine: judge every record, fetch and verify images, dedupe, write the manifest.

Order of judgement for one record (the first that applies decides):

1. the source dropped it (``not_public_domain``, ``no_image``, ``not_found``, …);
2. no medium (``unmapped``: the category or text names none of the five; the detailed reason
   from :func:`mediumnet.labels.map_record` is kept too);
3. three-dimensional (``three_dimensional``: depth above ``harvest.max_depth_ratio`` of the
   larger side);
4. the image cannot be had (``too_large``, ``download_http_404``, ``download_error``) or is not
   a complete image (``empty``, ``not_an_image``, ``truncated``, ``corrupt``): *failed*, tried
   again on the next run;
5. kept.

After all records: works whose images are the same bytes or perceptually the same
(``harvest.phash_distance``) are merged: under one label the first id stays and the others are
``duplicate`` / ``near_duplicate``; under different labels all are dropped as
``label_conflict``.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from mediumnet.config import Config, HarvestConfig
from mediumnet.errors import MediumnetError
from mediumnet.harvest.base import Record, Source
from mediumnet.harvest.http import HarvestHttpError, HttpClient, RateLimiter, TooLargeError
from mediumnet.harvest.store import HarvestStore, write_json_atomic
from mediumnet.harvest.verify import BadImageError, verify_image
from mediumnet.labels import MEDIUMS, map_record

SUMMARY_NAME = "harvest_summary_{source}.json"
T = TypeVar("T")


@dataclass
class HarvestResult:
    """What a harvest did, for the summary line and the MLflow run."""

    source: str
    dataset_dir: Path
    seen: int = 0
    kept_by_medium: dict[str, int] = field(default_factory=dict)
    dropped_by_reason: dict[str, int] = field(default_factory=dict)
    failed_by_reason: dict[str, int] = field(default_factory=dict)
    unmapped_by_reason: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0
    complete: bool = False
    retries: int = 0
    seconds: float = 0.0
    manifest_rows: int = 0
    digest: str = ""
    run_location: str = ""
    added: int = 0
    """Works of this source that this run added to the manifest."""
    notes: list[str] = field(default_factory=list)
    """What the run did with its arguments beyond the obvious (one line each)."""

    @property
    def kept(self) -> int:
        """Works of this source in the manifest."""
        return sum(self.kept_by_medium.values())

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready summary."""
        return {"source": self.source, "records_seen": self.seen, "kept": self.kept,
                "kept_by_medium": self.kept_by_medium,
                "dropped_by_reason": self.dropped_by_reason,
                "failed_by_reason": self.failed_by_reason,
                "unmapped_by_reason": self.unmapped_by_reason,
                "duplicates_dropped": self.duplicates, "listing_complete": self.complete,
                "retries": self.retries, "seconds": round(self.seconds, 3),
                "manifest_rows": self.manifest_rows, "manifest_digest": self.digest,
                "added": self.added, "notes": self.notes}

    def text(self) -> str:
        """Return a short human summary, one fact per line."""
        lines = [f"{self.source}: {self.seen} records examined, {self.kept} kept "
                 f"({self.added} new)"
                 f"{'' if self.complete else ' (listing not finished: run again to go on)'}"]
        lines += [f"  note:    {note}" for note in self.notes]
        lines.append("  kept:    " + ", ".join(f"{m} {self.kept_by_medium.get(m, 0)}"
                                               for m in MEDIUMS))
        if self.dropped_by_reason:
            lines.append("  dropped: " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.dropped_by_reason.items())))
        if self.failed_by_reason:
            lines.append("  failed:  " + ", ".join(
                f"{k} {v}" for k, v in sorted(self.failed_by_reason.items()))
                + " (tried again on the next run)")
        return "\n".join(lines)


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """Iterate ``items`` one step ahead in a background thread.

    The next listing page (or the next batch of object records) is fetched while the current
    batch's images download, so page boundaries do not stall a rate-limited harvest. An
    exception in the background is raised in the consumer.
    """
    slot: queue.Queue = queue.Queue(maxsize=1)
    finished = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        slot.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            slot.put(finished)
        except BaseException as exc:  # handed to the consumer, raised there
            slot.put(exc)

    thread = threading.Thread(target=produce, name="harvest-listing", daemon=True)
    thread.start()
    try:
        while True:
            item = slot.get()
            if item is finished:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _outcome(record: Record, status: str, reason: str, detail: str = "",
             row: dict[str, Any] | None = None) -> dict[str, Any]:
    outcome = {"id": record.id, "status": status, "reason": reason, "detail": detail,
               "row": row}
    if status == "failed":  # enough to try it again on the next run, with no listing
        outcome["record"] = dataclasses.asdict(record)
    return outcome


def _store_image(root: Path, data: bytes, ext: str, link_from: str | None) -> tuple[str, str]:
    """Store image bytes (or hard-link the local file) under their content address."""
    from mediumnet.data.images import image_relpath, sha256_bytes, store_image_bytes

    if link_from is None:
        return store_image_bytes(root, data, ext)
    digest = sha256_bytes(data)
    relpath = image_relpath(digest, ext)
    target = root / relpath
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(link_from, target)
        except FileExistsError:
            pass
        except OSError as exc:
            raise MediumnetError(f"cannot hard-link {link_from} into {root} ({exc.strerror}): "
                                 "the two must be on one file system; drop --link to copy"
                                 ) from None
    return relpath, digest


def judge(source_name: str, record: Record, settings: HarvestConfig) -> dict[str, Any] | None:
    """Apply the rules that need no image; return the drop outcome, or None to go on.

    On None, ``record.label`` and ``record.label_reason`` are set.
    """
    if record.drop_reason:
        return _outcome(record, "dropped", record.drop_reason)
    if record.label is None:
        medium, reason = map_record(source_name, record.category, record.medium_text)
        if medium is None:
            return _outcome(record, "dropped", "unmapped", reason)
        record.label, record.label_reason = medium, reason
    if record.depth_ratio is not None and record.depth_ratio > settings.max_depth_ratio:
        return _outcome(record, "dropped", "three_dimensional",
                        f"depth is {record.depth_ratio:.2f} of the larger side")
    return None


def _kept(record: Record, image: Mapping[str, Any]) -> dict[str, Any]:
    """Return the kept outcome of ``record`` with its stored image's facts."""
    row = {"id": record.id, "source": record.source, "label": record.label,
           "label_reason": record.label_reason, "title": record.title, "artist": record.artist,
           "date": record.date, "category": record.category, "medium_text": record.medium_text,
           "image_url": record.image_url, "rights": record.rights, "split": "",
           **{k: image[k] for k in IMAGE_FACTS}}
    return _outcome(record, "kept", "kept", row=row)


IMAGE_FACTS = ("image_path", "sha256", "width", "height", "bytes", "phash")


def process_record(source: Source, record: Record, root: Path, settings: HarvestConfig,
                   link: bool = False) -> dict[str, Any]:
    """Judge one record, fetch and store its image; return its outcome (see module doc)."""
    dropped = judge(source.name, record, settings)
    if dropped is not None:
        return dropped
    try:
        source.enrich(record)
        data = source.fetch_image(record)
        verified = verify_image(data)
    except TooLargeError as exc:
        return _outcome(record, "failed", "too_large", str(exc))
    except BadImageError as exc:
        return _outcome(record, "failed", exc.reason, str(exc))
    except HarvestHttpError as exc:
        reason = f"download_http_{exc.status}" if exc.status else "download_error"
        return _outcome(record, "failed", reason, str(exc))
    relpath, digest = _store_image(root, data, verified.ext,
                                   record.local_path if link else None)
    return _kept(record, {"image_path": relpath, "sha256": digest, "width": verified.width,
                          "height": verified.height, "bytes": len(data),
                          "phash": verified.phash})


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
        labels = {rows[i]["label"] for i in members}
        if len(labels) > 1:
            dropped += [(rows[i], "label_conflict") for i in members]
            continue
        head = rows[members[0]]
        kept.append(head)
        for i in members[1:]:
            same = rows[i]["sha256"] == head["sha256"]
            dropped.append((rows[i], "duplicate" if same else "near_duplicate"))
    kept.sort(key=lambda r: r["id"])
    return kept, dropped


def build_manifest(root: Path, store: HarvestStore, settings: HarvestConfig
                   ) -> tuple[Any, list[tuple[dict[str, Any], str]]]:
    """Replace this source's rows in the manifest by its deduplicated kept works.

    Other sources' rows stay, except that a work of theirs with the very same image bytes as a
    kept work of this source under another label is dropped with it (``label_conflict``).
    """
    import pandas as pd

    from mediumnet.data.manifest import (
        empty_manifest,
        manifest_frame,
        manifest_path,
        read_manifest,
        write_manifest,
    )

    candidates = [o["row"] for o in store.outcomes.values() if o["status"] == "kept"]
    kept, dropped = deduplicate(candidates, settings.phash_distance)
    old = read_manifest(root) if manifest_path(root).exists() else empty_manifest()
    others = old[old["source"] != store.source]
    if len(others) and kept:
        labels_by_sha = others.groupby("sha256")["label"].agg(set).to_dict()
        conflicting = {r["sha256"] for r in kept
                       if labels_by_sha.get(r["sha256"], {r["label"]}) != {r["label"]}}
        same = {r["sha256"] for r in kept if r["sha256"] in labels_by_sha} - conflicting
        dropped += [(r, "label_conflict") for r in kept if r["sha256"] in conflicting]
        dropped += [(r, "duplicate") for r in kept if r["sha256"] in same]
        kept = [r for r in kept if r["sha256"] not in conflicting | same]
        others = others[~others["sha256"].isin(conflicting)]
    split_by_id = old.set_index("id")["split"].to_dict()
    for row in kept:
        row["split"] = split_by_id.get(row["id"], "")
    mine = manifest_frame(kept) if kept else empty_manifest()
    frame = pd.concat([others, mine], ignore_index=True).sort_values("id", kind="stable")
    write_manifest(root, frame.reset_index(drop=True))
    return frame, dropped


def harvest(source: Source, dataset_dir: str | os.PathLike[str], settings: HarvestConfig, *,
            limit: int | None = None, link: bool = False, progress: bool = True
            ) -> HarvestResult:
    """Harvest ``source`` into ``dataset_dir``, resuming where an earlier run stopped.

    Parameters
    ----------
    source : Source
        An :class:`~mediumnet.harvest.artsy.ArtsySource`, ``MetSource``, ``ArticSource`` or
        ``FolderSource``.
    dataset_dir : path-like
        The dataset folder (created if needed).
    settings : HarvestConfig
        Rates, retries, size cap, 2-D threshold, near-duplicate distance, workers.
    limit : int, optional
        Stop once this many works of this source are kept (before deduplication).
    link : bool
        Folder source: hard-link instead of copy.
    progress : bool
        Show a progress bar with kept/dropped/failed counts.

    Returns
    -------
    HarvestResult

    Raises
    ------
    MediumnetError
        One line naming the problem: bad credentials, a dead API, an unwritable folder, …
    """
    from tqdm.auto import tqdm

    from mediumnet.data.manifest import ensure_dataset_dir

    started = time.perf_counter()
    root = ensure_dataset_dir(dataset_dir)
    store = HarvestStore(root, source.name)
    kept_before = _kept_in_manifest(root, source.name)
    notes = _plan_listing(source, store, limit)
    client = HttpClient(rate=settings.api_rate or source.api_rate, retries=settings.retries,
                        backoff=settings.backoff, max_backoff=settings.max_backoff,
                        timeout=settings.timeout, retry_statuses=source.retry_statuses,
                        headers=source.extra_headers)
    image_limiter = RateLimiter(settings.image_rate or source.image_rate)
    source.bind(client, store, settings, image_limiter)
    source.open()

    state = store.state
    kept_so_far = store.kept_count()
    counts = Counter(o["status"] for o in store.outcomes.values())
    # disable=None: a bar on a terminal, none in logs; leave=False: an error line stands alone.
    bar = tqdm(desc=f"harvest {source.name}", unit="rec", disable=None if progress else True,
               initial=len(store.outcomes), leave=False)
    complete = False

    def batches():
        # Records that failed on an earlier run (a download error, a broken image) first.
        retry = [Record(**o["record"]) for o in store.outcomes.values()
                 if o["status"] == "failed" and o.get("record")]
        if retry:
            yield retry, None, False
        for records, after in source.batches(state.get("cursor")):
            yield records, after, True

    try:
        if limit is None or kept_so_far < limit:
            with ThreadPoolExecutor(max_workers=max(1, settings.workers)) as pool:
                for records, after, from_listing in read_ahead(batches()):
                    todo = [r for r in records if not store.is_final(r.id)]
                    outcomes = pool.map(
                        lambda r: process_record(source, r, root, settings, link), todo)
                    for outcome in outcomes:
                        if limit is not None and kept_so_far >= limit:
                            continue  # recorded on a later run with a larger limit
                        store.record_outcome(outcome)
                        counts[outcome["status"]] += 1
                        kept_so_far += outcome["status"] == "kept"
                        bar.update()
                        bar.set_postfix(kept=counts["kept"], dropped=counts["dropped"],
                                        failed=counts["failed"])
                    if limit is not None and kept_so_far >= limit:
                        break
                    if from_listing:
                        store.save_state(cursor=after, done=after is None)
                        complete = after is None
    finally:
        bar.close()

    result = _finish(store, settings, complete=complete, retries=client.retried,
                     started=started)
    result.added = result.kept - kept_before
    result.notes = notes
    return result


def _kept_in_manifest(root: Path, source: str) -> int:
    """Works of ``source`` in the manifest of ``root`` now (0 when there is none)."""
    from mediumnet.data.manifest import manifest_path, read_manifest

    if not manifest_path(root).is_file():
        return 0
    return int((read_manifest(root)["source"] == source).sum())


def _plan_listing(source: Source, store: HarvestStore, limit: int | None) -> list[str]:
    """Decide whether the listing resumes or starts again; return the notes for the user.

    An interrupted harvest with the same source settings resumes where it stopped. Anything
    else lists the source from the beginning — a finished harvest run again (the collection
    may have gained works), new settings such as another ``--from`` — and only records not
    settled before are examined: a data set grows, it is never replaced.
    """
    params = source.params()
    state = store.state
    before = state.get("params", params)
    settled = sum(1 for o in store.outcomes.values() if o["status"] != "failed")
    resume = (not state.get("done") and state.get("cursor") is not None and before == params)
    source.fresh_listing = not resume
    notes = []
    if not resume:
        if before != params:
            changed = ", ".join(f"{k} {before.get(k)!r} -> {v!r}" for k, v in params.items()
                                if before.get(k) != v)
            notes.append(f"new source settings ({changed}): listed from the start; the "
                         f"{settled} records examined before are kept and not fetched again")
        elif state.get("done"):
            notes.append(f"listed again from the start for works added since; the {settled} "
                         "records examined before are not fetched again")
        store.save_state(cursor=None, done=False, params=params)
    kept = store.kept_count()
    if limit is not None and kept >= limit:
        notes.append(f"--limit {limit}: {kept} works of {source.name} are kept already, so "
                     "nothing new was fetched; raise --limit to add more")
    return notes


def _finish(store: HarvestStore, settings: HarvestConfig, *, complete: bool, retries: int,
            started: float) -> HarvestResult:
    """Write the manifest and the summary of a harvest or re-parse."""
    from mediumnet.data.manifest import manifest_digest

    root = store.root
    frame, dup_dropped = build_manifest(root, store, settings)
    result = HarvestResult(source=store.source, dataset_dir=root, complete=complete,
                           retries=retries)
    outcomes = list(store.outcomes.values())
    result.seen = len(outcomes)
    result.dropped_by_reason = dict(
        Counter(o["reason"] for o in outcomes if o["status"] == "dropped")
        + Counter(reason for _, reason in dup_dropped))
    result.failed_by_reason = dict(Counter(o["reason"] for o in outcomes
                                           if o["status"] == "failed"))
    result.unmapped_by_reason = dict(Counter(o["detail"] for o in outcomes
                                             if o["reason"] == "unmapped"))
    result.duplicates = len(dup_dropped)
    mine = frame[frame["source"] == store.source]
    result.kept_by_medium = {m: int((mine["label"] == m).sum()) for m in MEDIUMS}
    result.manifest_rows = len(frame)
    result.digest = manifest_digest(frame)
    result.seconds = time.perf_counter() - started
    write_json_atomic(root / SUMMARY_NAME.format(source=store.source), result.as_dict())
    return result


def reparse(source: Source, dataset_dir: str | os.PathLike[str], settings: HarvestConfig
            ) -> HarvestResult:
    """Judge a source's records again from its raw log, with no network.

    For when the mapping tables or the settings changed: every logged record is labelled and
    filtered again; works that stay kept keep their stored image; works newly kept whose image
    was never fetched are marked failed (``not_downloaded``) and fetched by the next harvest.

    Raises
    ------
    DatasetError
        If the dataset folder holds no raw answers of this source.
    """
    from mediumnet.errors import DatasetError

    started = time.perf_counter()
    root = Path(dataset_dir)
    raw = root / "raw" / f"{source.name}.jsonl"
    if not raw.is_file() or raw.stat().st_size == 0:
        raise DatasetError(f"no raw answers of {source.name} in {raw}: harvest it first with "
                           f"mediumnet harvest {source.name} {dataset_dir}")
    store = HarvestStore(root, source.name)
    logged = store.state.get("params")
    if logged is not None and logged != source.params():
        changed = ", ".join(f"{k} {v!r}" for k, v in source.params().items()
                            if logged.get(k) != v)
        raise DatasetError(f"--offline judges again the records already logged (harvested "
                           f"with other settings), so it cannot take {changed}: drop --offline "
                           "to harvest with these settings")
    for record in source.records_from_raw(store.raw_records()):
        outcome = judge(source.name, record, settings)
        previous = store.outcomes.get(record.id) or {}
        if outcome is None:
            if previous.get("row"):
                outcome = _kept(record, previous["row"])
            else:
                outcome = _outcome(record, "failed", "not_downloaded",
                                   "kept by the current rules; fetched on the next harvest")
        if outcome != previous:
            store.record_outcome(outcome)
    return _finish(store, settings, complete=bool(store.state.get("done")), retries=0,
                   started=started)


def class_balance_plot(result: HarvestResult, path: str | os.PathLike[str]) -> Path:
    """Save a bar chart of kept works per medium."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3))
    values = [result.kept_by_medium.get(m, 0) for m in MEDIUMS]
    ax.bar([m.replace("_", "\n") for m in MEDIUMS], values, color="#4c72b0")
    for x, v in enumerate(values):
        ax.text(x, v, str(v), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("works kept")
    ax.set_title(f"{result.source}: class balance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def run_harvest(source: Source, dataset_dir: str | os.PathLike[str], config: Config, *,
                limit: int | None = None, link: bool = False, progress: bool = True,
                offline: bool = False) -> HarvestResult:
    """Harvest as one tracked MLflow run (the ``harvest`` step).

    Logs params (source, limit, the source's own settings — never a secret), metrics (records
    seen, kept per medium, dropped per reason, failed downloads, duplicates), the summary JSON,
    a class-balance bar chart, and the manifest as an MLflow dataset input. With
    ``offline=True`` the records are judged again from the raw log (:func:`reparse`).
    """
    import tempfile

    import mlflow

    from mediumnet.data.manifest import ensure_dataset_dir, read_manifest
    from mediumnet.names import TAG_DATASET_DIGEST
    from mediumnet.tracking import run_location, start_run

    root = ensure_dataset_dir(dataset_dir)
    params = {"source": source.name, "limit": limit if limit is not None else "none",
              "offline": offline, **{f"source.{k}": v for k, v in source.params().items()}}
    with start_run("harvest", config=config, dataset_dir=root, params=params) as run:
        if offline:
            result = reparse(source, root, config.harvest)
        else:
            result = harvest(source, root, config.harvest, limit=limit, link=link,
                             progress=progress)
        mlflow.set_tag(TAG_DATASET_DIGEST, result.digest)
        metrics: dict[str, float] = {
            "records_seen": result.seen, "kept": result.kept,
            "failed_downloads": sum(result.failed_by_reason.values()),
            "duplicates": result.duplicates, "retries": result.retries,
            "seconds": result.seconds, "manifest_rows": result.manifest_rows,
        }
        metrics.update({f"kept_{m}": n for m, n in result.kept_by_medium.items()})
        metrics.update({f"dropped_{r}": n for r, n in result.dropped_by_reason.items()})
        metrics.update({f"failed_{r}": n for r, n in result.failed_by_reason.items()})
        mlflow.log_metrics(metrics)
        mlflow.log_dict(result.as_dict(), "harvest_summary.json")
        with tempfile.TemporaryDirectory() as tmp:
            mlflow.log_artifact(str(class_balance_plot(result, Path(tmp) / "class_balance.png")))
        manifest = read_manifest(root)
        with warnings.catch_warnings():
            # MLflow muses aloud about the source's kind and integer columns; neither matters.
            warnings.simplefilter("ignore", UserWarning)
            dataset = mlflow.data.from_pandas(manifest, source=str(root / "manifest.parquet"),
                                              name=f"{root.name}-manifest", targets="label",
                                              digest=result.digest)
            mlflow.log_input(dataset, context="harvest")
        result.run_location = run_location(run)
    return result
