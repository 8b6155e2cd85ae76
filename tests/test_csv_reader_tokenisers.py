"""The CSV reader's tokenisers give the same table: the C parsers (pyarrow's where it reads
every column as numbers, else pandas', with the line structure found by numpy) and Python's
csv module, on generated files full of the cases that matter (sparse rows, nan and inf
spellings, damaged lines, repeated headers, text columns, steps past int64), and on every
CSV log of sample_logs/; with pyarrow and without it."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

from lrdoctor.readers import _csv_table
from lrdoctor.readers.csv_logs import _sniff_delimiter

SAMPLE_LOGS = Path(__file__).resolve().parents[1] / "sample_logs"
NAMES = ["step", "epoch", "train_loss", "val_loss", "lr-Adam", "acc", "host", "", "f1"]
CELLS = [
    *("0", "1", "17", "-3", "+5", "007", "99999999999999999999", str(2**63)),
    *("0.5", "-0.25", "1e-08", "1e30", "0.6931471824645996", "3.4028234663852886e+38"),
    *("nan", "NaN", "-nan", "inf", "-inf", "+inf", "Infinity", "-Infinity", "INF"),
    *("", "", "", " ", " 1.5", "2.5 ", "True", "False", "1_000", "2021-04-11", "abc", "[75.0]"),
]
NUMBERS = [*CELLS[:15], "", "", "nan"]
CASES = 300


def random_csv(rng: random.Random) -> tuple[bytes, str]:
    delimiter = rng.choice([",", ",", "\t", ";"])
    width = rng.randint(1, 6)
    header = rng.sample(NAMES, width)
    numeric = [rng.random() < 0.7 for _ in header]
    lines = [(" " if rng.random() < 0.1 else "").join([delimiter]).join(header)]
    for _ in range(rng.randint(0, 40)):
        roll = rng.random()
        if roll < 0.05:
            lines.append("")
        elif roll < 0.1:
            lines.append(delimiter.join(header))
        elif roll < 0.12:
            lines.append(f" {delimiter} ".join(header))
        else:
            count = width + (rng.choice([-1, 1]) if roll < 0.17 else 0)
            lines.append(
                delimiter.join(
                    rng.choice(CELLS[:23] + ["", ""])
                    if numeric[i % width]
                    else rng.choice(CELLS)
                    for i in range(max(count, 0))
                )
            )
    if rng.random() < 0.05:  # a lone carriage return: a line break for the csv module
        line = rng.randrange(len(lines))
        cut = rng.randint(0, len(lines[line]))
        lines[line] = lines[line][:cut] + "\r" + lines[line][cut:]
    end = rng.choice(["\n", "\r\n"])
    text = end.join(lines) + (end if rng.random() < 0.8 else "")
    return text.encode(), delimiter


def table_summary(table: _csv_table.Table) -> dict:
    columns = []
    for index in range(len(table.header)):
        numbers = table.numbers(index)
        columns.append(
            (
                list(table.cells(index)),
                numbers.values.tobytes(),
                numbers.present.tolist(),
                numbers.non_numeric,
                numbers.example,
            )
        )
    skipped = (table.skipped.counts, table.skipped.firsts)
    return {
        "header": table.header,
        "rows": table.row_count,
        "warnings": table.warnings,
        "skipped": skipped,
        "columns": columns,
    }


def both_tables(path: Path, data: bytes, delimiter: str) -> tuple[dict, dict | None]:
    """Both tables, the C tokeniser's None where the file is left to the csv module."""
    slow = _csv_table._load_with_csv_module(path, data.decode("utf-8"), delimiter)
    fast = None
    if _csv_table._can_use_c_tokeniser(data):
        fast = _csv_table._load_with_c_tokeniser(data, delimiter)
    return table_summary(slow), None if fast is None else table_summary(fast)


@pytest.fixture(params=["with pyarrow", "without pyarrow"])
def arrow(request, monkeypatch) -> bool:
    """Whether pyarrow's parser may be used (the reader falls back to pandas without it)."""
    if request.param == "without pyarrow":
        monkeypatch.setitem(sys.modules, "pyarrow.csv", None)
        return False
    pytest.importorskip("pyarrow.csv")
    return True


def test_generated_files_give_the_same_table_either_way(tmp_path, arrow):
    rng = random.Random(12)
    fast_cases = clean_cases = arrow_cases = 0
    for case in range(CASES):
        data, delimiter = random_csv(rng)
        if not data.strip():
            continue
        slow, fast = both_tables(tmp_path / f"case{case}.csv", data, delimiter)
        if fast is not None:
            fast_cases += 1
            array = np.frombuffer(data, dtype=np.uint8)
            body = _csv_table._clean_body(data, array, delimiter)
            clean_cases += body is not None
            if body is not None:
                arrow_cases += _csv_table._arrow_numbers(body, delimiter) is not None
            assert fast == slow, data.decode()
    # Both ways through the C tokeniser are taken: whole files, and line by line.
    assert fast_cases > CASES * 0.6 and CASES * 0.05 < clean_cases < fast_cases * 0.9
    assert (arrow_cases > 10) if arrow else (arrow_cases == 0)


def test_the_csv_logs_of_sample_logs_give_the_same_table_either_way(arrow):
    paths = sorted(SAMPLE_LOGS.rglob("*.csv"))[::3]  # a third of them keeps the test short
    fast_cases = 0
    for path in paths:
        data = path.read_bytes()
        delimiter = _sniff_delimiter(path.suffix, data.split(b"\n", 1)[0].decode())
        slow, fast = both_tables(path, data, delimiter)
        if fast is not None:
            fast_cases += 1
            assert fast == slow, path
    assert fast_cases > 40


@pytest.mark.parametrize(
    ("content", "loss", "non_numeric"),
    [
        (b'step,loss\n1,"0.5"\n', [0.5], 0),
        (b"step,loss\r1,0.5\r", [0.5], 0),
        (b"step,loss\r\n1,0.5\r2,0.6\n3,0.7\r\n", [0.5, 0.6, 0.7], 0),
        (b"step,loss\n1,0.5\x00\n", [], 1),  # the csv module keeps the NUL in the cell
    ],
    ids=["quotes", "lone-carriage-returns", "as-many-lone-carriage-returns-as-line-feeds", "nul"],
)
def test_files_the_c_tokeniser_would_misread_go_to_the_csv_module(
    tmp_path, content, loss, non_numeric
):
    path = tmp_path / "log.csv"
    path.write_bytes(content)

    table = _csv_table.load_table(path, lambda first_line: ",")

    assert not _csv_table._can_use_c_tokeniser(content)
    assert table.header == ["step", "loss"] and table.row_count == len(loss) + non_numeric
    assert _csv_table._load_with_c_tokeniser(content, ",") is None
    numbers = table.numbers(1)
    assert numbers.values[numbers.present].tolist() == loss
    assert numbers.non_numeric == non_numeric


def test_large_lightning_log_takes_the_c_tokeniser_and_keeps_every_point(tmp_path):
    rows = ["epoch,lr-Adam,step,train_loss"]
    for step in range(20_000):
        rows.append(f",{0.001 * (step + 1)!r},{step},")
        rows.append(f"{step // 100},,{step},{'nan' if step == 7 else repr(1.0 / (step + 1))}")
    data = ("\r\n".join(rows) + "\r\n").encode()

    table = _csv_table._load_with_c_tokeniser(data, ",")

    assert table is not None and table.row_count == 40_000
    loss = table.numbers(3)
    assert loss.present.sum() == 20_000
    kept = loss.values[loss.present]
    assert np.isnan(kept[7]) and kept[8] == 1.0 / 9 and kept[-1] == 1.0 / 20_000
    assert table.numbers(1).values[0] == 0.001


@pytest.mark.parametrize(
    ("cell", "number"),
    [("nan(1)", None), ("NaN()", None), ("1_000", None), (" ", None), ("\u0661", 1.0)],
)
def test_cells_pyarrow_reads_otherwise_than_float_are_read_as_float_reads_them(cell, number):
    """pyarrow reads "nan(1)" as NaN and fails on an Arabic-Indic digit; the reader keeps to
    `float()` (and takes no underscores, and a blank cell as missing)."""
    data = f"step,loss\n1,0.5\n2,{cell}\n3,0.25\n".encode()

    table = _csv_table._load_with_c_tokeniser(data, ",")

    loss = table.numbers(1)
    expected = [0.5, 0.25] if number is None else [0.5, number, 0.25]
    assert loss.values[loss.present].tolist() == expected
    assert loss.non_numeric == (number is None and cell.strip() != "")
