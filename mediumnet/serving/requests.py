"""What a served model is sent: rows of base64 bytes, paths or URLs, read under a policy.

:func:`rows_to_items` turns the rows of a serving request (a DataFrame with a column
``image``, ``path`` or ``url``) into items the classifier decodes, or per-row errors: paths
confined to the folders the deployer opened, URLs checked before every connection and fetched
in parallel within the request's deadline, and rows past the request's pixel budget refused
(:mod:`mediumnet.serving.guard`).
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from mediumnet.errors import MediumnetError

if TYPE_CHECKING:
    import pandas as pd

    from mediumnet.serving.guard import ServePolicy

INPUT_COLUMNS = ("image", "path", "url")
"""Serving input: one of these per row (base64 file bytes, a local path, an http(s) URL)."""


def rows_to_items(frame: pd.DataFrame, policy: ServePolicy | None = None) -> list[object]:
    """Turn serving input rows into decodable items (bytes or paths) or per-row errors.

    Each row's first non-empty value among :data:`INPUT_COLUMNS` is used: ``image`` is base64
    (a ``data:…;base64,`` prefix is accepted), ``path`` a file, ``url`` an http(s) address.
    Under ``policy`` (:class:`mediumnet.guard.ServePolicy`; default: no limits, in-process
    use) paths are confined to the allowed folders and URLs checked before each connection;
    all URL rows are fetched in parallel within the policy's deadline, and rows past its
    pixel budget are answered with an error.

    Raises
    ------
    MediumnetError
        If the frame has none of the input columns.
    """
    from mediumnet.serving.guard import RefusedError, ServePolicy

    policy = policy or ServePolicy.local()
    present = [c for c in INPUT_COLUMNS if c in frame.columns]
    if not present:
        raise MediumnetError(f"the input has columns {list(frame.columns)}: send one of "
                             f"{', '.join(INPUT_COLUMNS)} (base64 file bytes, a path, a URL)")
    items: list[object] = []
    urls: dict[int, str] = {}
    for values in frame[present].itertuples(index=False):
        column, value = next(((c, v) for c, v in zip(present, values, strict=True)
                              if isinstance(v, str | bytes) and len(v)), (None, None))
        if column is None:
            items.append(ValueError(f"empty row: no {' / '.join(present)} value"))
        elif column == "image":
            items.append(_from_base64(value))
        elif column == "path":
            try:
                items.append(policy.check_path(value))
            except RefusedError as exc:
                items.append(exc)
        else:
            urls[len(items)] = value
            items.append(None)
    for index, result in _fetch_all(urls, policy).items():
        items[index] = result
    return _within_pixel_budget(items, policy.max_pixels)


def _fetch_all(urls: dict[int, str], policy: ServePolicy) -> dict[int, bytes | Exception]:
    """Fetch every URL row at once; a row still fetching at the deadline gets an error."""
    import time
    from concurrent.futures import ThreadPoolExecutor, wait

    import requests

    from mediumnet.serving.guard import fetch

    if not urls:
        return {}
    deadline = time.monotonic() + policy.deadline if policy.deadline else None
    session = requests.Session()
    pool = ThreadPoolExecutor(max_workers=min(16, len(urls)), thread_name_prefix="fetch")
    futures = {i: pool.submit(fetch, url, session, policy, deadline) for i, url in urls.items()}
    wait(futures.values(), timeout=None if deadline is None else policy.deadline + 1.0)
    pool.shutdown(wait=False, cancel_futures=True)
    results: dict[int, bytes | Exception] = {}
    for i, future in futures.items():
        if not future.done():
            results[i] = ValueError(f"{urls[i]}: not fetched within the request's deadline")
        else:
            try:
                results[i] = future.result()
            except ValueError as exc:
                results[i] = exc
    return results


def _within_pixel_budget(items: list[object], budget: int | None) -> list[object]:
    """Replace the rows past a request's decoded-pixel budget by errors (header sizes only)."""
    if budget is None:
        return items
    from mediumnet.data.views import ImageError, open_image

    used = 0
    out: list[object] = []
    for item in items:
        if isinstance(item, Exception) or item is None:
            out.append(item)
            continue
        try:
            width, height = open_image(item).size
        except (ImageError, OSError, ValueError):
            out.append(item)  # decoding reports what is wrong with it
            continue
        used += width * height
        out.append(item if used <= budget else ValueError(
            f"{width}x{height}: past this request's budget of {budget:,} decoded pixels; "
            "send fewer or smaller images per request"))
    return out


def _from_base64(value: str | bytes) -> bytes | Exception:
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        data = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        return ValueError("image: not valid base64; send the file's bytes base64-encoded")
    return data if data else ValueError("image: empty after base64 decoding")


