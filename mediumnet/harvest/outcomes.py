"""The outcome of one record: judged by the rules, its image fetched, verified and stored.

The order of judgement (the first rule that applies decides) is described in
:mod:`mediumnet.harvest.engine`; an outcome is a dict with ``id``, ``status`` (``kept``,
``dropped``, ``failed``), ``reason``, ``detail`` and, when kept, the manifest ``row``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mediumnet.config import HarvestConfig
from mediumnet.errors import MediumnetError
from mediumnet.harvest.base import Record, Source
from mediumnet.harvest.http import HarvestHttpError, TooLargeError
from mediumnet.harvest.store import DEPTH_RATIO, THREE_DIMENSIONAL, UNLABELLED_KEEPABLE
from mediumnet.harvest.verify import BadImageError, verify_image
from mediumnet.labels import UNLABELLED, is_excluded_category, map_record


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

    On None, ``record.label`` and ``record.label_reason`` are set: the label is
    :data:`~mediumnet.labels.UNLABELLED` for a work whose record names no medium that maps,
    kept with ``harvest.keep_unlabelled`` (never a category the source's table excludes).
    """
    if record.drop_reason:
        return _outcome(record, "dropped", record.drop_reason)
    if record.label is None:
        if record.unlabelled_reason:  # the source knows the work, not its medium
            medium, reason, dropped_as = None, record.unlabelled_reason, "unknown_label"
        else:
            medium, reason = map_record(source_name, record.category, record.medium_text)
            dropped_as = "unmapped"
        if medium is None:
            keepable = bool(record.unlabelled_reason
                            or not is_excluded_category(source_name, record.category))
            if not (settings.keep_unlabelled and keepable):
                # Whether a harvest with --keep-unlabelled keeps it: it is judged again then.
                return _outcome(record, "dropped", dropped_as, reason) | {
                    UNLABELLED_KEEPABLE: keepable}
            medium = UNLABELLED
        record.label, record.label_reason = medium, reason
    if record.depth_ratio is not None and record.depth_ratio > settings.max_depth_ratio:
        return _outcome(record, "dropped", THREE_DIMENSIONAL,
                        f"depth is {record.depth_ratio:.2f} of the larger side") | {
            DEPTH_RATIO: record.depth_ratio}  # judged again under a larger max_depth_ratio
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
        return _outcome(record, "failed", "too_large",
                        f"{exc} (harvest.max_image_bytes; raise it with --set "
                        "harvest.max_image_bytes=N to keep such images)")
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
