"""Sheets as spreadsheets save them: any locale's separator and encoding, read alike or refused."""

from __future__ import annotations

import codecs

import pandas as pd
import pytest

from mediumnet.data.sheets import read_sheet, sheet_flag, sheet_number, sheet_rows
from mediumnet.errors import DatasetError

ROWS = [["folder:prints/Dürer 1.tif", "Melencolia I, 1514", "Kupferstich"],
        ["folder:prints/2.tif", "Étude à l’eau", ""]]


def _saved(separator: str, encoding: str, newline: str) -> bytes:
    """The two rows as a spreadsheet saves them: quotes around a cell holding the separator,
    a trailing empty cell past the headers, a blank line, and a row of only separators."""
    def cell(text: str) -> str:
        return f'"{text}"' if separator in text else text

    lines = [separator.join(["id", "title", "label"]) + separator]
    lines += [separator.join(map(cell, ROWS[0])), "", separator.join(map(cell, ROWS[1])),
              separator * 2]
    return (newline.join(lines) + newline).encode(encoding)


@pytest.mark.parametrize(("separator", "encoding", "newline"), [
    (",", "utf-8", "\n"),                  # what mediumnet and most tools write
    (";", "utf-8-sig", "\r\n"),            # Excel's "CSV UTF-8" in a French or German locale
    ("\t", "utf-16", "\r\n"),              # Excel's "Unicode text"
])
def test_a_sheet_saved_in_any_locale_reads_alike(tmp_path, separator, encoding, newline):
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(_saved(separator, encoding, newline))
    table = read_sheet(sheet)
    assert list(table.columns) == ["id", "title", "label"]
    assert table.values.tolist() == ROWS
    assert list(table.index) == [2, 4]     # each row's line in the file, for messages
    headers, rows = sheet_rows(sheet)      # the lenient reading a harvest of an export uses
    assert headers == ["id", "title", "label", ""] and rows[0] == ROWS[0]


def test_the_tables_mediumnet_writes_open_in_a_spreadsheet_with_their_accents(tmp_path):
    from mediumnet.collection.page import write_table

    table = pd.DataFrame({"id": ["folder:Dürer.tif"], "title": ["Étude"], "flagged": [True]})
    written, _ = write_table(table, tmp_path / "audit.csv", tmp_path, title="Audit")
    assert written.read_bytes().startswith(codecs.BOM_UTF8)   # how Excel knows it is UTF-8
    assert read_sheet(written).values.tolist() == [["folder:Dürer.tif", "Étude", "True"]]
    assert pd.read_csv(written)["id"].tolist() == ["folder:Dürer.tif"]


def test_a_sheet_in_the_windows_code_page_is_refused_with_the_byte_and_what_to_do(tmp_path):
    sheet = tmp_path / "ansi.csv"
    sheet.write_bytes("id,label\nw1,Étude\n".encode("cp1252"))
    with pytest.raises(DatasetError, match=r"ansi.csv is not UTF-8 text \(byte 13\): save it as "
                                           "CSV UTF-8 and try again"):
        read_sheet(sheet)


@pytest.mark.parametrize(("text", "message"), [
    ("id,label\n\nw1,oil, on canvas\n", r"line 3: 3 cells under 2 headers; a cell that holds "
                                        r"the separator \(','\) needs quotes"),
    ("id;label;label\nw1;a;b\n", "has two columns named 'label': rename or delete one"),
    ("", "is empty: it needs a header line and a row per work"),
    ("\n\n", "is empty"),
])
def test_a_sheet_that_does_not_read_as_a_table_is_refused_in_one_line(tmp_path, text, message):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_sheet(sheet)


def test_a_cell_of_base64_image_bytes_reads_whole(tmp_path):
    image = "A" * 3_000_000                # past the csv module's default 131,072 characters
    sheet = tmp_path / "batch.csv"
    sheet.write_text(f"image\n{image}\n")
    assert read_sheet(sheet)["image"].str.len().tolist() == [3_000_000]


@pytest.mark.parametrize(("cell", "flag"), [
    ("True", True), ("FALSE", False), ("VRAI", True), ("faux", False), ("WAHR", True),
    ("Falsch", False), ("ONWAAR", False), ("FALSO", False), ("1", True), (" 0 ", False),
    ("", None), ("maybe", None),
])
def test_true_and_false_are_read_in_a_spreadsheets_words(cell, flag):
    assert sheet_flag(cell) is flag


@pytest.mark.parametrize(("cell", "number"), [
    ("0.973", 0.973), ("0,973", 0.973), (" 1 ", 1.0), ("high", None), ("", None),
])
def test_a_decimal_comma_is_a_number(cell, number):
    assert sheet_number(cell) == number


def test_two_writers_of_one_table_at_once_leave_a_whole_file(tmp_path):
    """Two audits of one data set at once: the table stands whole, the later's, no mix."""
    from mediumnet.collection.page import replace_file

    table = tmp_path / "audit.csv"

    def first(part):
        part.write_text("id,label\nfirst-a,painting\n")
        replace_file(table, lambda other: other.write_text("id,label\nsecond,drawing\n"))
        with part.open("a") as rest:   # the first writer goes on after the second finished
            rest.write("first-b,engraving\n")

    replace_file(table, first)
    assert table.read_text() == "id,label\nfirst-a,painting\nfirst-b,engraving\n"
    assert not list(tmp_path.glob(".*part"))
