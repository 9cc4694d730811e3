"""The harvest loop: list a source, judge and fetch its records in parallel, resume; re-parse.

:func:`harvest` lists the source batch by batch (the next page read ahead in a thread) and
processes each batch's records in a thread pool; :func:`reparse` judges the logged records
again with no network.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from mediumnet.config import HarvestConfig
from mediumnet.data.manifest import RAW_DIR
from mediumnet.data.writer_lock import writes_dataset
from mediumnet.harvest.base import Record, Source
from mediumnet.harvest.gone import settle_gone
from mediumnet.harvest.http import HttpClient, RateLimiter
from mediumnet.harvest.outcomes import _kept, _outcome, judge, process_record
from mediumnet.harvest.result import HarvestResult, _finish
from mediumnet.harvest.store import GONE, NO_MEDIUM_REASONS, HarvestStore

T = TypeVar("T")


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


@writes_dataset("harvest", create=True)
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
    source.check_destination(root)
    store = HarvestStore(root, source.name, keep_unlabelled=settings.keep_unlabelled,
                         max_depth_ratio=settings.max_depth_ratio)
    kept_before = _kept_in_manifest(root, source.name)
    notes = _plan_listing(source, store, limit)
    client = HttpClient(rate=settings.api_rate or source.api_rate, retries=settings.retries,
                        backoff=settings.backoff, max_backoff=settings.max_backoff,
                        timeout=settings.timeout, retry_statuses=source.retry_statuses,
                        headers=source.extra_headers)
    image_limiter = RateLimiter(settings.image_rate or source.image_rate)
    source.bind(client, store, settings, image_limiter)
    source.open()
    if source.fresh_listing:   # written once the source opened: one that cannot changes nothing
        store.save_state(cursor=None, done=False, params=source.params())
    gone = source.gone()

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

    if gone:
        notes += settle_gone(store, gone, source.params().get("from", source.name),
                             forget=settings.forget_gone)
    return _finish(store, settings, complete=complete, retries=client.retried,
                   started=started, kept_before=kept_before, notes=[*notes, *source.notes])


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
    may have gained works), new settings such as another ``--from``, records to judge again
    (:meth:`~mediumnet.harvest.store.HarvestStore.judged_again`) — and only records not
    settled before are examined: a data set grows, it is never replaced. Sets
    ``source.fresh_listing`` (a source's ``open`` reads it); the harvest writes a new start
    into the store once the source has opened.
    """
    params = source.params()
    state = store.state
    before = state.get("params", params)
    settled = sum(1 for o in store.outcomes.values() if o["status"] != "failed")
    again = [o for o in store.outcomes.values() if store.judged_again(o)]
    settled -= len(again)
    resume = (not state.get("done") and state.get("cursor") is not None and before == params
              and not again)
    source.fresh_listing = not resume
    notes = _judged_again_notes(again, store.max_depth_ratio)
    if not resume:
        if before != params:
            changed = ", ".join(f"{k} {before.get(k)!r} -> {v!r}" for k, v in params.items()
                                if before.get(k) != v)
            notes.append(f"new source settings ({changed}): listed from the start"
                         + (f"; the {settled} records examined before are kept and not "
                            "fetched again" if settled else ""))
        elif state.get("done"):
            notes.append("listed again from the start for works added since"
                         + (f"; the {settled} records examined before are not fetched again"
                            if settled else ""))
    kept = store.kept_count()
    if limit is not None and kept >= limit:
        notes.append(f"--limit {limit}: {kept} works of {source.name} are kept already, so "
                     "nothing new was fetched; raise --limit to add more")
    return notes


def _judged_again_notes(again: list[dict[str, Any]], max_depth_ratio: float | None
                        ) -> list[str]:
    """Say which settled records a harvest judges again, and why."""
    unlabelled = sum(o["reason"] in NO_MEDIUM_REASONS for o in again)
    deep = len(again) - unlabelled
    notes = []
    if unlabelled:
        notes.append(f"{unlabelled} record{'' if unlabelled == 1 else 's'} dropped before for "
                     "naming no medium that maps, judged again: unlabelled works are kept now "
                     "(--keep-unlabelled)")
    if deep:
        notes.append(f"{deep} record{'' if deep == 1 else 's'} dropped before as "
                     "three-dimensional, judged again: harvest.max_depth_ratio is "
                     f"{max_depth_ratio:g} now")
    return notes


@writes_dataset("harvest")
def reparse(source: Source, dataset_dir: str | os.PathLike[str], settings: HarvestConfig
            ) -> HarvestResult:
    """Judge a source's records again from its raw log, with no network.

    For when the mapping tables or the settings changed: every logged record is labelled and
    filtered again; works that stay kept keep their stored image; works newly kept whose image
    was never fetched are marked failed (``not_downloaded``) and fetched by the next harvest.
    Records logged but not judged yet (a harvest that stopped at its ``--limit`` has listed
    a page further than it took, one stopped mid-way its last page) are left to the next
    harvest, and counted in a note.

    Raises
    ------
    DatasetError
        If the dataset folder holds no raw answers of this source.
    """
    from mediumnet.errors import DatasetError

    started = time.perf_counter()
    root = Path(dataset_dir)
    raw = root / RAW_DIR / f"{source.name}.jsonl"
    if not raw.is_file() or raw.stat().st_size == 0:
        raise DatasetError(f"no raw answers of {source.name} in {raw}: harvest it first with "
                           f"mediumnet harvest {source.name} {dataset_dir}")
    store = HarvestStore(root, source.name)
    kept_before = _kept_in_manifest(root, source.name)
    logged = store.state.get("params")
    if logged is not None and logged != source.params():
        changed = ", ".join(f"{k} {v!r}" for k, v in source.params().items()
                            if logged.get(k) != v)
        raise DatasetError(f"--offline judges again the records already logged (harvested "
                           f"with other settings), so it cannot take {changed}: drop --offline "
                           "to harvest with these settings")
    unjudged: set[str] = set()
    for record in source.records_from_raw(store.raw_records()):
        previous = store.outcomes.get(record.id)
        if previous is None:        # listed, never judged: the next harvest judges it
            unjudged.add(record.id)
            continue
        if previous["reason"] == GONE:   # its file is gone: nothing to judge
            continue
        outcome = judge(source.name, record, settings)
        if outcome is None:
            if previous.get("row"):
                outcome = _kept(record, previous["row"])
            else:
                outcome = _outcome(record, "failed", "not_downloaded",
                                   "kept by the current rules; fetched on the next harvest")
        if outcome != previous:
            store.record_outcome(outcome)
    notes = [f"{len(unjudged)} record{'' if len(unjudged) == 1 else 's'} listed but not "
             "judged yet (the harvest stopped at its --limit, or was stopped) left to the next "
             "harvest without --offline"] if unjudged else []
    return _finish(store, settings, complete=bool(store.state.get("done")), retries=0,
                   started=started, kept_before=kept_before, notes=notes)
