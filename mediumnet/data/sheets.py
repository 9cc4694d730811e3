"""The CSV tables people write or edit in a spreadsheet: read as a spreadsheet saves them.

A collection system's export, a filled suggestion sheet, an audit table corrected by hand and
a table of images to score all pass through Excel, LibreOffice or Numbers on their way here.
Those save a CSV in the habits of the curator's locale:

- separated by commas, or by semicolons where the comma is the decimal mark (French, German,
  Dutch, Italian, Spanish … Excel), or by tabs;
- in UTF-8 with or without a byte-order mark ("CSV UTF-8"), or in UTF-16 with one ("Unicode
  text"); a file in another encoding (Excel's plain "CSV" is the Windows code page) is
  refused in one line that says how to save it, since guessing the code page would turn a
  ``Dürer`` into a ``DÃ¼rer`` without a word;
- a true/false cell in the words of the locale (``VRAI``, ``WAHR``, ``FALSO`` …), and a
  decimal number with a comma (``0,97``).

mediumnet's own tables for curators are written in UTF-8 with a byte-order mark
(:data:`SHEET_ENCODING`), so a spreadsheet opens their accents as they are.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mediumnet.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

SHEET_ENCODING = "utf-8-sig"
"""How mediumnet writes the tables a curator opens in a spreadsheet (audit, classify, suggest):
UTF-8 with the byte-order mark by which Excel knows it is UTF-8."""

DELIMITERS = ",;\t"
"""The separators a spreadsheet writes; a file's is the one its header line holds most of."""

TRUE_WORDS = frozenset({"true", "1", "yes", "vrai", "wahr", "waar", "verdadero", "verdadeiro",
                        "vero", "sant", "sand", "sann", "prawda", "pravda", "tosi", "истина"})
FALSE_WORDS = frozenset({"false", "0", "no", "faux", "falsch", "onwaar", "falso", "falskt",
                         "falsk", "usann", "fałsz", "nepravda", "epätosi", "ложь"})
"""A true/false cell as Excel writes it in the languages of the collections it serves."""


def _encoding(path: Path) -> str:
    """Return the codec a sheet is read with: UTF-16 by its byte-order mark, else UTF-8."""
    with path.open("rb") as fh:
        start = fh.read(2)
    return "utf-16" if start in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else "utf-8-sig"


def _not_utf8(path: Path, exc: UnicodeDecodeError | None = None) -> DatasetError:
    """Return the one-line refusal of a sheet in another encoding, naming its first odd byte."""
    if exc is None:
        try:
            path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as found:
            exc = found
    where = f" (byte {exc.start + 1})" if exc is not None else ""
    return DatasetError(f"{path} is not UTF-8 text{where}: save it as CSV UTF-8 and try again")


def sheet_text(path: str | os.PathLike[str]) -> tuple[str, str]:
    """Read a sheet whole as text, and the separator its header line uses.

    Parameters
    ----------
    path : path-like
        The CSV file.

    Returns
    -------
    (str, str)
        The text (without a byte-order mark) and its separator, one of :data:`DELIMITERS`
        (``","`` when the header holds none: a table of one column).

    Raises
    ------
    DatasetError
        A file that is not UTF-8 (or UTF-16 with its mark).
    """
    path = Path(path)
    encoding = _encoding(path)
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise _not_utf8(path, exc if encoding == "utf-8-sig" else None) from None
    return text, delimiter_of(text.partition("\n")[0])


def delimiter_of(header: str) -> str:
    """Return the separator a CSV header line uses most (``","`` when it holds none)."""
    return max(DELIMITERS, key=header.count)


def _parsed(path: str | os.PathLike[str]
            ) -> tuple[list[str], str, Iterator[tuple[int, list[str]]]]:
    """Return a sheet's header cells (stripped), its separator, and (line, cells) of each row."""
    text, delimiter = sheet_text(path)
    csv.field_size_limit(2**31 - 1)  # a cell of base64 image bytes (score) is megabytes long
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    headers = [h.strip() for h in next(reader, [])]

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num + 1
        for row in reader:
            yield line, row
            line = reader.line_num + 1

    return headers, delimiter, rows()


def sheet_rows(path: str | os.PathLike[str]) -> tuple[list[str], list[list[str]]]:
    """Read a sheet as its header cells and rows of cells, as the :mod:`csv` module parses it.

    Lenient where :func:`read_sheet` is strict: a row is read as it stands, short or long,
    which a collection system's export with ragged lines needs.

    Returns
    -------
    (list of str, list of list of str)
        The header cells (stripped) and every row that holds a non-blank cell.

    Raises
    ------
    DatasetError
        As :func:`sheet_text`.
    """
    headers, _, rows = _parsed(path)
    return headers, [row for _, row in rows if any(cell.strip() for cell in row)]


def read_sheet(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a sheet as a table of text: every cell a string, an empty cell ``""``.

    Parameters
    ----------
    path : path-like
        The CSV file: comma-, semicolon- or tab-separated, UTF-8 (with or without the
        byte-order mark) or UTF-16 with its mark.

    Returns
    -------
    pandas.DataFrame
        One column per header, one row per line that holds anything, indexed by the row's
        line in the file (the header is line 1), which a message about a row names. A short
        row's missing cells are empty; the empty cells a spreadsheet leaves past the last
        header are dropped.

    Raises
    ------
    DatasetError
        A missing or empty file, another encoding, two columns of one name, or a row with more
        filled cells than the header has names (a cell holding the separator without quotes).
    """
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    headers, delimiter, parsed = _parsed(path)
    while headers and not headers[-1]:
        headers.pop()               # a spreadsheet's trailing separators
    if not headers:
        raise DatasetError(f"{path} is empty: it needs a header line and a row per work")
    named = [h for h in headers if h]
    twice = next((h for h in named if named.count(h) > 1), None)
    if twice is not None:
        raise DatasetError(f"{path} has two columns named {twice!r}: rename or delete one")
    headers = [h or f"column {i + 1}" for i, h in enumerate(headers)]
    rows, lines = [], []
    for line, row in parsed:
        if any(cell.strip() for cell in row[len(headers):]):
            sep = {"\t": "a tab"}.get(delimiter, repr(delimiter))
            raise DatasetError(f"{path}, line {line}: {len(row)} cells under {len(headers)} "
                               f"headers; a cell that holds the separator ({sep}) needs "
                               "quotes: save it from the spreadsheet as CSV again")
        if any(cell.strip() for cell in row):
            rows.append(row[:len(headers)] + [""] * (len(headers) - len(row)))
            lines.append(line)
    return pd.DataFrame(rows, columns=headers, index=pd.Index(lines, name="line"), dtype=str)


def sheet_flag(value: str) -> bool | None:
    """Read a true/false cell in a spreadsheet's words; ``None`` when it is neither."""
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def sheet_number(value: str) -> float | None:
    """Read a number written with a decimal point or a decimal comma; ``None`` when it is none."""
    text = str(value).strip().replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None
