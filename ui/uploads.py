"""Uploaded CSV files -> checked tensors, with specific, translatable error messages.

Pure functions over bytes, without streamlit, so that they are unit-testable: a page calls
`read_csv(uploaded.getvalue(), uploaded.name)`, offers `numeric_columns(df)` as features and
passes the learner's choice to `to_tensors`, which hands dlcore plain tensors. A note above the
header (scikit-learn's files start with "178,13,class_0,class_1,class_2") is found by
`lines_above_header`, and read_csv's `skip` leaves it out. Every problem is an `UploadError`
whose `key` names a message in ui/content/<lang>/uploads.toml; `message(error, lang)` fills it
in. User values in an error (cells, column names) are cut to 30 characters, and `message`
escapes them for Markdown; none of it is meant for `unsafe_allow_html`.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ui import i18n

MAX_BYTES = 2_000_000
MAX_ROWS = 20_000
MAX_COLS = 50
MIN_ROWS = 10  # fewer rows than this left after cleaning: too few to split and train on
MAX_CLASSES = 20
# A numeric column may hold up to this fraction of unreadable cells ("12 kg", "#REF!"): they
# count as missing and their rows are dropped (and reported). More than that: not numeric.
MAX_BAD_FRACTION = 0.05
QUOTE_LIMIT = 30  # characters of any user value quoted in a message
MAX_SKIP = 20  # lines above the header that lines_above_header finds and read_csv may skip

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
# Cells that mean "no value", compared after stripping and lower-casing.
MISSING: frozenset[str] = frozenset(
    {"", "na", "n/a", "nan", "null", "none", "<na>", "#n/a", "?", "-", "--", "missing"}
)
TASKS: tuple[str, ...] = ("auto", "classification", "regression")
Task = Literal["auto", "classification", "regression"]

SAMPLES_DIR = Path(__file__).parent / "samples"
SAMPLES: tuple[str, ...] = (
    "blobs_3_classes.csv",
    "regression_semicolon_decimal_comma.csv",
    "housing_small.csv",
)

# Every message key raised below; each has a text in ui/content/{en,zh}/uploads.toml.
KEYS: tuple[str, ...] = (
    "upload_too_big",
    "upload_empty",
    "upload_skipped_everything",
    "upload_image",
    "upload_pdf",
    "upload_excel",
    "upload_archive",
    "upload_html",
    "upload_binary",
    "upload_unreadable",
    "upload_ragged",
    "upload_quote",
    "upload_too_many_columns",
    "upload_too_many_rows",
    "upload_one_column",
    "upload_duplicate_column",
    "upload_header_only",
    "upload_no_header",
    "upload_no_features",
    "upload_unknown_column",
    "upload_target_is_feature",
    "upload_no_numeric_features",
    "upload_column_empty",
    "upload_feature_not_numeric",
    "upload_target_not_numeric",
    "upload_not_finite",
    "upload_all_rows_dropped",
    "upload_too_few_rows",
    "upload_one_class",
    "upload_too_many_classes",
    "upload_constant_target",
    # images (read_image)
    "image_too_big",
    "image_empty",
    "image_not_image",
    "image_format",
    "image_corrupt",
    "image_too_many_pixels",
    "image_animated",
)


class UploadError(ValueError):
    """A problem with an uploaded file: `key` names the message in ui/content, `values` fill it."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def short(value: object) -> str:
    """`value` as one line of at most QUOTE_LIMIT characters, for quoting in a message."""
    # Control characters, and the invisible bidi/zero-width marks that could disguise a value.
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]+", " ", str(value))
    text = text.strip()
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1] + "…"


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&:])")


def escape_markdown(text: str) -> str:
    """Text that Markdown shows literally: every markup character backslash-escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def fill(key: str, lang: str, **values: object) -> str:
    """Text `key` of uploads.toml in `lang`, string values escaped for Markdown to show as is."""
    template = i18n.texts("uploads", lang).get(key, key)
    # Backslash-escaped punctuation renders as itself: no links, HTML, LaTeX or emphasis.
    escaped = {k: escape_markdown(v) if isinstance(v, str) else v for k, v in values.items()}
    return template.format(**escaped)


def message(error: UploadError, lang: str) -> str:
    """The error's text in `lang`, user values escaped so Markdown shows them literally."""
    return fill(error.key, lang, **error.values)


DELIMITER_KEYS: dict[str, str] = {
    ",": "upload_delimiter_comma",
    ";": "upload_delimiter_semicolon",
    "\t": "upload_delimiter_tab",
    "|": "upload_delimiter_pipe",
}
DECIMAL_KEYS: dict[str, str] = {".": "upload_decimal_point", ",": "upload_decimal_comma"}


def reading_note(df: pd.DataFrame, lang: str) -> str:
    """'Read as UTF-8, columns separated by commas, ...' for a table from read_csv, in lang."""
    texts = i18n.texts("uploads", lang)
    return texts["upload_read_as"].format(
        encoding=df.attrs.get("encoding", "?"),
        delimiter=texts[DELIMITER_KEYS.get(df.attrs.get("delimiter", ","), DELIMITER_KEYS[","])],
        decimal=texts[DECIMAL_KEYS.get(df.attrs.get("decimal", "."), DECIMAL_KEYS["."])],
    )


# --- bytes -> text -------------------------------------------------------------------------------

# Leading bytes of formats that learners upload by mistake: (magic, message key, format name).
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "upload_image", "PNG"),
    (b"\xff\xd8\xff", "upload_image", "JPEG"),
    (b"GIF87a", "upload_image", "GIF"),
    (b"GIF89a", "upload_image", "GIF"),
    (b"%PDF", "upload_pdf", "PDF"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "upload_excel", "XLS"),  # OLE2: Excel 97-2003
    (b"\x1f\x8b", "upload_archive", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "upload_archive", "7z"),
    (b"Rar!\x1a\x07", "upload_archive", "RAR"),
)
# Names inside a ZIP that make it a spreadsheet: Excel's .xlsx and LibreOffice's .ods.
_SPREADSHEET_PARTS = (b"xl/", b"[Content_Types].xml", b"opendocument.spreadsheet")
_EXCEL_SUFFIXES = (".xls", ".xlsx", ".xlsm", ".ods", ".numbers")
_HIGH_RUN = re.compile(rb"[\x80-\xff]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def _reject_non_text(data: bytes, name: str) -> None:
    """Raise for content that is clearly not a CSV: known binary formats, NUL bytes."""
    for magic, key, kind in _MAGIC:
        if data.startswith(magic):
            raise UploadError(key, kind=kind)
    if data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if any(part in data for part in _SPREADSHEET_PARTS):
            raise UploadError("upload_excel", kind="XLSX")
        raise UploadError("upload_archive", kind="ZIP")
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        raise UploadError("upload_html")
    if b"\x00" in data:
        if name.lower().endswith(_EXCEL_SUFFIXES):
            raise UploadError("upload_excel", kind=name.rsplit(".", 1)[-1].upper())
        raise UploadError("upload_binary")


def _looks_double_byte(data: bytes) -> bool:
    """Every run of bytes >= 0x80 has an even length, as in Chinese text (two bytes a character).

    Western Windows text (cp1252: é, ü, ß) has single high bytes between letters, and GBK would
    read "Müller" as "M" + one CJK character + "ler" rather than fail.
    """
    return all(len(run) % 2 == 0 for run in _HIGH_RUN.findall(data))


def _decode(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-16 with a BOM, UTF-8 (BOM or not), GBK, else latin-1."""
    # Excel's "Unicode text" export is UTF-16 with a BOM; its NUL bytes were let through above.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            pass
    for codec, label in (("utf-8-sig", "UTF-8"), ("gbk", "GBK")):
        if codec == "gbk" and not _looks_double_byte(data):
            continue
        try:
            text = data.decode(codec)
        except UnicodeDecodeError:
            continue
        if codec == "utf-8-sig" and data.startswith(b"\xef\xbb\xbf"):
            label = "UTF-8 (BOM)"
        return text, label
    # latin-1 maps every byte to a character, so this never fails (nor is it always right).
    return data.decode("latin-1"), "latin-1"


def _text(data: bytes, name: str) -> tuple[str, str]:
    """The file as text and the encoding it was read with, or UploadError if it is not text."""
    if not data.strip():
        raise UploadError("upload_empty")
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        _reject_non_text(data, name)
    text, encoding = _decode(data)
    text = text.lstrip("\ufeff").rstrip("\x1a")  # a stray BOM; a DOS end-of-file mark
    # Real text has (almost) no control characters; random or binary bytes have many.
    if len(_CONTROL.findall(text)) > max(2, len(text) // 100):
        raise UploadError("upload_binary")
    if not text.strip():
        raise UploadError("upload_empty")
    return text, encoding


# --- text -> table -------------------------------------------------------------------------------

_SAMPLE_CHARS = 64_000
_SAMPLE_LINES = 50


def _sample_lines(text: str) -> list[str]:
    """Up to 50 non-blank lines from the start of the text (a cut-off last line left out)."""
    sample = text[:_SAMPLE_CHARS]
    lines = sample.splitlines()
    if len(text) > _SAMPLE_CHARS and len(lines) > 1:
        lines = lines[:-1]
    return [line for line in lines if line.strip()][:_SAMPLE_LINES]


def _field_counts(lines: list[str], delimiter: str) -> list[int]:
    """Fields per record of the sample when split by `delimiter` (quotes respected)."""
    try:
        return [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
    except csv.Error:
        return []


def _delimiter_score(counts: list[int]) -> tuple[bool, float, int]:
    """(every line agrees, share of lines with the usual count, that count): higher is better."""
    if not counts:
        return (False, 0.0, 0)
    usual = max(set(counts), key=counts.count)
    return (all(c == usual for c in counts), counts.count(usual) / len(counts), usual)


# csv.Sniffer's quote-finding regex takes time quadratic in the length of a line (a minute for
# 60 KB of ',"'), so it only ever sees this many characters of whole lines.
_SNIFF_CHARS = 2_000


def _sniffer_guess(lines: list[str]) -> str | None:
    """csv.Sniffer's delimiter for the first lines (at most _SNIFF_CHARS), or None."""
    sample: list[str] = []
    size = 0
    for line in lines:
        size += len(line) + 1
        if size > _SNIFF_CHARS:
            break
        sample.append(line)
    if not sample:
        return None
    try:
        return csv.Sniffer().sniff("\n".join(sample), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        return None


def _sniff_delimiter(lines: list[str]) -> str:
    """The delimiter among , ; tab | that splits every sampled line into the same (>= 2) fields."""
    scores = {d: _delimiter_score(_field_counts(lines, d)) for d in DELIMITERS}
    steady = [d for d in DELIMITERS if scores[d][0] and scores[d][2] >= 2]
    if len(steady) == 1:
        return steady[0]
    if steady:
        # Several split every line evenly (rare: say "a,b;c,d" lines): csv.Sniffer decides,
        # else the more common delimiter.
        guess = _sniffer_guess(lines)
        return guess if guess in steady else steady[0]
    # None is steady (ragged rows, a title line): the usual split of most lines wins, ties to
    # the more common delimiter, and pandas then names the line that does not fit.
    best = max(DELIMITERS, key=lambda d: scores[d][1:] if scores[d][2] >= 2 else (0.0, 0))
    return best if scores[best][2] >= 2 else ","


def _parse(text: str, delimiter: str, max_rows: int, skipped: int) -> pd.DataFrame:
    """Every cell as a string, the header as row 0, at most max_rows + 1 data rows.

    `skipped` lines were cut off the top of the file: error messages count them, so that a line
    number is the one the learner sees in an editor.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                header=None,  # the header is checked by hand: pandas would rename duplicates
                dtype=str,
                na_filter=False,  # missing values are recognised by hand (MISSING)
                skip_blank_lines=True,
                engine="c",
                nrows=max_rows + 2,  # header + one row more than allowed, to notice the excess
            )
    except pd.errors.EmptyDataError:
        raise UploadError("upload_empty") from None
    except pd.errors.ParserError as e:
        raise _parser_error(str(e), skipped) from None
    except (csv.Error, ValueError, OverflowError, MemoryError):
        # Anything else the parser chokes on is reported plainly rather than as a crash.
        raise UploadError("upload_unreadable") from None


def _parser_error(text: str, skipped: int) -> UploadError:
    """The specific UploadError for a pandas ParserError message, lines counted in the file."""
    ragged = re.search(r"Expected (\d+) fields? in line (\d+), saw (\d+)", text)
    if ragged:
        expected, line, found = (int(g) for g in ragged.groups())
        return UploadError("upload_ragged", line=line + skipped, expected=expected, found=found)
    quote = re.search(r"EOF inside string starting at row (\d+)", text)
    if quote:
        return UploadError("upload_quote", line=int(quote.group(1)) + 1 + skipped)
    return UploadError("upload_unreadable")


def _names(header: list[str], positions: list[int]) -> list[str]:
    """Column names: stripped of spaces and BOMs, and 'column 3' for an empty one."""
    names = [h.strip("\ufeff").strip() for h in header]
    return [name or f"column {i + 1}" for name, i in zip(names, positions, strict=True)]


def _normalise_cells(column: pd.Series) -> pd.Series:
    """Strip each cell; empty cells and markers such as NA, n/a, ? become missing (NaN)."""
    cells = column.str.strip()
    return cells.mask(cells.str.lower().isin(MISSING))


# A number written with a decimal comma, optionally with dots grouping thousands: 1,5  -0,25
# 1.234,5  ,5  1,5e-3. Only used when the delimiter is not a comma.
_COMMA_NUMBER = r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d*),\d+(?:[eE][+-]?\d+)?"


def _uses_decimal_comma(table: pd.DataFrame, delimiter: str) -> bool:
    """True when the delimiter is not a comma and some cell is a decimal-comma number."""
    if delimiter == ",":
        return False
    return any(
        bool(column.str.fullmatch(_COMMA_NUMBER).fillna(False).any()) for _, column in table.items()
    )


def _looks_like_data(names: list[str], decimal: str) -> bool:
    """True when the header row is numbers, so the file has no header: 1.5,2 but not 2019,2020."""
    values, _ = _to_number(pd.Series(names, dtype="string"), decimal)
    if np.isnan(values).any():
        return False
    # Distinct whole numbers can be names (years, sizes); fractions or repeats are data.
    names_like = np.all(values == np.round(values)) and len(set(values.tolist())) == len(values)
    return not names_like


def read_csv(
    data: bytes,
    name: str,
    *,
    skip: int = 0,
    max_bytes: int = MAX_BYTES,
    max_rows: int = MAX_ROWS,
    max_cols: int = MAX_COLS,
) -> pd.DataFrame:
    """The CSV in `data` as a DataFrame: numeric columns as numbers, the rest as stripped text.

    Checks size before anything else, then that the bytes are text at all; decodes UTF-8 (with
    or without BOM), UTF-16 with BOM, GBK, else latin-1; finds the delimiter among , ; tab |;
    reads decimal commas when the delimiter is not a comma. Fully empty rows are skipped. The
    index counts data rows from 1; `df.attrs` records encoding, delimiter and decimal mark.
    The first `skip` lines of the file (blank ones included) are left out: a note above the
    header, as `lines_above_header` finds it.
    """
    if skip < 0:
        raise ValueError(f"skip must be >= 0, got {skip}")
    size = len(data)
    if size > max_bytes:
        raise UploadError("upload_too_big", size_mb=size / 1e6, limit_mb=max_bytes / 1e6)
    text, encoding = _text(bytes(data), name)
    if skip:
        text = _after_lines(text, skip)
        if not text.strip():
            raise UploadError("upload_skipped_everything", skip=skip)

    lines = _sample_lines(text)
    delimiter = _sniff_delimiter(lines)
    # Counted on the whole first line, before pandas builds a column per field.
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    header_fields = _field_counts([first_line], delimiter)
    if header_fields and header_fields[0] > max_cols:
        raise UploadError("upload_too_many_columns", count=header_fields[0], limit=max_cols)

    raw = _parse(text, delimiter, max_rows, skip)
    if raw.empty:
        raise UploadError("upload_empty")
    header = [str(cell).strip() for cell in raw.iloc[0].tolist()]
    body = raw.iloc[1:]
    cells = [_normalise_cells(body[c]) for c in raw.columns]
    # A delimiter at the end of every line makes a nameless, empty last column: not data.
    used = [i for i, col in enumerate(cells) if header[i] or col.notna().any()]
    names = _names([header[i] for i in used], used)
    table = pd.DataFrame({i: cells[i] for i in used})
    table.columns = names
    table = table.dropna(how="all")  # rows of empty cells (Excel's trailing ",,,")

    if not names:
        raise UploadError("upload_empty")
    if len(names) > max_cols:
        raise UploadError("upload_too_many_columns", count=len(names), limit=max_cols)
    if len(names) == 1:
        raise UploadError("upload_one_column", column=short(names[0]))
    if len(table) > max_rows:
        raise UploadError("upload_too_many_rows", limit=max_rows)
    decimal = "," if _uses_decimal_comma(table, delimiter) else "."
    if _looks_like_data(names, decimal):
        raise UploadError("upload_no_header", example=short(names[0]))
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UploadError("upload_duplicate_column", column=short(duplicates[0]))
    if table.empty:
        raise UploadError("upload_header_only", columns=len(names))

    for c in names:
        values, bad = _to_number(table[c], decimal)
        if not bad.any() and not np.isnan(values).all():
            table[c] = _as_number_column(values)
    table.index = pd.RangeIndex(1, len(table) + 1)
    table.attrs.update(encoding=encoding, delimiter=delimiter, decimal=decimal)
    return table


def _as_number_column(values: np.ndarray) -> np.ndarray:
    """int64 when every value is a whole number (and none missing), else float64."""
    finite = np.isfinite(values)
    if finite.all() and np.all(values == np.round(values)) and np.all(np.abs(values) < 2**53):
        return values.astype(np.int64)
    return values


# --- a note above the header ------------------------------------------------------------------

# Line ends as pandas' parser counts them: a lone \r (old Mac files) ends a line too.
_LINE_END = re.compile(r"\r\n|\r|\n")


def _after_lines(text: str, skip: int) -> str:
    """The text after its first `skip` lines ("" if it has no more)."""
    for count, end in enumerate(_LINE_END.finditer(text), start=1):
        if count == skip:
            return text[end.end() :]
    return ""


def _split(line: str, delimiter: str) -> list[str]:
    """One line's fields, quotes respected ([] if the line does not parse on its own)."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return []


def _is_header(cells: list[str], rows: list[list[str]], decimal: str) -> bool:
    """True when `cells` read as column names for `rows`: some text, no number over numbers."""
    names, _ = _to_number(pd.Series(cells, dtype="string"), decimal)
    named = pd.Series(cells, dtype="string").str.strip().str.lower()
    if not (np.isnan(names) & ~named.isin(MISSING).to_numpy(dtype=bool)).any():
        return False  # numbers and gaps only: a data row, not names
    body = pd.DataFrame(rows, dtype="string")
    for j, value in enumerate(names):
        # A number above a column of numbers is data (a row with row names, say): not a header.
        if not np.isnan(value) and _mostly_numbers(*_to_number(body[j], decimal)):
            return False
    return True


def _header_position(rows: list[list[str]], decimal: str) -> int:
    """Index of the header among the non-blank `rows` when shorter rows stand above it, else 0."""
    widths = [len(row) for row in rows]
    usual = max(set(widths), key=widths.count)
    header = next((i for i, width in enumerate(widths) if width >= usual), 0)
    if usual < 2 or header == 0 or widths[header] != usual:
        return 0
    body = [row for row in rows[header + 1 :] if len(row) == usual]
    return header if body and _is_header(rows[header], body, decimal) else 0


def lines_above_header(data: bytes, name: str, *, max_bytes: int = MAX_BYTES) -> list[str]:
    """The lines above the header row (blank ones included), [] when the file starts with it.

    A note above the header has fewer fields than the rows below, and the first line that has
    as many reads as column names. Only the first MAX_SKIP lines can be such a note. Files that
    read_csv refuses anyway (too big, not text) have none, so that it reports them.
    """
    if len(data) > max_bytes:
        return []
    try:
        text, _ = _text(bytes(data), name)
    except UploadError:
        return []
    lines = _LINE_END.split(text[:_SAMPLE_CHARS])
    if len(text) > _SAMPLE_CHARS:
        lines = lines[:-1]  # cut off mid-line
    filled = [i for i, line in enumerate(lines) if line.strip()][: MAX_SKIP + _SAMPLE_LINES]
    delimiter = _sniff_delimiter([lines[i] for i in filled])
    rows = [_split(lines[i], delimiter) for i in filled]
    header = _header_position(rows, "," if delimiter != "," else ".")
    skip = filled[header] if filled else 0
    return lines[:skip] if skip <= MAX_SKIP else []


# --- table -> tensors ----------------------------------------------------------------------------


def _decimal_of(df: pd.DataFrame) -> str:
    """The decimal mark read_csv found; a DataFrame from elsewhere accepts decimal commas."""
    return df.attrs.get("decimal", ",")


def _to_number(column: pd.Series, decimal: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, bad): float64 values with NaN where missing or unreadable; bad marks unreadable."""
    if pd.api.types.is_numeric_dtype(column.dtype):
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
        return values, np.zeros(len(values), dtype=bool)
    cells = column.astype("string").str.strip()
    missing = (cells.isna() | cells.str.lower().isin(MISSING)).to_numpy(dtype=bool)
    if decimal == ",":
        # 1.234,5 -> 1234.5: drop the thousands dots, then the comma becomes the decimal point.
        comma = cells.str.fullmatch(_COMMA_NUMBER).fillna(False)
        dotted = cells.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        cells = cells.where(~comma, dotted)
    numbers = pd.to_numeric(cells.mask(missing), errors="coerce")
    values = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isnan(values) & ~missing


def _mostly_numbers(values: np.ndarray, bad: np.ndarray) -> bool:
    """At least one number, and unreadable cells at most MAX_BAD_FRACTION of the filled ones."""
    readable = int((~np.isnan(values)).sum())
    unreadable = int(bad.sum())
    return readable > 0 and unreadable <= MAX_BAD_FRACTION * (readable + unreadable)


def read_text(data: bytes, name: str) -> tuple[str, str]:
    """The file as text and the encoding it was read with; UploadError as read_csv gives it."""
    return _text(bytes(data), name)


def number_column(df: pd.DataFrame, column: str) -> np.ndarray:
    """(n,) float64 values of one column in the table's decimal mark, NaN where missing;
    UploadError if it is not numeric."""
    return _feature_values(df, column, _decimal_of(df))


def numeric_columns(df: pd.DataFrame) -> list[str]:
    """The columns that read as numbers (decimal commas allowed), in the table's order."""
    decimal = _decimal_of(df)
    return [c for c in df.columns if _mostly_numbers(*_to_number(df[c], decimal))]


@dataclass(frozen=True, eq=False)
class Prepared:
    """A table turned into tensors for dlcore, with what the learner should be told."""

    X: Tensor  # (n, F) float32
    y: Tensor  # (n,) int64 class indices, or (n, 1) float32 regression targets
    task: str  # "classification" or "regression", as decided
    classes: list[str]  # the original labels, sorted; y indexes them ([] for regression)
    dropped_rows: int  # rows left out for missing or unreadable values
    features: list[str]
    target: str


def _first(mask: np.ndarray) -> int:
    """Position of the first True in mask."""
    return int(np.flatnonzero(mask)[0])


def _feature_values(df: pd.DataFrame, column: str, decimal: str) -> np.ndarray:
    """(n,) float64 feature column, NaN where missing; UploadError if it is not numeric."""
    values, bad = _to_number(df[column], decimal)
    if not bad.any() and np.isnan(values).all():
        raise UploadError("upload_column_empty", column=short(column))
    if not _mostly_numbers(values, bad):
        i = _first(bad)
        raise UploadError(
            "upload_feature_not_numeric",
            column=short(column),
            value=short(df[column].iloc[i]),
            row=i + 1,
        )
    _check_finite(df, column, values)
    return values


def _check_finite(df: pd.DataFrame, column: str, values: np.ndarray) -> None:
    """UploadError for inf, or for a value too large for float32 (it would become inf)."""
    too_large = np.isinf(values) | (np.abs(np.nan_to_num(values)) > np.finfo(np.float32).max)
    if too_large.any():
        i = _first(too_large)
        raise UploadError(
            "upload_not_finite", column=short(column), value=short(df[column].iloc[i]), row=i + 1
        )


def _label(value: float) -> str:
    """A numeric class label as written: 3 for 3.0, 2.5 for 2.5."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _auto_task(values: np.ndarray) -> str:
    """Classification for a few whole-number values, else regression (see to_tensors)."""
    if not np.all(values == np.round(values)):
        return "regression"
    k = len(np.unique(values))
    return "classification" if k == 2 or k <= min(MAX_CLASSES, 0.05 * len(values)) else "regression"


def to_tensors(df: pd.DataFrame, features: list[str], target: str, task: Task = "auto") -> Prepared:
    """X (n, F) float32 from the feature columns and y from the target, rows with gaps dropped.

    task "auto" picks classification when the target is not numeric, or when it holds whole
    numbers only with k distinct values where k = 2, or k <= 20 and k <= 5% of the rows (so
    every class has about 20 rows or more); anything else is regression. Classification needs
    2 to 20 classes; classes keep their original labels, sorted (numerically when numeric).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    features = list(features)
    for column in [*features, target]:
        if column not in df.columns:
            raise UploadError("upload_unknown_column", column=short(column))
    # Before "no features": with no numeric column there is nothing the learner could pick.
    if not [c for c in numeric_columns(df) if c != target]:
        raise UploadError("upload_no_numeric_features")
    if not features:
        raise UploadError("upload_no_features")
    if target in features:
        raise UploadError("upload_target_is_feature", column=short(target))

    decimal = _decimal_of(df)
    X = np.stack([_feature_values(df, c, decimal) for c in features], axis=1)  # (rows, F)
    keep = ~np.isnan(X).any(axis=1)  # (rows,)

    t_values, t_bad = _to_number(df[target], decimal)
    labels = df[target].astype("string").str.strip()
    label_missing = (labels.isna() | labels.str.lower().isin(MISSING)).to_numpy(dtype=bool)
    if label_missing.all():
        raise UploadError("upload_column_empty", column=short(target))
    target_numeric = _mostly_numbers(t_values, t_bad)
    if target_numeric:
        _check_finite(df, target, t_values)
        keep &= ~np.isnan(t_values)
    elif task == "regression":
        i = _first(t_bad)
        raise UploadError(
            "upload_target_not_numeric",
            column=short(target),
            value=short(labels.iloc[i]),
            row=i + 1,
        )
    else:
        keep &= ~label_missing

    n_kept = int(keep.sum())
    if n_kept == 0:
        raise UploadError("upload_all_rows_dropped", rows=len(df))
    if task == "auto":
        task = _auto_task(t_values[keep]) if target_numeric else "classification"
    if n_kept < MIN_ROWS:
        raise UploadError(
            "upload_too_few_rows", count=n_kept, minimum=MIN_ROWS, dropped=len(df) - n_kept
        )

    X_t = torch.tensor(X[keep], dtype=torch.float32)  # (n, F)
    common = {"dropped_rows": len(df) - n_kept, "features": features, "target": target}
    if task == "regression":
        y = t_values[keep]
        if np.all(y == y[0]):
            raise UploadError("upload_constant_target", column=short(target), value=_label(y[0]))
        y_t = torch.tensor(y, dtype=torch.float32).unsqueeze(1)  # (n, 1)
        return Prepared(X_t, y_t, "regression", [], **common)

    # Classification: labels are the numbers when the target is numeric, else the text.
    if target_numeric:
        kept = t_values[keep]
        uniques = np.unique(kept)  # sorted numerically
        classes = [_label(v) for v in uniques]
        index = np.searchsorted(uniques, kept)
    else:
        kept_labels = labels.to_numpy(dtype=object)[keep]
        classes = sorted(set(kept_labels))
        lookup = {label: i for i, label in enumerate(classes)}
        index = np.array([lookup[v] for v in kept_labels], dtype=np.int64)
    if len(classes) < 2:
        raise UploadError("upload_one_class", column=short(target), label=short(classes[0]))
    if len(classes) > MAX_CLASSES:
        raise UploadError("upload_too_many_classes", count=len(classes), limit=MAX_CLASSES)
    y_t = torch.tensor(index, dtype=torch.int64)  # (n,)
    return Prepared(X_t, y_t, "classification", classes, **common)


_PARSED_KEY = "_uploaded_table"  # where parse_once keeps a session's table
_ABOVE_KEY = "_uploaded_lines_above_header"  # where lines_above_header_once keeps its answer


def parse_once(store: MutableMapping[str, Any], file: Any, skip: int = 0) -> pd.DataFrame:
    """read_csv of an uploaded file, kept in `store` (a session's state) until another arrives.

    `file` is what st.file_uploader returns (file_id, name, getvalue()); a session keeps one
    parsed table, so reruns skip the parsing and nothing is shared with other sessions. A new
    `skip` reads the file again.
    """
    cached = store.get(_PARSED_KEY)
    if cached is None or cached[0] != (file.file_id, skip):
        cached = ((file.file_id, skip), read_csv(file.getvalue(), file.name, skip=skip))
        store[_PARSED_KEY] = cached
    return cached[1]


def lines_above_header_once(store: MutableMapping[str, Any], file: Any) -> list[str]:
    """lines_above_header of an uploaded file, kept in `store` like parse_once's table."""
    cached = store.get(_ABOVE_KEY)
    if cached is None or cached[0] != file.file_id:
        cached = (file.file_id, lines_above_header(file.getvalue(), file.name))
        store[_ABOVE_KEY] = cached
    return cached[1]


def sample_path(name: str) -> Path:
    """Path of one of the SAMPLES files a page offers for download."""
    if name not in SAMPLES:
        raise ValueError(f"unknown sample {name!r}; valid: {', '.join(SAMPLES)}")
    return SAMPLES_DIR / name


# --- images --------------------------------------------------------------------------------------

IMAGE_MAX_BYTES = 10_000_000
# Pixels a header may announce before anything is decoded: a small PNG can unpack to gigabytes.
IMAGE_MAX_PIXELS = 25_000_000
IMAGE_MAX_SIDE = 256  # the longer side after resizing: every filter redraws in a few ms
IMAGE_FORMATS: tuple[str, ...] = ("PNG", "JPEG")


@dataclass(frozen=True)
class ImageUpload:
    """A checked image: pixels in [0, 1], its size as uploaded and as used."""

    pixels: np.ndarray  # (H, W, C) float32, C = 1 (grey) or 3 (RGB)
    original: tuple[int, int]  # (width, height) of the file
    size: tuple[int, int]  # (width, height) after resizing to at most IMAGE_MAX_SIDE
    format: str  # "PNG" or "JPEG"

    @property
    def grey(self) -> bool:
        return self.pixels.shape[2] == 1

    @property
    def resized(self) -> bool:
        return self.original != self.size


def _open_image(data: bytes) -> Any:
    """PIL's lazily opened image (header read, nothing decoded), or UploadError."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Above PIL's own bomb limit it warns, then raises: the pixel count is checked here.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as err:
        # PIL refuses before we can ask the size; its message has it: "Image size (N pixels)".
        found = re.search(r"\((\d+) pixels\)", str(err))
        pixels = int(found.group(1)) if found else 2 * (Image.MAX_IMAGE_PIXELS or 0)
        raise UploadError("image_too_many_pixels", pixels=pixels, limit=IMAGE_MAX_PIXELS) from None
    except UnidentifiedImageError:
        raise UploadError("image_not_image") from None
    except (OSError, ValueError, SyntaxError):
        raise UploadError("image_corrupt") from None


def _as_grey_or_rgb(image: Any) -> Any:
    """The decoded image as 8-bit "L" or "RGB"; transparency laid over white, as viewers show it."""
    from PIL import Image

    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit (or wider) grey: scaled to 8 bits, which is all a picture on the page needs.
        full = 65535.0 if image.mode != "F" else 1.0
        grey = np.clip(np.asarray(image, dtype=np.float64) / full * 255.0, 0, 255)
        return Image.fromarray(grey.astype(np.uint8), "L")
    if image.mode in ("1", "L"):
        return image.convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if "A" in image.mode:
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        composed = Image.alpha_composite(background, image.convert("RGBA"))
        return composed.convert("L" if image.mode in ("LA", "La") else "RGB")
    return image.convert("RGB")


def read_image(data: bytes, name: str, max_side: int = IMAGE_MAX_SIDE) -> ImageUpload:
    """An uploaded PNG or JPEG, grey or RGB, resized to at most `max_side` pixels a side.

    Checked before decoding: size in bytes, a format PIL recognises, the pixel count in the
    header (decompression bombs) and animation (one frame only); then decoded, where a truncated
    or damaged file fails.
    """
    if not data:
        raise UploadError("image_empty")
    if len(data) > IMAGE_MAX_BYTES:
        raise UploadError(
            "image_too_big", size_mb=len(data) / 1e6, limit_mb=IMAGE_MAX_BYTES / 1e6
        )
    image = _open_image(data)
    if image.format not in IMAGE_FORMATS:
        raise UploadError("image_format", kind=short(image.format or name.rsplit(".", 1)[-1]))
    width, height = image.size
    if width * height > IMAGE_MAX_PIXELS:
        raise UploadError("image_too_many_pixels", pixels=width * height, limit=IMAGE_MAX_PIXELS)
    if getattr(image, "n_frames", 1) > 1:  # an animated PNG
        raise UploadError("image_animated", frames=image.n_frames)
    kind = image.format
    try:
        image.load()
        image = _as_grey_or_rgb(image)
    except (OSError, ValueError, SyntaxError):
        raise UploadError("image_corrupt") from None
    from PIL import Image

    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)  # keeps the aspect ratio
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]  # (H, W, 1)
    return ImageUpload(pixels, (width, height), image.size, kind)
