"""A page a curator opens: a table of works with their thumbnails, in one HTML file.

The audit, the classification of unlabelled works and the labelling suggestions each write
their table as CSV and as this page (:func:`write_table`): one row per work, its thumbnail
embedded (the file stands alone: it can be mailed, archived or logged to MLflow), rows marked
by a column (flagged, abstained) drawn in another colour.
"""

from __future__ import annotations

import base64
import html
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mediumnet.data.sheets import SHEET_ENCODING

if TYPE_CHECKING:
    import pandas as pd

THUMB = 128
"""Long edge of a thumbnail, in pixels."""
MAX_THUMBNAILS = 3000
"""Rows past this many are listed without a thumbnail (the page stays a few megabytes)."""

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left;
         vertical-align: middle; }
th { position: sticky; top: 0; background: #f4f4f4; }
tr.marked td { background: #fff3d6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 128px; max-height: 128px; }
"""


def thumbnail(path: str | os.PathLike[str], edge: int = THUMB) -> str:
    """Return a ``data:`` URI of a small JPEG of the image (empty when it cannot be read).

    The pixels are :func:`mediumnet.data.views.thumbnail`'s: upright, and a 16-bit scan as the
    branches see it, not clipped to white.
    """
    from PIL import Image

    from mediumnet.data.views import thumbnail as small_copy

    pixels = small_copy(path, edge)
    if pixels is None:
        return ""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f'<td class="num">{"" if value != value else f"{value:.3f}"}</td>'
    if isinstance(value, bool):
        return f"<td>{'yes' if value else ''}</td>"
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def write_page(path: str | os.PathLike[str], table: pd.DataFrame, root: Path, *,
               title: str, intro: Sequence[str] = (), columns: Sequence[str] = (),
               marked: str | None = None) -> Path:
    """Write ``table`` as a standalone HTML page with a thumbnail per row.

    Parameters
    ----------
    path : path-like
        The page to write (replaced atomically).
    table : pandas.DataFrame
        One row per work, with ``image_path`` (relative to ``root``).
    root : pathlib.Path
        The data set the image paths are relative to.
    title : str
        The page's heading.
    intro : sequence of str
        Paragraphs above the table (what it shows, how it was made).
    columns : sequence of str
        The columns shown, in order (default: all but ``image_path``).
    marked : str, optional
        A boolean column whose true rows are highlighted.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    shown = list(columns) or [c for c in table.columns if c != "image_path"]
    rows = []
    for number, record in enumerate(table.to_dict("records")):
        image = (thumbnail(root / record["image_path"]) if number < MAX_THUMBNAILS
                 and record.get("image_path") else "")
        css = ' class="marked"' if marked and bool(record.get(marked)) else ""
        cells = "".join(_cell(record.get(c)) for c in shown)
        picture = f'<img src="{image}" alt="">' if image else ""
        rows.append(f"<tr{css}><td>{picture}</td>{cells}</tr>")
    if len(table) > MAX_THUMBNAILS:
        intro = [*intro, f"Rows past the first {MAX_THUMBNAILS} are listed without a "
                         "thumbnail; the CSV holds the same table."]
    header = "".join(f"<th>{html.escape(c)}</th>" for c in ["", *shown])
    body = "\n".join(rows)
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in intro)
    text = (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
            f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
            f"{paragraphs}<table><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody>"
            "</table></body></html>\n")
    replace_file(path, lambda part: part.write_text(text, encoding="utf-8"))
    return path


def write_table(table: pd.DataFrame, csv: str | os.PathLike[str], root: Path, *,
                title: str, intro: Sequence[str] = (), columns: Sequence[str] = (),
                marked: str | None = None) -> tuple[Path, Path]:
    """Write ``table`` as a CSV and, beside it (suffix ``.html``), as its page.

    The CSV is UTF-8 with a byte-order mark (:data:`~mediumnet.data.sheets.SHEET_ENCODING`),
    so a spreadsheet shows its accents as written. Both replace what was there atomically: a
    failure leaves the previous files whole. The keywords are :func:`write_page`'s.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The CSV and the page.
    """
    csv = Path(csv)
    replace_file(csv, lambda part: table.to_csv(part, index=False, encoding=SHEET_ENCODING))
    page = write_page(csv.with_suffix(".html"), table, root, title=title, intro=intro,
                      columns=columns, marked=marked)
    return csv, page


def replace_file(path: Path, write) -> None:
    """Write ``path`` through a hidden ``.part`` file beside it, then rename it into place.

    A write that fails takes its ``.part`` file with it; ``path`` is left as it was. Each
    write has a part file of its own, so two steps writing one file at once (two audits of one
    data set) leave the later's whole, not a mix of both.
    """
    import uuid

    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.part")
    try:
        write(part)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(path)
