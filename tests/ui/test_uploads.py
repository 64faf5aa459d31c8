"""ui.uploads: real CSV formats parse to the right numbers; broken files get their own message."""

from __future__ import annotations

import io
import re
import string
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ui import uploads as U
from ui.i18n import CONTENT, LANGUAGES

SOURCE = Path(U.__file__).read_text(encoding="utf-8")


def read(data: bytes, name: str = "data.csv", **limits: int) -> pd.DataFrame:
    return U.read_csv(data, name, **limits)


def fails(key: str, data: bytes, name: str = "data.csv", **limits: int) -> U.UploadError:
    """read_csv raises UploadError(key), whose message formats in every language."""
    with pytest.raises(U.UploadError) as info:
        U.read_csv(data, name, **limits)
    assert info.value.key == key, info.value.values
    for lang in LANGUAGES:
        U.message(info.value, lang)
    return info.value


def fails_to_convert(key: str, df: pd.DataFrame, features, target, task="auto") -> U.UploadError:
    with pytest.raises(U.UploadError) as info:
        U.to_tensors(df, features, target, task)
    assert info.value.key == key, info.value.values
    for lang in LANGUAGES:
        U.message(info.value, lang)
    return info.value


def table(rows: list[str], header: str = "x1,x2,y") -> bytes:
    return (header + "\n" + "\n".join(rows) + "\n").encode()


# --- formats that must parse ----------------------------------------------------------------------


def test_utf8() -> None:
    df = read(b"x1,x2,label\n1.5,-2,a\n3e2,4,b\n")
    assert list(df.columns) == ["x1", "x2", "label"]
    assert df["x1"].tolist() == [1.5, 300.0] and df["x2"].tolist() == [-2, 4]
    assert df["label"].tolist() == ["a", "b"]
    assert df.attrs == {"encoding": "UTF-8", "delimiter": ",", "decimal": "."}
    assert df.index.tolist() == [1, 2]  # data rows count from 1


def test_utf8_with_bom() -> None:
    df = read("x1,x2\n1,2\n3,4\n".encode("utf-8-sig"))
    assert list(df.columns) == ["x1", "x2"]  # no BOM glued to the first name
    assert df.values.tolist() == [[1, 2], [3, 4]]
    assert df.attrs["encoding"] == "UTF-8 (BOM)"


def test_gbk_with_chinese_headers() -> None:
    data = "身高,体重,性别\n170.5,60,男\n160,50.5,女\n".encode("gbk")
    df = read(data)
    assert list(df.columns) == ["身高", "体重", "性别"]
    assert df["身高"].tolist() == [170.5, 160.0] and df["体重"].tolist() == [60.0, 50.5]
    assert df["性别"].tolist() == ["男", "女"]
    assert df.attrs["encoding"] == "GBK"


def test_latin1_last_resort() -> None:
    df = read("name,x\ncafé,1\nthé,2\n".encode("latin-1"))
    assert df["name"].tolist() == ["café", "thé"] and df["x"].tolist() == [1, 2]
    assert df.attrs["encoding"] == "latin-1"


def test_utf16_tab_export() -> None:
    # Excel's "Unicode text": UTF-16 with a BOM, tab separated (its NUL bytes are not binary).
    df = read("a\tb\r\n1,5\t2\r\n3\t4\r\n".encode("utf-16"))
    assert df.attrs["encoding"] == "UTF-16" and df.attrs["delimiter"] == "\t"
    assert df["b"].tolist() == [2, 4]


def test_semicolon_decimal_comma_and_spaced_header() -> None:
    data = b" x value ; y value ;name\n1,5;-0,25;a b\n2;1.234,5;c\n-,75;3,0e2;d\n"
    df = read(data)
    assert list(df.columns) == ["x value", "y value", "name"]
    assert df["x value"].tolist() == [1.5, 2.0, -0.75]
    assert df["y value"].tolist() == [-0.25, 1234.5, 300.0]
    assert df["name"].tolist() == ["a b", "c", "d"]
    assert df.attrs["delimiter"] == ";" and df.attrs["decimal"] == ","


def test_semicolon_with_decimal_points() -> None:
    df = read(b"a;b\n1.5;2\n3;4.25\n")
    assert df["a"].tolist() == [1.5, 3.0] and df["b"].tolist() == [2.0, 4.25]
    assert df.attrs["decimal"] == "."


@pytest.mark.parametrize(("delimiter", "name"), [("\t", "tab"), ("|", "pipe")])
def test_tab_and_pipe(delimiter: str, name: str) -> None:
    rows = [delimiter.join(["1.5", "2", "a"]), delimiter.join(["-3", "4.5", "b"])]
    df = read(table(rows, header=delimiter.join(["p", "q", "r"])))
    assert df.attrs["delimiter"] == delimiter
    assert df["p"].tolist() == [1.5, -3.0] and df["q"].tolist() == [2.0, 4.5]


def test_crlf_quotes_trailing_delimiters_blank_rows_and_missing_markers() -> None:
    data = (
        b'city,x,y,\r\n"Paris, France",1,NA,\r\n\r\n,,,\r\n'
        b'Rome,?,2,\r\n"Oslo",3,4,\r\n  Bern ,5, 6 ,\r\n'
    )
    df = read(data)
    assert list(df.columns) == ["city", "x", "y"]  # the nameless empty column is gone
    assert df["city"].tolist() == ["Paris, France", "Rome", "Oslo", "Bern"]
    assert df["x"].tolist()[0] == 1 and np.isnan(df["x"].tolist()[1])
    assert np.isnan(df["y"].tolist()[0]) and df["y"].tolist()[1:] == [2, 4, 6]


def test_delimiter_sniffing_with_text_columns_full_of_commas() -> None:
    rows = [f'{i};"{i}, {i + 1}, {i + 2}";{i * 2}' for i in range(12)]
    df = read(table(rows, header="id;note;value"))
    assert df.attrs["delimiter"] == ";" and df["value"].tolist() == [i * 2 for i in range(12)]


def test_empty_header_cell_gets_a_name() -> None:
    df = read(b",a\n1,2\n3,4\n")  # an index column written by pandas.to_csv
    assert list(df.columns) == ["column 1", "a"]


# --- files that must be refused, each with its own message -------------------------------------


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "key", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "upload_image", "PNG"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "upload_image", "JPEG"),
        (b"GIF89a\x01\x00", "upload_image", "GIF"),
        (b"%PDF-1.7\n%\xe2\xe3", "upload_pdf", "PDF"),
        (_xlsx(), "upload_excel", "XLSX"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "upload_excel", "XLS"),
        (_zip(), "upload_archive", "ZIP"),
        (b"\x1f\x8b\x08\x00" + bytes(20), "upload_archive", "gzip"),
    ],
)
def test_known_binary_formats(data: bytes, key: str, kind: str) -> None:
    assert fails(key, data).values == {"kind": kind}


def test_excel_named_file_with_nul_bytes() -> None:
    assert fails("upload_excel", b"abc\x00def", name="Book1.XLSX").values == {"kind": "XLSX"}


@pytest.mark.parametrize(
    "data",
    [b"a,b\n1,\x002\n", bytes(range(256)) * 4, bytes(range(1, 32)) * 40],
    ids=["nul", "all-bytes", "control-chars"],
)
def test_binary(data: bytes) -> None:
    fails("upload_binary", data)


def test_html() -> None:
    fails("upload_html", b"  <!DOCTYPE html><html><body>a,b</body></html>")


@pytest.mark.parametrize("data", [b"", b"   \n\r\n\t", b"\xef\xbb\xbf", b",,,\n,,\n"])
def test_empty(data: bytes) -> None:
    fails("upload_empty", data)


def test_header_only() -> None:
    assert fails("upload_header_only", b"x1,x2,label\n").values == {"columns": 3}
    fails("upload_header_only", b"x1,x2,label\n,,\n\n")


def test_ragged_row_names_the_line() -> None:
    err = fails("upload_ragged", b"a,b\n1,2\n3,4,5\n6,7\n")
    assert err.values == {"line": 3, "expected": 2, "found": 3}


def test_unclosed_quote() -> None:
    fails("upload_quote", b'a,b\n1,2\n"3,4\n5,6\n')


def test_too_big_is_checked_before_anything_else() -> None:
    # NUL bytes would be "binary": the size check comes first, without looking at the content.
    err = fails("upload_too_big", bytes(2_000_001))
    assert err.values["limit_mb"] == pytest.approx(2.0)
    assert err.values["size_mb"] == pytest.approx(2.000001)
    fails("upload_too_big", b"a,b\n1,2\n", max_bytes=5)
    read(b"a,b\n1,2\n", max_bytes=8)  # exactly at the limit is fine


def test_too_many_rows() -> None:
    data = table([f"{i},{i}" for i in range(6)], header="a,b")
    assert fails("upload_too_many_rows", data, max_rows=5).values == {"limit": 5}
    assert len(read(data, max_rows=6)) == 6
    big = table([f"{i},{i}" for i in range(20_001)], header="a,b")
    fails("upload_too_many_rows", big)


def test_too_many_columns() -> None:
    data = table(["1,2,3,4"], header="a,b,c,d")
    assert fails("upload_too_many_columns", data, max_cols=3).values == {"count": 4, "limit": 3}
    wide = ",".join(f"c{i}" for i in range(51)) + "\n" + ",".join(["1"] * 51) + "\n"
    assert fails("upload_too_many_columns", wide.encode()).values == {"count": 51, "limit": 50}


def test_one_column() -> None:
    assert fails("upload_one_column", b"x\n1\n2\n3\n").values == {"column": "x"}


def test_duplicate_column_names_after_stripping() -> None:
    assert fails("upload_duplicate_column", b"a, b ,b\n1,2,3\n").values == {"column": "b"}


def test_no_header_row() -> None:
    assert fails("upload_no_header", b"1.5,2\n3,4\n").values == {"example": "1.5"}
    fails("upload_no_header", b"1,1,0\n3,4,1\n")
    # Distinct whole numbers may well be names.
    assert list(read(b"2019,2020\n3,4\n").columns) == ["2019", "2020"]


def test_sniffer_sees_a_bounded_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its quote regex is quadratic in the line length: it must never see a long sample.
    seen: list[int] = []
    original = U.csv.Sniffer.sniff

    def sniff(self, sample: str, delimiters: str | None = None):
        seen.append(len(sample))
        return original(self, sample, delimiters)

    monkeypatch.setattr(U.csv.Sniffer, "sniff", sniff)
    # Both , and ; split every line evenly: the Sniffer breaks the tie.
    df = read(b"a,b;c,d\n" + b"1,2;3,4\n" * 2000)
    assert seen and max(seen) <= U._SNIFF_CHARS
    assert df.attrs["delimiter"] in (",", ";")
    read(b"a,b;c,d\n" + b"1" * 5000 + b",2;3,4\n")  # a first data line longer than the sample
    assert max(seen) <= U._SNIFF_CHARS


# --- to_tensors -----------------------------------------------------------------------------------


def test_to_tensors_classification_with_text_labels() -> None:
    df = read(table([f"{i},{-i / 2},{('cat', 'dog', 'ant')[i % 3]}" for i in range(12)]))
    p = U.to_tensors(df, ["x1", "x2"], "y")
    assert p.task == "classification" and p.classes == ["ant", "cat", "dog"]
    assert p.X.dtype == torch.float32 and p.X.shape == (12, 2)
    assert p.y.dtype == torch.int64 and p.y.shape == (12,)
    torch.testing.assert_close(p.X[:, 1], -torch.arange(12.0) / 2)
    assert p.y.tolist() == [(1, 2, 0)[i % 3] for i in range(12)]
    assert p.dropped_rows == 0 and p.features == ["x1", "x2"] and p.target == "y"


def test_to_tensors_regression_shapes_and_values() -> None:
    df = read(table([f"{i},{i * 2},{i * 0.5}" for i in range(12)]))
    p = U.to_tensors(df, ["x2"], "y")
    assert p.task == "regression" and p.classes == []
    assert p.X.shape == (12, 1) and p.y.shape == (12, 1) and p.y.dtype == torch.float32
    torch.testing.assert_close(p.y[:, 0], torch.arange(12.0) * 0.5)


def test_numeric_labels_sorted_numerically() -> None:
    labels = [10, 2, 1] * 10
    df = pd.DataFrame({"x": range(30), "y": labels})
    p = U.to_tensors(df, ["x"], "y", "classification")
    assert p.classes == ["1", "2", "10"]
    assert p.y.tolist() == [2, 1, 0] * 10
    p = U.to_tensors(
        pd.DataFrame({"x": range(20), "y": [0.5, 1.5] * 10}), ["x"], "y", "classification"
    )
    assert p.classes == ["0.5", "1.5"]


def test_missing_values_dropped_and_counted() -> None:
    rows = [f"{i},{'' if i % 4 == 0 else i},{i % 2}" for i in range(40)]
    p = U.to_tensors(read(table(rows)), ["x1", "x2"], "y")
    assert p.dropped_rows == 10 and p.X.shape == (30, 2)
    assert not torch.isnan(p.X).any()
    # Missing target cells drop rows too.
    rows = [f"{i},{i},{'NA' if i < 3 else i % 2}" for i in range(40)]
    assert U.to_tensors(read(table(rows)), ["x1", "x2"], "y").dropped_rows == 3


def test_a_few_unreadable_cells_count_as_missing() -> None:
    # 1 in 30 (3 %) unreadable: the column is numeric and the row is dropped; 3 in 30: not numeric.
    ok = read(table([f"{i},{'12 kg' if i == 3 else i},{i % 2}" for i in range(30)]))
    assert "x2" in U.numeric_columns(ok)
    assert U.to_tensors(ok, ["x1", "x2"], "y").dropped_rows == 1
    bad = read(table([f"{i},{'12 kg' if i in (3, 5, 7) else i},{i % 2}" for i in range(30)]))
    assert "x2" not in U.numeric_columns(bad)
    err = fails_to_convert("upload_feature_not_numeric", bad, ["x1", "x2"], "y")
    assert err.values == {"column": "x2", "value": "12 kg", "row": 4}


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ([i % 2 for i in range(30)], "classification"),  # binary: always
        ([i % 3 for i in range(60)], "classification"),  # 3 <= 5 % of 60
        ([i % 3 for i in range(30)], "regression"),  # 3 > 5 % of 30
        ([i % 20 for i in range(400)], "classification"),
        ([i % 21 for i in range(1000)], "regression"),  # more than 20 values
        ([(i % 2) + 0.5 for i in range(30)], "regression"),  # not whole numbers
        ([("no", "yes")[i % 2] for i in range(30)], "classification"),  # text
    ],
)
def test_auto_task_rule(labels: list, expected: str) -> None:
    df = pd.DataFrame({"x": np.arange(len(labels), dtype=float), "y": labels})
    assert U.to_tensors(df, ["x"], "y").task == expected


def test_task_override() -> None:
    df = pd.DataFrame({"x": np.arange(30.0), "y": [i % 3 for i in range(30)]})
    assert U.to_tensors(df, ["x"], "y", "classification").task == "classification"
    df = pd.DataFrame({"x": np.arange(30.0), "y": [i % 2 for i in range(30)]})
    assert U.to_tensors(df, ["x"], "y", "regression").task == "regression"
    with pytest.raises(ValueError):
        U.to_tensors(df, ["x"], "y", "clustering")  # type: ignore[arg-type]


def test_numeric_columns_and_decimal_commas() -> None:
    df = read(b"a;b;c\n1,5;x;3\n2,5;y;4\n")
    assert U.numeric_columns(df) == ["a", "c"]
    # A table built elsewhere (no read_csv attrs) accepts decimal commas.
    hand = pd.DataFrame({"p": ["1,5", "2,25", ""], "q": ["a", "b", "c"], "r": [1, 2, 3]})
    assert U.numeric_columns(hand) == ["p", "r"]
    # In a comma-separated file a quoted "1,5" is ambiguous (1.5 or 15?): it stays text.
    assert U.numeric_columns(read(b'a,b\n"1,5",2\n"2,5",3\n')) == ["b"]


def test_non_numeric_feature_names_the_value() -> None:
    df = read(table([f"{i},{'red' if i == 2 else 'blue'},{i % 2}" for i in range(20)]))
    err = fails_to_convert("upload_feature_not_numeric", df, ["x1", "x2"], "y")
    assert err.values == {"column": "x2", "value": "blue", "row": 1}


def test_long_user_values_are_cut() -> None:
    long = "w" * 100
    df = read(table([f"{i},{long},{i % 2}" for i in range(20)], header=f"x1,{'n' * 80},y"))
    err = fails_to_convert("upload_feature_not_numeric", df, ["x1", "n" * 80], "y")
    assert len(err.values["value"]) == U.QUOTE_LIMIT and err.values["value"].endswith("…")
    assert len(err.values["column"]) == U.QUOTE_LIMIT


def test_short_is_one_visible_line() -> None:
    assert U.short("a\nb\x00c\u202ed") == "a b c d"
    assert U.short(12.5) == "12.5"
    assert U.short("x" * 31) == "x" * 29 + "…"


def test_message_escapes_markdown_in_user_values() -> None:
    err = U.UploadError("upload_one_column", column="[x](http://e.vil) <b>$1$</b>")
    text = U.message(err, "en")
    assert "](" not in text and "<b>" not in text and "$1$" not in text
    assert r"\[x\]\(http" in text


def test_one_class() -> None:
    df = read(table([f"{i},{i},a" for i in range(20)]))
    err = fails_to_convert("upload_one_class", df, ["x1", "x2"], "y")
    assert err.values == {"column": "y", "label": "a"}
    # One class left after dropping rows with missing inputs.
    df = read(table([f"{i},{'' if i % 2 else i},{i % 2}" for i in range(40)]))
    fails_to_convert("upload_one_class", df, ["x1", "x2"], "y", "classification")


def test_all_rows_dropped() -> None:
    rows = [f"{i if i % 2 else ''},{'' if i % 2 else i},1" for i in range(20)]
    err = fails_to_convert("upload_all_rows_dropped", read(table(rows)), ["x1", "x2"], "y")
    assert err.values == {"rows": 20}


def test_column_without_values() -> None:
    df = read(table([f"{i},,{i % 2}" for i in range(20)]))
    assert fails_to_convert("upload_column_empty", df, ["x1", "x2"], "y").values == {"column": "x2"}
    df = read(table([f"{i},{i}," for i in range(20)]))
    fails_to_convert("upload_column_empty", df, ["x1", "x2"], "y")


@pytest.mark.parametrize("bad", ["inf", "-Infinity", "1e999", "1e39"])
def test_infinite_or_too_large(bad: str) -> None:
    df = read(table([f"{i},{bad if i == 5 else i},{i % 2}" for i in range(20)]))
    err = fails_to_convert("upload_not_finite", df, ["x1", "x2"], "y")
    assert err.values["column"] == "x2" and err.values["row"] == 6
    df = read(table([f"{i},{i},{bad if i == 5 else i}" for i in range(20)]))
    fails_to_convert("upload_not_finite", df, ["x1", "x2"], "y", "regression")


def test_too_few_rows() -> None:
    df = read(table([f"{i},{i},{i % 2}" for i in range(9)]))
    err = fails_to_convert("upload_too_few_rows", df, ["x1", "x2"], "y")
    assert err.values == {"count": 9, "minimum": U.MIN_ROWS, "dropped": 0}
    U.to_tensors(read(table([f"{i},{i},{i % 2}" for i in range(10)])), ["x1", "x2"], "y")


def test_too_many_classes_and_constant_target() -> None:
    df = read(table([f"{i},{i},{i}" for i in range(30)]))
    err = fails_to_convert("upload_too_many_classes", df, ["x1", "x2"], "y", "classification")
    assert err.values == {"count": 30, "limit": U.MAX_CLASSES}
    df = read(table([f"{i},{i},2.5" for i in range(30)]))
    assert fails_to_convert("upload_constant_target", df, ["x1"], "y").values == {
        "column": "y",
        "value": "2.5",
    }


def test_target_not_numeric_for_regression() -> None:
    df = read(table([f"{i},{i},{('x', 'y')[i % 2]}" for i in range(30)]))
    err = fails_to_convert("upload_target_not_numeric", df, ["x1", "x2"], "y", "regression")
    assert err.values == {"column": "y", "value": "x", "row": 1}


def test_choice_errors() -> None:
    df = read(table([f"{i},{i},{i % 2}" for i in range(30)]))
    fails_to_convert("upload_no_features", df, [], "y")
    assert fails_to_convert("upload_unknown_column", df, ["x9"], "y").values == {"column": "x9"}
    fails_to_convert("upload_unknown_column", df, ["x1"], "z")
    fails_to_convert("upload_target_is_feature", df, ["x1", "y"], "y")
    text = read(table([f"a{i},b{i},{i % 2}" for i in range(30)]))
    fails_to_convert("upload_no_numeric_features", text, ["x1"], "y")


# --- messages: every key in both languages --------------------------------------------------------


def _messages(lang: str) -> dict[str, str]:
    with open(CONTENT / lang / "uploads.toml", "rb") as f:
        return tomllib.load(f)


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_raised_key_is_listed_and_translated() -> None:
    # Raised by name, or through the table of binary formats.
    raised = set(re.findall(r'UploadError\(\s*"(\w+)"', SOURCE))
    raised |= {key for _, key, _ in U._MAGIC}
    assert raised, "the scan found no raise sites"
    assert raised <= set(U.KEYS)
    assert set(U.KEYS) <= raised  # no stale entries either
    for lang in LANGUAGES:
        missing = set(U.KEYS) - set(_messages(lang))
        assert not missing, f"{lang} lacks {sorted(missing)}"


def test_languages_have_the_same_keys_and_placeholders() -> None:
    en, zh = _messages("en"), _messages("zh")
    assert set(en) == set(zh)
    for key in en:
        assert _fields(en[key]) == _fields(zh[key]), key
    extra_keys = [*U.DELIMITER_KEYS.values(), *U.DECIMAL_KEYS.values()]
    assert set(extra_keys) <= set(en)


def test_hint_and_reading_note_format() -> None:
    df = read(b"a;b\n1,5;2\n3;4\n")
    for lang in LANGUAGES:
        texts = _messages(lang)
        texts["upload_hint"].format(limit_mb=2, max_rows=U.MAX_ROWS, max_cols=U.MAX_COLS)
        assert "UTF-8" in U.reading_note(df, lang)


# --- robustness -----------------------------------------------------------------------------------

_CSV_BYTES = st.lists(
    st.sampled_from(
        [*b'0123456789,;\t|.-+eE" \n\rabNA?', 0xFF, 0xE9, 0x80, 0x1A, 0xEF, 0xBB, 0xBF]
    ),
    max_size=300,
).map(bytes)


def _convert_somehow(df: pd.DataFrame) -> None:
    """Every task on the first numeric column(s) and the last column: UploadError or success."""
    columns = list(df.columns)
    numeric = U.numeric_columns(df)
    for task in U.TASKS:
        try:
            p = U.to_tensors(df, numeric[:2] or columns[:1], columns[-1], task)
        except U.UploadError:
            continue
        assert p.X.dtype == torch.float32 and torch.isfinite(p.X).all()
        assert p.X.shape[0] == p.y.shape[0] >= U.MIN_ROWS


@given(st.one_of(st.binary(max_size=500), _CSV_BYTES))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_only_ever_raise_upload_error(data: bytes) -> None:
    try:
        df = U.read_csv(data, "random.csv", max_rows=100, max_cols=10)
    except U.UploadError as e:
        assert e.key in U.KEYS
        return
    _convert_somehow(df)


@given(
    st.lists(
        st.lists(
            st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=5)),
            min_size=3,
            max_size=3,
        ),
        min_size=0,
        max_size=30,
    ),
    st.sampled_from([",", ";", "\t", "|"]),
)
@settings(max_examples=100, deadline=None)
def test_random_tables_only_ever_raise_upload_error(rows: list[list], delimiter: str) -> None:
    lines = ["a" + delimiter + "b" + delimiter + "c"]
    lines += [delimiter.join(str(v) for v in row) for row in rows]
    try:
        df = U.read_csv("\n".join(lines).encode(), "random.csv")
    except U.UploadError as e:
        assert e.key in U.KEYS
        return
    _convert_somehow(df)


# --- the sample files -----------------------------------------------------------------------------


def test_samples_load_and_convert() -> None:
    blobs = read(U.sample_path("blobs_3_classes.csv").read_bytes())
    p = U.to_tensors(blobs, ["x1", "x2"], "label")
    assert p.task == "classification" and p.classes == ["apple", "banana", "cherry"]
    assert p.X.shape == (150, 2) and torch.bincount(p.y).tolist() == [50, 50, 50]

    reg = read(U.sample_path("regression_semicolon_decimal_comma.csv").read_bytes())
    assert list(reg.columns) == ["x value", "y value"]
    assert reg.attrs["delimiter"] == ";" and reg.attrs["decimal"] == ","
    p = U.to_tensors(reg, ["x value"], "y value")
    assert p.task == "regression" and p.X.shape == (120, 1)
    assert float(p.X.abs().max()) <= 6.0

    house = read(U.sample_path("housing_small.csv").read_bytes())
    assert U.numeric_columns(house) == list(house.columns)
    assert int(house["age_years"].isna().sum()) > 0
    features = ["area_m2", "rooms", "age_years", "distance_km"]
    p = U.to_tensors(house, features, "price_k")
    assert p.task == "regression" and p.dropped_rows == int(house["age_years"].isna().sum())
    assert p.X.shape == (len(house) - p.dropped_rows, 4)


def test_samples_are_small_and_reproducible(tmp_path: Path) -> None:
    from ui.samples import make_samples

    written = make_samples.write(tmp_path)
    assert sorted(p.name for p in written) == sorted(U.SAMPLES)
    for path in written:
        shipped = U.sample_path(path.name)
        assert shipped.stat().st_size < 20_000
        assert path.read_bytes() == shipped.read_bytes(), f"{path.name} differs from its generator"


def test_unknown_sample() -> None:
    with pytest.raises(ValueError):
        U.sample_path("../secrets.csv")


# --- a note above the header ----------------------------------------------------------------------

WINE_NOTE = "178,13,class_0,class_1,class_2"


def wine_like(rows: int = 178) -> bytes:
    """A file shaped like scikit-learn's wine_data.csv: a note line, a header, 13 features."""
    names = [f"feature_{j}" for j in range(13)] + ["target"]
    lines = [WINE_NOTE, ",".join(names)]
    lines += [",".join(f"{(i * 7 + j) % 13 + 0.25:.2f}" for j in range(13)) + f",{i % 3}"
              for i in range(rows)]  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def test_scikit_learn_style_note_is_found_and_skipped() -> None:
    data = wine_like()
    assert U.lines_above_header(data, "wine_data.csv") == [WINE_NOTE]
    err = fails("upload_ragged", data)  # what the learner met before: the note as the header
    assert err.values == {"line": 2, "expected": 5, "found": 14}
    df = read(data, skip=1)
    assert df.shape == (178, 14) and df.columns[0] == "feature_0"
    p = U.to_tensors(df, list(df.columns[:13]), "target")
    assert p.task == "classification" and p.classes == ["0", "1", "2"] and p.X.shape == (178, 13)


def test_several_note_lines_blank_lines_semicolons_decimal_commas_and_a_bom() -> None:
    text = "Messung, Labor 3\n\n# 2024\nx wert;y wert\n" + "".join(
        f"{i},5;{2 * i},25\n" for i in range(12)
    )
    data = b"\xef\xbb\xbf" + text.encode()
    above = U.lines_above_header(data, "messung.csv")
    assert above == ["Messung, Labor 3", "", "# 2024"]
    df = read(data, skip=len(above))
    assert list(df.columns) == ["x wert", "y wert"] and df["y wert"].iloc[1] == 2.25
    assert df.attrs == {"encoding": "UTF-8 (BOM)", "delimiter": ";", "decimal": ","}


def test_a_note_in_gbk_with_crlf_line_ends() -> None:
    rows = "".join(f"{i},{i % 4},{i % 3}\r\n" for i in range(15))
    text = "数据说明：三类\r\n长度,宽度,类别\r\n" + rows
    data = text.encode("gbk")
    assert U.lines_above_header(data, "gbk.csv") == ["数据说明：三类"]
    df = read(data, skip=1)
    assert list(df.columns) == ["长度", "宽度", "类别"] and df.attrs["encoding"] == "GBK"


@pytest.mark.parametrize(
    "data",
    [
        table(["1,2,3", "4,5,6"]),
        table(["1,2,3", "4,5,6", "7,8"]),  # a ragged last line is the file's own problem
        table(["1,2,3", "4,5,6", "7,8,9,10"]),
        b"a,b\nrow1,1,2\nrow2,3,4\n",  # row names without a header cell: the rows are data
        b"a,b,c\n1,2,3,\n4,5,6,\n",  # a delimiter at the end of every row
        b"1.5,2\n3,4\n5,6,7\n",  # no header at all
        b"note\n1,2\n3,4\n",  # the row under the short line is numbers, not names
        b"note\n",
        b"a,b\n",
        b"x\n1\n2\n",
        b"",
        b"\x89PNG\r\n\x1a\n" + bytes(100),
    ],
)
def test_no_note_is_found_in_other_files(data: bytes) -> None:
    assert U.lines_above_header(data, "data.csv") == []


def test_no_note_in_the_samples_or_in_files_read_csv_refuses_first() -> None:
    for name in U.SAMPLES:
        assert U.lines_above_header(U.sample_path(name).read_bytes(), name) == []
    assert U.lines_above_header(wine_like(), "wine.csv", max_bytes=100) == []  # too big


def test_only_the_first_lines_can_be_a_note() -> None:
    notes = [f"note {i}" for i in range(U.MAX_SKIP + 1)]
    data = ("\n".join(notes) + "\n").encode() + table([f"{i},{i}" for i in range(30)], "a,b")
    assert U.lines_above_header(data, "long.csv") == []
    assert U.lines_above_header(data.split(b"\n", 1)[1], "long.csv") == notes[1:]


def test_skip_counts_file_lines_in_messages_and_must_leave_something() -> None:
    err = fails("upload_ragged", b"note\n\na,b\n1,2\n1,2,3\n", skip=2)
    assert err.values == {"line": 5, "expected": 2, "found": 3}
    assert fails("upload_quote", b'note\na,b\n"1,2\n', skip=1).values == {"line": 3}
    assert fails("upload_skipped_everything", b"note\na,b\n", skip=2).values == {"skip": 2}
    fails("upload_skipped_everything", b"note\na,b\n", skip=9)
    fails("upload_too_big", wine_like(), skip=1, max_bytes=100)  # size first, as always
    with pytest.raises(ValueError):
        read(wine_like(), skip=-1)


def test_lone_carriage_returns_end_lines_for_skip() -> None:
    df = read(b"note\ra,b\r1,2\r3,4\r", skip=1)
    assert list(df.columns) == ["a", "b"] and len(df) == 2


class _File:
    """What st.file_uploader returns, as far as parse_once looks."""

    def __init__(self, file_id: str, data: bytes) -> None:
        self.file_id, self.name, self._data = file_id, "upload.csv", data
        self.reads = 0

    def getvalue(self) -> bytes:
        self.reads += 1
        return self._data


def test_parse_once_reads_again_for_a_new_skip_only() -> None:
    store: dict = {}
    file = _File("f1", wine_like(20))
    assert U.lines_above_header_once(store, file) == [WINE_NOTE]
    assert U.lines_above_header_once(store, file) == [WINE_NOTE]
    first = U.parse_once(store, file, 1)
    assert U.parse_once(store, file, 1) is first and file.reads == 2
    with pytest.raises(U.UploadError, match="upload_ragged"):
        U.parse_once(store, file, 0)  # the learner set the skip back to 0: read again
    assert U.parse_once(store, file, 1) is first and file.reads == 3  # a failed read keeps it
    assert U.lines_above_header_once(store, _File("f2", table(["1,2,3"]))) == []


def test_fill_escapes_user_values() -> None:
    text = U.fill("upload_skip_found", "en", count=1, line="<b>[x](y)</b>")
    assert "<b>" not in text and r"\[x\]\(y\)" in text


@given(st.one_of(st.binary(max_size=500), _CSV_BYTES))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_bytes_only_ever_find_a_short_note_that_reads(data: bytes) -> None:
    above = U.lines_above_header(data, "random.csv")
    assert len(above) <= U.MAX_SKIP
    try:
        U.read_csv(data, "random.csv", skip=len(above), max_rows=100, max_cols=10)
    except U.UploadError as e:
        assert e.key in U.KEYS


def test_western_windows_text_is_not_read_as_gbk() -> None:
    # "ü" then "l" is also a valid GBK character: only the lone high bytes give it away.
    data = "name,x\nMüller,1\nJürgen,2\n".encode("cp1252")
    assert data.decode("gbk") == "name,x\nM黮ler,1\nJ黵gen,2\n"  # what GBK alone would read
    df = read(data)
    assert df["name"].tolist() == ["Müller", "Jürgen"] and df.attrs["encoding"] == "latin-1"
