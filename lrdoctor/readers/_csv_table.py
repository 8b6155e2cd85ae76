"""A CSV file cut into a header and columns, with pandas' C tokeniser where the file allows.

Two ways to the same table. Most logs (Lightning, Keras, pandas' `to_csv`) hold no quotes:
their line structure is found with numpy over the bytes (lines, field counts, exact repeats of
the header), the well-formed lines go to pandas' C parser, and only columns it does not read
as numbers are read again as text and parsed cell by cell. Files with quotes, NUL bytes or
lone carriage returns, or that pandas reads otherwise than expected, go through Python's
`csv` module as before. Both give the same header, rows, cells, numbers and warnings: a row
with another number of fields than the header is skipped and counted, a repeated header row
is skipped, an empty cell is missing and "nan", "inf", "-inf" are numbers.
"""

from __future__ import annotations

import csv
import io
import math
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lrdoctor.readers.base import ReadError, Skipped

_BOM = b"\xef\xbb\xbf"
_NEWLINE, _CARRIAGE_RETURN = 10, 13
_QUOTE, _NUL = b'"', b"\x00"


@dataclass(frozen=True)
class NumericColumn:
    """A column's cells as numbers: `values` is NaN where `present` is False."""

    values: np.ndarray
    present: np.ndarray
    non_numeric: int
    example: str

    @property
    def is_numeric(self) -> bool:
        """At least half the filled cells are numbers (dates, hostnames, lists are not)."""
        numbers = int(self.present.sum())
        return numbers > 0 and numbers >= self.non_numeric


@dataclass
class Table:
    """A CSV file's stripped header and its well-formed rows, by column.

    `cells(index)` gives a column's cells as text; `numbers(index)` the same cells as numbers
    (computed once). `skipped` counts the rows lost so far; readers add the rows they drop
    for their step.
    """

    header: list[str]
    row_count: int
    column_cells: Callable[[int], Sequence[str]]
    parsed: dict[int, NumericColumn] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    skipped: Skipped = field(default_factory=lambda: Skipped("row", "rows"))

    def cells(self, index: int) -> Sequence[str]:
        return self.column_cells(index)

    def numbers(self, index: int) -> NumericColumn:
        if index not in self.parsed:
            self.parsed[index] = parse_numbers(self.column_cells(index))
        return self.parsed[index]

    def count_bad_lines(self, bad_lines: Sequence[int]) -> None:
        if len(bad_lines):
            self.skipped.add(
                f"a number of fields other than the header's {len(self.header)}",
                len(bad_lines),
                first=f"first at line {bad_lines[0]}",
            )

    def count_repeated_headers(self, count: int) -> None:
        if count:
            self.warnings.append(f"skipped {count} repeated header row(s)")


def parse_numbers(cells: Sequence[str]) -> NumericColumn:
    """Cells as Python's `float()` reads them; the slow path only runs when one is not a number."""
    # float() accepts "1_000"; a CSV cell like "12345_00000" is an id, not a number.
    if "_" not in "".join(cells):
        try:
            values = np.array([float(cell) if cell else math.nan for cell in cells])
        except ValueError:
            pass
        else:
            present = np.fromiter(map(bool, cells), dtype=bool, count=len(cells))
            return NumericColumn(values, present, 0, "")
    values = np.full(len(cells), np.nan)
    present = np.zeros(len(cells), dtype=bool)
    non_numeric = 0
    example = ""
    for index, cell in enumerate(cells):
        text = cell.strip()
        if not text:
            continue
        number = _to_float(text)
        if number is None:
            non_numeric += 1
            example = example or text
        else:
            values[index] = number
            present[index] = True
    return NumericColumn(values, present, non_numeric, example)


def _to_float(cell: str) -> float | None:
    """A cell as a number; `nan`, `inf`, `Infinity` are numbers, `True` and `[75.0]` are not."""
    if "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def load_table(path: Path, delimiter_for: Callable[[str], str], data: bytes | None = None) -> Table:
    """The table in the file at `path`; `delimiter_for(first_line)` picks the delimiter.

    `data`, when given, stands for the file's bytes (`lrdoctor.watch` passes the header
    line and the lines appended since its last read).
    """
    if data is None:
        try:
            data = path.read_bytes()
        except OSError as error:
            raise ReadError(path, f"cannot be opened ({error.strerror})") from error
    if not data or data.isspace():
        raise ReadError(path, "empty file")
    undecodable: list[int] = []
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            data, undecodable = _without_undecodable_lines(path, data, error)
    data = data.removeprefix(_BOM)
    first_line = data[: _first_line_end(data)].decode("utf-8")
    delimiter = delimiter_for(first_line)
    table = _load_with_c_tokeniser(data, delimiter)
    if table is None:
        table = _load_with_csv_module(path, data.decode("utf-8"), delimiter)
    if undecodable:
        table.skipped.add(
            "bytes that are not UTF-8", len(undecodable), first=f"first at line {undecodable[0]}"
        )
    return table


def _without_undecodable_lines(
    path: Path, data: bytes, error: UnicodeDecodeError
) -> tuple[bytes, list[int]]:
    """The file without its lines that are not UTF-8, and their numbers (1-based): a damaged
    line costs that line. A file whose header, or most of whose lines, cannot be decoded is
    not a text log at all."""
    lines = data.split(b"\n")
    kept, dropped = [], []
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            dropped.append(number)
        else:
            kept.append(line)
    if dropped[0] == 1 or 2 * len(dropped) > len(lines):
        start = error.start - len(_BOM) if data.startswith(_BOM) else error.start
        raise ReadError(path, f"undecodable bytes at offset {start}: not UTF-8 text") from error
    return b"\n".join(kept), dropped


def _first_line_end(data: bytes) -> int:
    """Where the first line break is (the end of the data when there is none)."""
    end = data.find(b"\n")
    return len(data) if end < 0 else end


def _can_use_c_tokeniser(data: bytes) -> bool:
    """No quotes (they change where fields end), no NUL bytes, and every carriage return
    part of a CRLF line end (the csv module also ends a line at a lone one)."""
    if _QUOTE in data or _NUL in data:
        return False
    if b"\r" not in data:
        return True
    array = np.frombuffer(data, dtype=np.uint8)
    following = np.flatnonzero(array == _CARRIAGE_RETURN) + 1
    return following[-1] < array.size and bool((array[following] == _NEWLINE).all())


def _load_with_csv_module(path: Path, text: str, delimiter: str) -> Table:
    header: list[str] = []
    good_rows: list[list[str]] = []
    bad_lines: list[int] = []
    repeated_headers = 0
    for line_number, row in _csv_module_rows(path, text, delimiter, header):
        if row == []:  # an empty line
            continue
        if row is None or (header and len(row) != len(header)):
            bad_lines.append(line_number)
        elif not header:
            header.extend(cell.strip() for cell in row)
        elif row[0].strip() == header[0] and [cell.strip() for cell in row] == header:
            repeated_headers += 1
        else:
            good_rows.append(row)
    columns = list(zip(*good_rows, strict=True)) or [() for _ in header]
    table = Table(header, len(good_rows), columns.__getitem__)
    table.count_repeated_headers(repeated_headers)
    table.count_bad_lines(bad_lines)
    return table


def _csv_module_rows(
    path: Path, text: str, delimiter: str, header: list[str]
) -> Iterator[tuple[int, list[str] | None]]:
    """(line number, row) of each row the csv module reads; None for a line it cannot read.

    A stray quote (a damaged byte) opens a field that runs on over the next lines, to the
    next quote or the end of the file. So a row of several lines with another number of
    fields than `header` (filled in by the caller from the first row), or one the file ends
    inside, is read again line by line: the damage costs its own line, not the lines the
    quote swallowed.
    """
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines, delimiter=delimiter)
    read = 0  # lines read before the current row
    while read < len(lines):
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            if not header:
                raise ReadError(
                    path, f"not parseable as CSV at line {reader.line_num} ({error})"
                ) from error
            row = None
        if row is not None and (reader.line_num - read == 1 or len(row) == len(header)):
            yield reader.line_num, row
        else:
            for number in range(read, reader.line_num):
                yield number + 1, _line_alone(lines[number], delimiter)
        read = reader.line_num


def _line_alone(line: str, delimiter: str) -> list[str] | None:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return None


@dataclass(frozen=True)
class _Body:
    """A file's header and its well-formed data lines, with what was dropped on the way."""

    header: list[str]
    rows: bytes
    row_count: int
    repeated_headers: int = 0
    bad_lines: list[int] = field(default_factory=list)


def _load_with_c_tokeniser(data: bytes, delimiter: str) -> Table | None:
    """The table read by pandas' C parser, or None where only the csv module can tell."""
    if _QUOTE in data or _NUL in data:
        return None
    array = np.frombuffer(data, dtype=np.uint8)
    body = _clean_body(data, array, delimiter)
    if body is not None:
        table = _parsed_table(body, delimiter)
        if table is not None:
            return table
    if not _can_use_c_tokeniser(data):
        return None
    body = _checked_body(data, array, delimiter)
    return None if body is None else _parsed_table(body, delimiter)


def _clean_body(data: bytes, array: np.ndarray, delimiter: str) -> _Body | None:
    """The body of a file whose lines are all well-formed (the usual file), found in two
    passes over the bytes; None when some line may have to be dropped.

    A line with too many fields makes pandas fail (but the first row: pandas drops its extra
    fields, so it is counted here), so when the file holds as many delimiters as its lines
    would with the header's number of fields, no line has too few, and none is empty,
    either. A lone carriage return (a line break for pandas and the csv module, not here)
    in the header is seen here; in the rows it makes pandas read more rows than counted
    here, and the table is not used.
    """
    header_end = _first_line_end(data)
    header_line = data[:header_end].removesuffix(b"\r")
    header = [cell.strip() for cell in header_line.decode("utf-8").split(delimiter)]
    if len(header) < 2 or b"\r" in header_line or data.count(header_line) != 1:
        return None
    line_count = int(np.count_nonzero(array == _NEWLINE)) + (not data.endswith(b"\n"))
    delimiters = int(np.count_nonzero(array == ord(delimiter)))
    rows = data[header_end + 1 :]
    first_row = rows[: _first_line_end(rows)]
    if delimiters != (len(header) - 1) * line_count or (
        rows and first_row.count(delimiter.encode()) != len(header) - 1
    ):
        return None
    return _Body(header, rows, line_count - 1)


@dataclass(frozen=True)
class _Lines:
    """Where each line of a file starts and where its content ends (before CR LF)."""

    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, data: np.ndarray) -> _Lines:
        breaks = np.flatnonzero(data == _NEWLINE)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [data.size]))
        if starts[-1] == data.size:  # the file ends with a line break
            starts, ends = starts[:-1], ends[:-1]
        ends = ends - ((ends > starts) & (data[np.maximum(ends - 1, 0)] == _CARRIAGE_RETURN))
        return cls(starts, ends)


def _checked_body(data: bytes, array: np.ndarray, delimiter: str) -> _Body | None:
    """The body of any file with a header, line by line: lines with another number of fields
    than the header and exact repeats of the header are dropped and counted, empty lines
    skipped. None when every line is empty (the csv module then finds no header)."""
    lines = _Lines.of(array)
    lengths = lines.ends - lines.starts
    filled = np.flatnonzero(lengths > 0)
    if not filled.size:
        return None
    header_line = int(filled[0])
    header_bytes = data[lines.starts[header_line] : lines.ends[header_line]]
    header = [cell.strip() for cell in header_bytes.decode("utf-8").split(delimiter)]
    positions = np.flatnonzero(array == ord(delimiter))
    fields = np.searchsorted(positions, lines.ends) - np.searchsorted(positions, lines.starts) + 1
    body = np.arange(lines.starts.size) > header_line
    well_formed = body & (lengths > 0) & (fields == len(header))
    bad = body & (lengths > 0) & ~well_formed
    repeats = well_formed & _equal_lines(array, lines, header_line)
    rows = well_formed & ~repeats
    return _Body(
        header,
        _kept_bytes(data, array, lines, rows),
        int(rows.sum()),
        int(repeats.sum()),
        (np.flatnonzero(bad) + 1).tolist(),
    )


def _parsed_table(body: _Body, delimiter: str) -> Table | None:
    """The table of `body` as a C parser reads it (pyarrow's where it reads every column as
    numbers, else pandas'); None when pandas fails or reads another number of rows, or a
    header row spaced otherwise than the first may hide in the rows."""
    width = len(body.header)
    if body.row_count and _repeats_may_hide(body.header):
        return None
    parsed, text_columns = _arrow_numbers(body, delimiter), []
    if parsed is None:
        read = _pandas_numbers(body, delimiter)
        if read is None:
            return None
        parsed, text_columns = read
    texts = _TextColumns(body.rows, delimiter, width, text_columns)
    if texts.may_hold_a_repeated_header(body.header):
        return None
    table = Table(body.header, body.row_count, texts.cells, parsed)
    table.count_repeated_headers(body.repeated_headers)
    table.count_bad_lines(body.bad_lines)
    return table


def _arrow_numbers(body: _Body, delimiter: str) -> dict[int, NumericColumn] | None:
    """Every column as numbers by pyarrow's CSV parser, the fastest at hand, where it is
    installed and reads every filled cell as a number the way `float()` does; None otherwise.

    It also reads "nan(1)" as NaN, which `float()` does not: rows with a parenthesis are
    left to pandas. A cell it cannot read as a number (a word, a blank) fails the whole read.
    """
    try:
        import pyarrow
        import pyarrow.csv as arrow_csv
    except ImportError:
        return None
    if not body.row_count or b"(" in body.rows:
        return None
    names = [str(index) for index in range(len(body.header))]
    try:
        table = arrow_csv.read_csv(
            pyarrow.py_buffer(body.rows),
            read_options=arrow_csv.ReadOptions(column_names=names, use_threads=False),
            parse_options=arrow_csv.ParseOptions(
                delimiter=delimiter, quote_char=False, ignore_empty_lines=False
            ),
            convert_options=arrow_csv.ConvertOptions(
                column_types=dict.fromkeys(names, pyarrow.float64()), null_values=[""]
            ),
        )
    except pyarrow.ArrowInvalid:
        return None
    if table.num_rows != body.row_count:
        return None
    return {index: _arrow_column(column) for index, column in enumerate(table.columns)}


def _arrow_column(column) -> NumericColumn:
    """A float64 pyarrow column as numpy arrays, read from its buffers (pyarrow's own
    conversion of a column with missing cells imports pandas, a third of a second). Without
    a missing cell the values stay a read-only view of pyarrow's memory."""
    values = [_chunk_values(chunk) for chunk in column.chunks]
    values = values[0] if len(values) == 1 else np.concatenate(values)
    if not column.null_count:
        return NumericColumn(values, np.ones(values.size, dtype=bool), 0, "")
    present = np.concatenate([_chunk_present(chunk) for chunk in column.chunks])
    return NumericColumn(np.where(present, values, np.nan), present, 0, "")


def _chunk_values(chunk) -> np.ndarray:
    data = chunk.buffers()[1]
    return np.frombuffer(data, dtype=np.float64, count=len(chunk), offset=chunk.offset * 8)


def _chunk_present(chunk) -> np.ndarray:
    validity = chunk.buffers()[0]
    if validity is None or not chunk.null_count:
        return np.ones(len(chunk), dtype=bool)
    bits = np.unpackbits(
        np.frombuffer(validity, dtype=np.uint8), count=chunk.offset + len(chunk), bitorder="little"
    )
    return bits[chunk.offset :].view(bool)


def _pandas_numbers(
    body: _Body, delimiter: str
) -> tuple[dict[int, NumericColumn], list[int]] | None:
    """The columns pandas reads as numbers, and the indices of the others (text, to be read
    again as such); None when pandas fails or reads another number of rows."""
    import pandas as pd

    width = len(body.header)
    frame = _c_parse(pd, body.rows, delimiter, width) if body.row_count else None
    if body.row_count and (frame is None or len(frame) != body.row_count):
        return None
    parsed: dict[int, NumericColumn] = {}
    text_columns = []
    for index in range(width):
        column = frame[index] if frame is not None else None
        if column is None:
            parsed[index] = NumericColumn(np.empty(0), np.empty(0, dtype=bool), 0, "")
        elif column.dtype.kind in "iu":
            values = column.to_numpy(np.float64)
            parsed[index] = NumericColumn(values, np.ones(values.size, dtype=bool), 0, "")
        elif column.dtype.kind == "f":
            values = column.to_numpy(np.float64)
            parsed[index] = NumericColumn(values, ~np.isnan(values), 0, "")
        else:
            text_columns.append(index)
    return parsed, text_columns


def _equal_lines(array: np.ndarray, lines: _Lines, reference: int) -> np.ndarray:
    """Which lines are byte for byte the same as line `reference`."""
    start, end = int(lines.starts[reference]), int(lines.ends[reference])
    width = end - start
    same = (lines.ends - lines.starts == width) & (array[lines.starts] == array[start])
    candidates = np.flatnonzero(same)
    if candidates.size:
        offsets = lines.starts[candidates, np.newaxis] + np.arange(width)
        same[candidates] = (array[offsets] == array[start:end]).all(axis=1)
    return same


def _repeats_may_hide(header: list[str]) -> bool:
    """Whether a repeated header row, spaced differently, could read as a row of numbers:
    only when every header name is empty or a number."""
    return all(not name or _to_float(name) is not None for name in header)


def _kept_bytes(data: bytes, array: np.ndarray, lines: _Lines, rows: np.ndarray) -> bytes:
    """The lines marked in `rows` with their line ends, as one buffer."""
    chosen = np.flatnonzero(rows)
    if chosen.size == 0:
        return b""
    following = np.append(lines.starts[1:], array.size)  # where the next line starts
    if chosen.size == chosen[-1] - chosen[0] + 1:
        kept = data[lines.starts[chosen[0]] : following[chosen[-1]]]
    else:
        edges = np.zeros(array.size + 1, dtype=np.int8)
        edges[lines.starts[chosen]] += 1
        edges[following[chosen]] -= 1
        kept = array[np.cumsum(edges[:-1], dtype=np.int8).astype(bool)].tobytes()
    return kept if kept.endswith(b"\n") else kept + b"\n"


def _c_parse(pd, data: bytes, delimiter: str, width: int):
    """Every column pandas' C parser reads; only empty cells are missing ("nan" stays text).

    Every column is first read as float64, which spares pandas guessing each column's type;
    a cell that is not a number as pandas reads one (a word, "nan") fails that, and the file
    is read again with the types guessed."""
    options = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in (np.float64, None):
            try:
                return pd.read_csv(
                    io.BytesIO(data),
                    sep=delimiter,
                    header=None,
                    names=list(range(width)),
                    index_col=False,
                    keep_default_na=False,
                    na_values=[""],
                    engine="c",
                    quoting=csv.QUOTE_NONE,
                    skip_blank_lines=False,
                    dtype=dtype,
                    **options,
                )
            except pd.errors.ParserError:  # the rows themselves, whatever the types
                return None
            except ValueError:  # a cell that is not a number, or no table at all
                continue
    return None


class _TextColumns:
    """The cells of the columns pandas did not read as numbers, read again as text."""

    def __init__(self, data: bytes, delimiter: str, width: int, indices: list[int]) -> None:
        self.data, self.delimiter, self.width = data, delimiter, width
        self.columns: dict[int, list[str]] = {}
        if indices:
            self._read(indices)

    def _read(self, indices: list[int]) -> None:
        import pandas as pd

        frame = pd.read_csv(
            io.BytesIO(self.data),
            sep=self.delimiter,
            header=None,
            names=list(range(self.width)),
            usecols=indices,
            index_col=False,
            dtype=str,
            na_filter=False,
            engine="c",
            quoting=csv.QUOTE_NONE,
            skip_blank_lines=False,
        )
        for index in indices:
            self.columns[index] = frame[index].tolist()

    def cells(self, index: int) -> list[str]:
        if index not in self.columns:
            self._read([index])
        return self.columns[index]

    def may_hold_a_repeated_header(self, header: list[str]) -> bool:
        """Whether a header row spaced otherwise than the first may be among the rows (only
        possible when every column with a name that is not a number holds text)."""
        textual = [index for index, name in enumerate(header) if name and _to_float(name) is None]
        if not all(index in self.columns for index in textual):
            return False
        first = self.columns.get(0)
        return first is None or header[0] in {cell.strip() for cell in first}
