"""A local folder or CSV: a lab's own archive.

Two layouts: ``SRC/<medium>/*.{jpg,png,tif}`` (folder names may name a medium or a technique
of one, as :func:`mediumnet.labels.medium_of_label` reads them: ``watercolour``, ``prints``,
``woodcut``, ``oil on canvas``, ``pen and watercolour`` …; one naming two mediums that are not
one work's, ``prints and drawings``, labels nothing), or a CSV with columns
``path,label[,artist][,title]`` (paths relative to the CSV's folder, with slashes or a
Windows export's backslashes). A collection system's export keeps its own headers:
``columns`` says which holds what (``label`` from ``Medium``, ``path`` from ``Image file``);
its label is then a museum's medium text ("Watercolor over graphite"), kept as the work's
``medium_text``. The CSV may be comma-, semicolon- or tab-separated, in UTF-8 with or without
a byte-order mark, or UTF-16 with one (as spreadsheets save it: :mod:`mediumnet.data.sheets`).
Images are copied into the store, or hard-linked with ``link=True`` (no second copy on disk).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mediumnet.data.images import folder_images, table_image_path
from mediumnet.data.sheets import sheet_rows
from mediumnet.errors import DatasetError
from mediumnet.harvest.base import Record, Source
from mediumnet.harvest.verify import BadImageError, open_within_limit
from mediumnet.labels import MEDIUMS, medium_of_label

CSV_FIELDS: tuple[str, ...] = ("path", "label", "artist", "title")
"""What a CSV row may give a work; ``path`` and ``label`` are needed."""
_ANOTHER_MACHINES_PATH = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
"""A CSV path written on Windows as absolute: ``C:\\Scans\\0042.tif``, ``\\\\server\\share\\…``."""


def _origins(entries: list[dict[str, Any]]) -> dict[str, tuple[str | None, str, bool]]:
    """Return each logged work's ``--from`` (None where its entry predates it), path and kind.

    ``(from, the file's path as given, from a CSV)`` of the last entry of each id.
    """
    origins = {}
    for entry in entries:
        if entry["kind"] == "file":
            body = entry["body"]
            origins[f"folder:{body['name']}"] = (body.get("from"), entry["url"],
                                                 bool(body.get("from_csv")))
    return origins


def _refuse_too_many_pixels(path: Path) -> None:
    """Refuse a file whose header declares more pixels than any branch takes.

    Raises
    ------
    BadImageError
        ``too_many_pixels``. A header Pillow cannot read passes: the bytes' own check
        (:func:`~mediumnet.harvest.verify.verify_image`) names what is wrong with them.
    """
    try:
        open_within_limit(path).close()
    except BadImageError:
        raise
    except Exception:  # noqa: BLE001 - judged on its bytes next
        return


class FolderSource(Source):
    """Harvest images from a local folder tree or a CSV.

    Parameters
    ----------
    src : path
        The folder (``SRC/<medium>/…``) or the CSV file.
    link : bool
        Hard-link files into the store instead of copying them.
    columns : mapping, optional
        For a CSV: field (one of :data:`CSV_FIELDS`) → the header of the column that holds it,
        matched without regard to case (``{"label": "Medium", "path": "Image file"}``). A
        field not given is read from the column of its own name.

    Raises
    ------
    DatasetError
        No such folder or file, a file that is not a CSV, or ``columns`` for a folder tree or
        naming a field that is not one of :data:`CSV_FIELDS`.
    """

    name = "folder"
    api_rate = 0.0
    image_rate = 0.0

    def __init__(self, src: str | Path, link: bool = False,
                 columns: Mapping[str, str] | None = None) -> None:
        self.src = Path(src).expanduser()
        self.link = link
        self.columns = {field: header.strip() for field, header in (columns or {}).items()}
        if not self.src.exists():
            raise DatasetError(f"--from {self.src}: no such folder or file")
        self.from_csv = self.src.is_file()
        """Whether the works come from a CSV's rows (else from a folder tree)."""
        self.origin = str(self.src.resolve())
        """The folder or CSV as an absolute path: the ``--from`` each work's raw entry names."""
        if self.from_csv and self.src.suffix.lower() != ".csv":
            raise DatasetError(f"--from {self.src}: give a folder of <medium>/ subfolders or a "
                               "CSV with columns path,label[,artist]")
        unknown = sorted(set(self.columns) - set(CSV_FIELDS))
        if unknown:
            raise DatasetError(f"--column {unknown[0]}=…: no such field; give one of "
                               f"{', '.join(CSV_FIELDS)} (--column label=Medium)")
        if self.columns and not self.from_csv:
            raise DatasetError(f"--column is for a CSV, and {self.src} is a folder (its "
                               "subfolders name the mediums)")

    def params(self) -> dict[str, Any]:
        return {"from": self.origin, "link": self.link,
                **{f"column_{field}": header for field, header in self.columns.items()}}

    def check_destination(self, root: Path) -> None:
        """Refuse the folder the images come from as the data set's own.

        Its copies (``images/``) and logs would be listed as works beside the medium folders.
        A data set inside the folder is fine: the listing leaves it out.
        """
        if not self.from_csv and str(root.resolve()) == self.origin:
            raise DatasetError(f"{root} is the folder the images come from (--from {self.src}): "
                               "the harvest would read its own copies as works; harvest into "
                               f"a folder of its own, such as {self.src / 'dataset'}")

    def _csv_rows(self) -> list[dict[str, str]]:
        """Read the CSV's rows as field → text (:data:`CSV_FIELDS`), by the column mapping."""
        headers, rows = sheet_rows(self.src)
        where = {h.lower(): i for i, h in reversed(list(enumerate(headers))) if h}
        found = ", ".join(h for h in headers if h) or "none"
        index: dict[str, int] = {}
        for field in sorted(CSV_FIELDS, key=lambda f: f not in self.columns):  # given first
            header = self.columns.get(field, field)
            if header.lower() in where:
                index[field] = where[header.lower()]
            elif field in self.columns:
                raise DatasetError(f"{self.src} has no column {header!r} (--column "
                                   f"{field}={header}); its columns: {found}")
            elif field in ("path", "label"):
                raise DatasetError(f"{self.src} needs the columns path and label, or "
                                   f"--column {field}=HEADER for the one that holds the "
                                   f"{'image file' if field == 'path' else 'medium'} "
                                   f"(found: {found})")
        return [{field: (row[i].strip() if i < len(row) else "") for field, i in index.items()}
                for row in rows]

    def _entries(self) -> list[tuple[str, Path, str, str, str]]:
        """(relative name, path, label text, artist, title) of every image, in a stable order."""
        if self.from_csv:
            return self._once_each([
                (row["path"], table_image_path(self.src.parent, row["path"]), row["label"],
                 row.get("artist", ""), row.get("title", ""))
                for row in self._csv_rows() if row.get("path")])
        store = getattr(self, "store", None)   # bound by a harvest; a data set inside is not read
        listing = folder_images(self.src, leave_out=store.root if store else None)
        entries, loose = [], 0
        for path in listing.files:
            parts = path.relative_to(self.src).parts
            if len(parts) == 1:
                loose += 1          # beside the medium folders, in none of them
                continue
            entries.append(("/".join(parts), path, parts[0], "", ""))
        self.notes = [line for line in (
            listing.not_read(),
            f"not read: {loose} image{'' if loose == 1 else 's'} directly in {self.src}, in no "
            "<medium>/ folder; move each into the folder of its medium" if loose else "")
            if line]
        return entries

    def _once_each(self, entries: list[tuple[str, Path, str, str, str]]
                   ) -> list[tuple[str, Path, str, str, str]]:
        """Take each path of a CSV once: the row that names its medium, the first of them.

        A merged export or a row pasted twice lists a work again; rows that give one work two
        mediums are refused, as ``mediumnet label`` refuses them, before anything is read.
        """
        rows: dict[str, list[tuple[str, Path, str, str, str]]] = {}
        for entry in entries:
            rows.setdefault(entry[0], []).append(entry)
        once, twice, torn = [], [], {}
        for name, listed in rows.items():
            if len(listed) == 1:
                once.append(listed[0])
                continue
            twice.append(name)
            named = [medium_of_label(e[2])[0] for e in listed]
            mediums = list(dict.fromkeys(m for m in named if m))
            if len(mediums) > 1:
                torn[name] = f"{len(listed)} rows of different mediums ({', '.join(mediums)})"
            once.append(next((e for e, m in zip(listed, named, strict=True) if m), listed[0]))
        if torn:
            first, more = next(iter(torn.items())), len(torn) - 1
            raise DatasetError(f"{self.src} gives {first[0]} {first[1]}"
                               + ("" if not more else "; so is 1 more path" if more == 1
                                  else f"; so are {more} more paths")
                               + ": keep the row of the medium it is, or leave its label empty")
        self.notes = [f"listed more than once in {self.src.name}: {len(twice)} path"
                      f"{'' if len(twice) == 1 else 's'} ({', '.join(twice[:3])}"
                      f"{' …' if len(twice) > 3 else ''}), each taken once"] if twice else []
        return once

    def open(self) -> None:
        self._all = self._entries()
        if not self._all:
            found = "; ".join(note.removeprefix("not read: ") for note in self.notes)
            raise DatasetError(
                f"no images found in {self.src}: expected {self.src}/<medium>/*.jpg with "
                f"<medium> one of {', '.join(MEDIUMS)}, or a CSV with columns path,label"
                + (f" (found {found})" if found else ""))
        store = getattr(self, "store", None)   # bound by a harvest
        self._origins = _origins(store.raw_records()) if store else {}
        self._all = self._named_apart(self._all)

    def gone(self) -> list[str]:
        """Return the works kept before from this folder (or CSV) that it no longer lists.

        A work's ``--from`` is the one its raw entry names; an entry logged before that was
        written names none, and a tree's work is then told by its file's path as it was given
        (from the folder the harvest ran in). Works of another ``--from`` are never gone.
        """
        here = Path(self.origin)
        listed = {f"folder:{entry[0]}" for entry in self._all}

        def came_from_here(work: str) -> bool:
            origin = self._origins.get(work)
            if origin is None:
                return False
            given, url, from_csv = origin
            if given is not None:
                return given == self.origin
            return (not self.from_csv and not from_csv
                    and Path(url).resolve().is_relative_to(here))

        return sorted(work for work, outcome in self.store.outcomes.items()
                      if outcome["status"] == "kept" and work not in listed
                      and came_from_here(work))

    def _named_apart(self, entries: list[tuple[str, Path, str, str, str]]
                     ) -> list[tuple[str, Path, str, str, str]]:
        """Name apart the paths another ``--from`` harvested into the data set holds too.

        Two camera rolls both hold ``painting/IMG_0001.jpg``: the second's would take the
        first's id, be found settled, and never be read. Its id is qualified by its own folder
        (``folder:scans~1a2b3c/painting/IMG_0001.jpg``, the same at every harvest); the path of
        the ``--from`` that harvested it first keeps the plain id. A file of the size of the
        work kept under the plain id is taken for that work (a copy of the folder, an archive
        moved to another drive) and is not read again.
        """
        here = self.origin
        digest = hashlib.sha1(here.encode(), usedforsecurity=False).hexdigest()
        qualifier = f"{self.src.stem}~{digest[:6]}"
        named, shared = [], []
        for entry in entries:
            origin = self._origins.get(f"folder:{entry[0]}")
            if (origin is not None and origin[0] is not None and origin[0] != here
                    and not self._same_as_kept(f"folder:{entry[0]}", entry[1])):
                shared.append(entry[0])
                entry = (f"{qualifier}/{entry[0]}", *entry[1:])
            named.append(entry)
        if shared:
            self.notes.append(
                f"{len(shared)} path{'' if len(shared) == 1 else 's'} of {self.src} "
                f"{'is' if len(shared) == 1 else 'are'} also a path of another folder harvested "
                f"into this data set ({', '.join(shared[:3])}{' …' if len(shared) > 3 else ''}):"
                f" each is a work of its own, named folder:{qualifier}/<path>")
        return named

    def _same_as_kept(self, work: str, path: Path) -> bool:
        """Whether ``path`` has the size of the image kept as ``work`` (a copy of it)."""
        outcome = self.store.outcomes.get(work) or {}
        try:
            return (outcome.get("status") == "kept"
                    and path.stat().st_size == outcome["row"]["bytes"])
        except OSError:
            return False

    def batches(self, cursor: Any) -> Iterator[tuple[list[Record], Any]]:
        start = int(cursor or 0)
        size = self.settings.page_size
        for first in range(start, len(self._all), size):
            records = []
            for name, path, label_text, artist, title in self._all[first:first + size]:
                if self.store.is_final(f"folder:{name}"):  # settled by an earlier harvest
                    records.append(Record(id=f"folder:{name}", source=self.name))
                    continue
                self.store.append_raw("file", str(path), {
                    "name": name, "label": label_text, "artist": artist, "title": title,
                    "from_csv": self.from_csv, "from": self.origin})
                records.append(self._record(name, path, label_text, artist, title,
                                            self.from_csv))
            after = first + size
            yield records, (after if after < len(self._all) else None)

    def _record(self, name: str, path: Path | str, label_text: str, artist: str,
                title: str = "", from_csv: bool = False) -> Record:
        label, named = medium_of_label(label_text)
        record = Record(id=f"folder:{name}", source=self.name, title=title or Path(name).stem,
                        artist=artist, category=label_text,
                        medium_text=label_text if from_csv else "", local_path=str(path),
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
                yield self._record(body["name"], entry["url"], body["label"], body["artist"],
                                   body.get("title", ""), body.get("from_csv", False))

    def fetch_image(self, record: Record) -> bytes:
        """Read a local image file whole.

        A local file is judged by its pixels, as ``predict`` and the branches judge it, not by
        the byte cap of downloads: an archive's TIFF masters are often larger than 64 MB. Its
        header is read first, so a file of more pixels than any branch takes is refused
        without reading the rest.
        """
        path = Path(record.local_path or "")
        if path.is_dir():
            raise BadImageError("not_an_image", f"{path} is a folder, not an image file: write "
                                "the path of an image in it")
        if not path.is_file():
            written = record.id.removeprefix("folder:")
            if _ANOTHER_MACHINES_PATH.match(written):
                raise BadImageError("missing_file", f"{written} is a path on a Windows drive or "
                                    "share; write each path relative to the CSV's folder, "
                                    f"{self.src.parent.resolve()}, with the images there")
            raise BadImageError("missing_file", f"{path} does not exist")
        _refuse_too_many_pixels(path)
        return path.read_bytes()
