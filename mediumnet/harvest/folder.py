"""A local folder or CSV: a lab's own archive.

Two layouts: ``SRC/<medium>/*.{jpg,png,tif}`` (folder names may name a medium or a technique
of one, as :func:`mediumnet.labels.medium_of_label` reads them: ``watercolour``, ``prints``,
``woodcut``, ``oil on canvas``, ``pen and watercolour`` …; one naming two mediums that are not
one work's, ``prints and drawings``, labels nothing), or a CSV with
columns ``path,label[,artist]`` (paths relative to the CSV's folder). Images are copied into the
store, or hard-linked with ``link=True`` (no second copy on disk).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mediumnet.errors import DatasetError
from mediumnet.harvest.base import Record, Source
from mediumnet.harvest.verify import BadImageError
from mediumnet.labels import MEDIUMS, medium_of_label

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"})


class FolderSource(Source):
    """Harvest images from a local folder tree or a CSV.

    Parameters
    ----------
    src : path
        The folder (``SRC/<medium>/…``) or the CSV file.
    link : bool
        Hard-link files into the store instead of copying them.
    """

    name = "folder"
    api_rate = 0.0
    image_rate = 0.0

    def __init__(self, src: str | Path, link: bool = False) -> None:
        self.src = Path(src).expanduser()
        self.link = link
        if not self.src.exists():
            raise DatasetError(f"--from {self.src}: no such folder or file")
        if self.src.is_file() and self.src.suffix.lower() != ".csv":
            raise DatasetError(f"--from {self.src}: give a folder of <medium>/ subfolders or a "
                               "CSV with columns path,label[,artist]")

    def params(self) -> dict[str, Any]:
        return {"from": str(self.src.resolve()), "link": self.link}

    def _entries(self) -> list[tuple[str, Path, str, str]]:
        """(relative name, path, label text, artist) of every image, in a stable order."""
        if self.src.is_file():
            with self.src.open(newline="") as fh:
                reader = csv.DictReader(fh)
                columns = {c.strip().lower() for c in reader.fieldnames or []}
                if not {"path", "label"} <= columns:
                    raise DatasetError(f"{self.src} needs the columns path and label "
                                       f"(found: {', '.join(sorted(columns)) or 'none'})")
                rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                        for row in reader]
            return [(row["path"], (self.src.parent / row["path"]), row["label"],
                     row.get("artist", "")) for row in rows if row.get("path")]
        entries = []
        for folder in sorted(p for p in self.src.iterdir() if p.is_dir()):
            for path in sorted(folder.rglob("*")):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    entries.append((path.relative_to(self.src).as_posix(), path, folder.name,
                                    ""))
        return entries

    def open(self) -> None:
        self._all = self._entries()
        if not self._all:
            raise DatasetError(
                f"no images found in {self.src}: expected {self.src}/<medium>/*.jpg with "
                f"<medium> one of {', '.join(MEDIUMS)}, or a CSV with columns path,label")

    def batches(self, cursor: Any) -> Iterator[tuple[list[Record], Any]]:
        start = int(cursor or 0)
        size = self.settings.page_size
        for first in range(start, len(self._all), size):
            records = []
            for name, path, label_text, artist in self._all[first:first + size]:
                if self.store.is_final(f"folder:{name}"):  # settled by an earlier harvest
                    records.append(Record(id=f"folder:{name}", source=self.name))
                    continue
                self.store.append_raw("file", str(path), {"name": name, "label": label_text,
                                                          "artist": artist})
                records.append(self._record(name, path, label_text, artist))
            after = first + size
            yield records, (after if after < len(self._all) else None)

    def _record(self, name: str, path: Path | str, label_text: str, artist: str) -> Record:
        label, named = medium_of_label(label_text)
        record = Record(id=f"folder:{name}", source=self.name, title=Path(name).stem,
                        artist=artist, category=label_text, local_path=str(path),
                        label=label, label_reason=f"given as {label_text!r}")
        if label is None and len(named) > 1:
            record.unlabelled_reason = f"given as {label_text!r}: names {', '.join(named)}"
        elif label is None:
            record.unlabelled_reason = (f"given as {label_text!r}: no medium"
                                        if str(label_text or "").strip() else "no label given")
        return record

    def records_from_raw(self, entries: list[dict[str, Any]]) -> Iterator[Record]:
        seen: set[str] = set()
        for entry in entries:
            body = entry["body"]
            if entry["kind"] == "file" and body["name"] not in seen:
                seen.add(body["name"])
                yield self._record(body["name"], entry["url"], body["label"], body["artist"])

    def fetch_image(self, record: Record) -> bytes:
        path = Path(record.local_path or "")
        if not path.is_file():
            raise BadImageError("missing_file", f"{path} does not exist")
        if path.stat().st_size > self.settings.max_image_bytes:
            raise BadImageError("too_large", f"{path} is over the size cap")
        return path.read_bytes()
