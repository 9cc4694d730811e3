"""The resumable side of a harvest: append-only logs, the resume point, crash leftovers.

For a source ``S`` the dataset folder holds:

- ``raw/S.jsonl``: every listing page and record the source answered, append-only, so that a
  re-parse needs no network;
- ``raw/S-outcomes.jsonl``: one line per examined record (kept with its manifest row, dropped
  or failed, with a reason), appended in record order after the record's image is stored;
- ``harvest_state.json``: the resume point of each source (the listing position of the first
  page that is not yet fully recorded) and whether its listing is exhausted.

A process killed at any moment leaves at worst a partial last line (ignored and cut off on the
next start), a temporary ``.part-*`` file (removed on the next start) or a complete image that
no line refers to yet (the record is processed again and finds the image already stored). The
next start's leftovers are no other process's files in progress: a harvest holds the data set's
writer lock (:mod:`mediumnet.data.writer_lock`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from mediumnet.data.manifest import HARVEST_STATE_NAME, OUTCOMES_SUFFIX, RAW_DIR


def _repair_tail(path: Path) -> None:
    """Cut a partial last line (a write interrupted by a kill) off an append-only log."""
    if not path.exists():
        return
    with path.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        data = path.read_bytes()
        fh.truncate(data.rfind(b"\n") + 1)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    with path.open() as fh:
        for line in fh:
            if line.endswith("\n"):
                rows.append(json.loads(line))
    return rows


def write_json_atomic(path: Path, value: Any) -> None:
    """Replace ``path`` with ``value`` as JSON, atomically."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(value, fh, indent=2, sort_keys=True)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


UNLABELLED_KEEPABLE = "unlabelled_keepable"
"""The key of a record dropped for naming no medium that maps: whether ``--keep-unlabelled``
keeps it (not a category the source's table excludes). Outcomes logged before it was written
lack it, and count as keepable."""
NO_MEDIUM_REASONS = ("unmapped", "unknown_label")
"""The drop reasons of a record whose medium is unknown: ``--keep-unlabelled`` keeps it."""
THREE_DIMENSIONAL = "three_dimensional"
"""The drop reason of a record deeper than ``harvest.max_depth_ratio`` of its larger side."""
GONE = "gone_from_source"
"""The drop reason of a work a folder harvest no longer finds in its ``--from``: moved (its
image under another path) or forgotten (``harvest.forget_gone``); judged again when it is
listed again."""
DEPTH_RATIO = "depth_ratio"
"""The key of a record dropped as three-dimensional: its depth as a share of its larger side,
judged again by a harvest whose ``harvest.max_depth_ratio`` it no longer exceeds."""
_DEPTH_SAID = re.compile(r"depth is ([0-9.]+) of the larger side")


def dropped_depth(outcome: dict[str, Any]) -> float | None:
    """Return the depth ratio a ``three_dimensional`` drop was judged by (None for others).

    Outcomes logged before the ratio was give it rounded in their detail; read from there, it
    is nudged up by the rounding, so that a harvest with the setting it was dropped under does
    not judge it again.
    """
    if outcome["status"] != "dropped" or outcome["reason"] != THREE_DIMENSIONAL:
        return None
    if outcome.get(DEPTH_RATIO) is not None:
        return float(outcome[DEPTH_RATIO])
    said = _DEPTH_SAID.search(outcome.get("detail") or "")
    return float(said.group(1)) + 0.005 if said else None


class HarvestStore:
    """Append-only logs and resume point of one source in one dataset folder.

    Parameters
    ----------
    root : pathlib.Path
        The dataset folder (already checked to be writable).
    source : str
        The source's name (``artsy``, ``met``, ``artic``, ``folder``).
    keep_unlabelled : bool
        Whether this harvest keeps unlabelled works (``--keep-unlabelled``): the records an
        earlier harvest dropped for naming no medium are then judged again
        (:meth:`judged_again`).
    max_depth_ratio : float or None
        This harvest's ``harvest.max_depth_ratio``: the records an earlier harvest dropped as
        three-dimensional that it no longer finds too deep are judged again (None: none are).
    """

    def __init__(self, root: Path, source: str, *, keep_unlabelled: bool = False,
                 max_depth_ratio: float | None = None) -> None:
        self.root = root
        self.source = source
        self.keep_unlabelled = keep_unlabelled
        self.max_depth_ratio = max_depth_ratio
        self.raw_dir = root / RAW_DIR
        self.raw_dir.mkdir(exist_ok=True)
        self.raw_path = self.raw_dir / f"{source}.jsonl"
        self.outcomes_path = self.raw_dir / f"{source}{OUTCOMES_SUFFIX}"
        self.state_path = root / HARVEST_STATE_NAME
        self._lock = threading.Lock()
        self.removed_leftovers = self._clean_leftovers()
        for path in (self.raw_path, self.outcomes_path):
            _repair_tail(path)
        self.outcomes: dict[str, dict[str, Any]] = {}
        for row in _read_jsonl(self.outcomes_path):
            self.outcomes[row["id"]] = row  # the last word on an id wins

    def _clean_leftovers(self) -> int:
        """Remove temporary files that a killed process left behind."""
        leftovers = [*self.root.glob("images/*/.part-*"), *self.root.glob(".manifest-*"),
                     *self.root.glob(".harvest_*")]
        for leftover in leftovers:
            leftover.unlink(missing_ok=True)
        return len(leftovers)

    # -- resume point ----------------------------------------------------------------------

    def _all_states(self) -> dict[str, Any]:
        if not self.state_path.exists():
            return {}
        try:
            return json.loads(self.state_path.read_text())
        except ValueError:
            return {}

    @property
    def state(self) -> dict[str, Any]:
        """Return the resume state of this source: ``cursor``, ``done``."""
        return self._all_states().get(self.source, {})

    def save_state(self, **values: Any) -> None:
        """Merge ``values`` into this source's state and write it atomically."""
        with self._lock:
            states = self._all_states()
            mine = states.setdefault(self.source, {})
            mine.update(values)
            mine["updated"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            write_json_atomic(self.state_path, states)

    # -- logs ------------------------------------------------------------------------------

    def append_raw(self, kind: str, url: str, body: Any) -> None:
        """Append one source response to ``raw/<source>.jsonl`` (flushed to disk)."""
        line = json.dumps({"kind": kind, "url": url, "time": time.time(), "body": body},
                          ensure_ascii=False)
        with self._lock, self.raw_path.open("a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def raw_records(self) -> list[dict[str, Any]]:
        """Every response logged so far, oldest first."""
        return _read_jsonl(self.raw_path)

    def record_outcome(self, outcome: dict[str, Any]) -> None:
        """Append one record's outcome (flushed to disk) and remember it."""
        line = json.dumps(outcome, ensure_ascii=False)
        with self._lock, self.outcomes_path.open("a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            self.outcomes[outcome["id"]] = outcome

    def is_final(self, record_id: str) -> bool:
        """Whether a record is settled (kept or dropped); failed records are tried again.

        So is a record dropped for naming no medium when unlabelled works are now kept
        (:meth:`judged_again`), and one dropped as gone from its folder (it is listed, so it
        is back).
        """
        outcome = self.outcomes.get(record_id)
        return (outcome is not None and outcome["status"] != "failed"
                and outcome["reason"] != GONE and not self.judged_again(outcome))

    def judged_again(self, outcome: dict[str, Any]) -> bool:
        """Whether a settled record is judged again by this harvest.

        So it is when this harvest keeps unlabelled works and an earlier one, which did not,
        dropped the record for naming no medium that maps; and when an earlier one dropped it
        as three-dimensional and this one's ``harvest.max_depth_ratio`` lets its depth pass.
        """
        if outcome["status"] != "dropped":
            return False
        if outcome["reason"] in NO_MEDIUM_REASONS:
            return self.keep_unlabelled and bool(outcome.get(UNLABELLED_KEEPABLE, True))
        depth = dropped_depth(outcome)
        return (depth is not None and self.max_depth_ratio is not None
                and depth <= self.max_depth_ratio)

    def kept_count(self) -> int:
        """How many records are kept so far."""
        return sum(1 for o in self.outcomes.values() if o["status"] == "kept")
