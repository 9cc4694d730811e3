"""Works a folder harvest no longer finds: moved within the folder, left out, or kept and named.

A curator who moves a scan into another medium's folder corrects its medium: the work's
record follows its file (the new path's medium, the old one's split) instead of becoming two
copies of one image under two mediums; deleting the wrong one of two copies settles them the
same way. A file deleted, or a row taken out of a CSV, is a work gone: kept, with the image the
data set holds, and named, unless the harvest is told to forget it (``harvest.forget_gone``).
A file put back is taken in again.
"""

from __future__ import annotations

from typing import Any

from mediumnet.harvest.store import GONE, HarvestStore

MOVED_TO = "moved_to"
"""The key of a gone work's outcome naming the work its file now is (same bytes, new path)."""


def settle_gone(store: HarvestStore, gone: list[str], where: str, *, forget: bool
                ) -> list[str]:
    """Record what became of the works of ``gone`` (kept before, no longer listed); say so.

    Parameters
    ----------
    store : HarvestStore
        The source's store, after this harvest judged what it listed.
    gone : list of str
        The ids the source no longer lists (:meth:`~mediumnet.harvest.base.Source.gone`).
    where : str
        The folder or CSV, for the notes.
    forget : bool
        Leave out the gone works that did not move (``--forget-gone``).

    Returns
    -------
    list of str
        The notes for the harvest's summary.
    """
    moved = _moved(store, gone)
    for old, new in moved.items():
        store.record_outcome({"id": old, "status": "dropped", "reason": GONE,
                              "detail": f"moved to {new}", "row": None, MOVED_TO: new})
    rest = [work for work in gone if work not in moved]
    notes = []
    if moved:
        shown = ", ".join(f"{old} -> {new}" for old, new in list(moved.items())[:3])
        notes.append(f"{_works(len(moved))} no longer in {where} "
                     f"{'has its' if len(moved) == 1 else 'have their'} image under another "
                     f"path ({shown}{' …' if len(moved) > 3 else ''}: moved, or a copy "
                     "deleted): that path's record stands, with its folder's medium and the "
                     "split of the one gone")
    if rest and forget:
        for work in rest:
            store.record_outcome({"id": work, "status": "dropped", "reason": GONE,
                                  "detail": f"no longer in {where}", "row": None})
        notes.append(f"{_works(len(rest))} no longer in {where} left out ({_shown(rest)}); a "
                     "file put back is taken in again by the next harvest")
    elif rest:
        notes.append(f"{_works(len(rest))} harvested before {'is' if len(rest) == 1 else 'are'} "
                     f"no longer in {where} ({_shown(rest)}): kept, with the images the data "
                     f"set holds; --forget-gone leaves {'it' if len(rest) == 1 else 'them'} out")
    return notes


def _moved(store: HarvestStore, gone: list[str]) -> dict[str, str]:
    """Map each gone work whose very bytes a listed work of the store holds to that work."""
    gone_set = set(gone)
    present: dict[str, str] = {}
    for work, outcome in sorted(store.outcomes.items()):
        if outcome["status"] == "kept" and work not in gone_set:
            present.setdefault(outcome["row"]["sha256"], work)
    moved = {}
    for work in gone:
        row: dict[str, Any] = store.outcomes[work]["row"]
        if row["sha256"] in present:
            moved[work] = present[row["sha256"]]
    return moved


def moved_splits(store: HarvestStore, split_by_id: dict[str, str]) -> dict[str, str]:
    """Return, for each work a gone one moved to, the split the gone one had."""
    return {outcome[MOVED_TO]: split_by_id[work] for work, outcome in store.outcomes.items()
            if outcome.get(MOVED_TO) and split_by_id.get(work)}


def _works(n: int) -> str:
    return f"{n} work{'' if n == 1 else 's'}"


def _shown(works: list[str]) -> str:
    return ", ".join(works[:3]) + (" …" if len(works) > 3 else "")
