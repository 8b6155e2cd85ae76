"""Scalar points from one TensorBoard event file, every point, fast.

An event file is a TFRecord stream: per record a little-endian uint64 length, a uint32 masked
CRC-32C of those 8 bytes, the data (a serialized `Event` protobuf) and a uint32 masked CRC-32C
of the data. Writers produce millions of tiny records that share a handful of byte layouts:
records of one tag differ only in the wall time, the step and the value bytes. So instead of
decoding each record with protobuf (tensorboard's loaders, tbparse) this module frames the
records with numpy (the records are the chain of offsets, each 12 bytes before an Event's
first byte, whose lengths lead each to the next; a Python walk takes over where the chain
breaks), groups them by length, decodes one record per layout in Python (and checks it
against protobuf once per layout), and reads every record that matches that layout
byte-for-byte (outside those three fields) with numpy. Records of any other layout go
through the protobuf classes.

Checksums are verified with a numpy CRC-32C (no compiled dependency): for the records of a
layout, the first record's checksum corrected for the bytes of the three fields alone (CRC
is affine), otherwise over all the bytes of all small records at once. The data checksum of
large records (images, histograms, graphs) is checked only when they carry scalars: their
content is otherwise never used, and their length fields, which the framing depends on, are
always checked. Damage costs only the records it touches: a record whose data fails its
checksum is skipped, and after a damaged length field reading resumes at the next record
whose length is intact.

The file is memory-mapped and handled in blocks of records; decoded blocks are released, so
memory grows with the points read, not with the file.
"""

from __future__ import annotations

import contextlib
import mmap
import struct
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path

import numpy as np

SCALARS_PLUGIN = "scalars"
HPARAMS_PLUGIN = "hparams"
# The summary the hparams plugin writes once per session, with the hyper-parameter values.
HPARAMS_SESSION_TAG = "_hparams_/session_start_info"

# Records longer than this skip the bulk decoder: they are images, histograms, graphs or
# hyper-parameter blobs, rarely scalars, and never share a layout with other records.
_BULK_MAX_BYTES = 1024
# Records framed, checked and decoded at once; bounds the memory of index arrays and byte
# matrices, and the pages of the file held in memory.
_BLOCK_RECORDS = 1 << 17
# After this many layouts in one block of equal-length records, the rest go to protobuf:
# guards against quadratic work on files where every record has its own layout.
_MAX_LAYOUT_ROUNDS = 32
# Records of one length decoded a layout at a time from the first remaining record: at most
# this many rounds, and rows compared at most this many times over in all.
_MAX_FIRST_ROW_ROUNDS = 8
_FIRST_ROW_ROUNDS_WORK = 3
# Candidate offsets checked at once when looking for the next intact record after damage:
# the first window is small (the next record is usually close), later ones grow to the cap.
_RESYNC_FIRST_WINDOW = 1 << 12
_RESYNC_MAX_WINDOW = 1 << 20
# Bytes framed at once by `_FileDecoder._frame_window` (at least 17 bytes a record); after
# a chain of records is cut short, this many records are walked before it is tried again.
_FRAME_WINDOW_BYTES = 1 << 22
_SLOW_STRETCH_RECORDS = 1 << 10

_HEADER_BYTES = 12  # uint64 length + uint32 masked crc of the length
_FOOTER_BYTES = 4  # uint32 masked crc of the data
_CRC_MASK_DELTA = 0xA282EAD8
_CRC32C_POLYNOMIAL = 0x82F63B78  # Castagnoli, bit-reversed
_HASH_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)

# TensorProto dtype -> numpy dtype of its bytes, for dtypes the bulk decoder reads.
_TENSOR_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 9: "<i8", 19: "<f2"}
_DT_STRING = 7
_TENSOR_CONTENT_FIELD = 4
# Event fields (event.proto) that make an event something other than a summary.
_NON_SUMMARY_EVENT_FIELDS = {3, 4, 6, 7, 8, 9}
_EVENT_SOURCE_METADATA_FIELD = 10
# Summary.Value payloads that are never scalars: old histograms, image, histogram, audio.
_NON_SCALAR_VALUE_FIELDS = {3, 4, 5, 6}


def _crc32c_tables() -> np.ndarray:
    """Slicing-by-4 tables: row k maps a byte to its CRC contribution k bytes further on."""
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(_CRC32C_POLYNOMIAL), crc >> 1)
    tables = [crc]
    for _ in range(3):
        previous = tables[-1]
        tables.append((previous >> 8) ^ crc[previous & 0xFF])
    return np.stack(tables).astype(np.uint32)


_CRC_TABLES = _crc32c_tables()
_CRC_TABLE_LIST = [int(entry) for entry in _CRC_TABLES[0]]


def _mask(crc: np.ndarray | int) -> np.ndarray | int:
    return ((crc >> 15) | (crc << 17)) + _CRC_MASK_DELTA


def masked_crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """Masked CRC-32C of every row of a uint8 matrix, vectorised across rows."""
    count, width = rows.shape
    table0, table1, table2, table3 = _CRC_TABLES
    crc = np.full(count, 0xFFFFFFFF, dtype=np.uint32)
    word_count = width // 4
    if word_count:
        words = np.ascontiguousarray(rows[:, : word_count * 4]).view("<u4").T.copy()
        for word in words:
            crc ^= word
            crc = (
                table3[crc & 0xFF]
                ^ table2[(crc >> 8) & 0xFF]
                ^ table1[(crc >> 16) & 0xFF]
                ^ table0[crc >> 24]
            )
    for column in range(word_count * 4, width):
        crc = table0[(crc ^ rows[:, column]) & 0xFF] ^ (crc >> 8)
    crc ^= np.uint32(0xFFFFFFFF)
    return _mask(crc)


# The masked CRC of every length field below this, looked up instead of computed: the
# length fields of a file take a few small values.
_SHORT_LENGTHS = 1 << 12
_SHORT_LENGTH_CRCS = masked_crc32c_rows(
    np.arange(_SHORT_LENGTHS, dtype="<u8").view(np.uint8).reshape(-1, 8)
)


def _crc32c(data: bytes | memoryview) -> int:
    """CRC-32C of one buffer, unmasked."""
    table = _CRC_TABLE_LIST
    crc = 0xFFFFFFFF
    for byte in bytes(data):
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | memoryview) -> int:
    """Masked CRC-32C of one buffer (for the few records outside the bulk path)."""
    return _mask(_crc32c(data)) & 0xFFFFFFFF


# Row d: what a byte followed by d more bytes adds to the CRC-32C of a message (CRC is
# affine: the CRC of a message is a constant for its length XOR one such entry per byte).
# Grown on demand up to the longest record the bulk decoder reads.
_position_tables = _CRC_TABLES[:1].copy()


def _crc_position_tables(length: int) -> np.ndarray:
    """Rows 0 to length - 1 of the position tables."""
    global _position_tables
    tables = _position_tables
    if tables.shape[0] < length:
        grown = [tables]
        last = tables[-1]
        table0 = _CRC_TABLES[0]
        for _ in range(length - tables.shape[0]):
            last = table0[last & 0xFF] ^ (last >> 8)
            grown.append(last[np.newaxis])
        tables = _position_tables = np.concatenate(grown)
    return tables


def masked_crc32c_varying(rows: np.ndarray, reference: int, columns) -> np.ndarray:
    """Masked CRC-32C of every row of a uint8 matrix whose bytes outside `columns` equal
    those of row `reference`: its CRC, corrected byte by byte where a row differs (one
    table lookup per row and column, against about three for `masked_crc32c_rows`)."""
    count, length = rows.shape
    tables = _crc_position_tables(length)
    first = rows[reference]
    constant = _crc32c(first.tobytes())
    crc = np.zeros(count, dtype=np.uint32)
    for column in columns:
        table = tables[length - 1 - column]
        constant ^= int(table[first[column]])
        np.bitwise_xor(crc, table.take(rows[:, column]), out=crc)
    crc ^= np.uint32(constant)
    return _mask(crc)


@dataclass(frozen=True)
class Points:
    """Scalar points of one tag in write order."""

    steps: np.ndarray
    values: np.ndarray
    wall_times: np.ndarray

    @staticmethod
    def concatenate(parts: list[Points]) -> Points:
        if len(parts) == 1:
            return parts[0]
        return Points(
            np.concatenate([part.steps for part in parts]),
            np.concatenate([part.values for part in parts]),
            np.concatenate([part.wall_times for part in parts]),
        )


@dataclass
class EventFileScalars:
    """What one event file holds, as far as scalars go.

    `records` counts the valid records. `is_event_file` is False when nothing in the file
    could be read as an event (garbage, another format); a file cut short inside its first
    record still counts as an event file, one whose writer died early.

    `pending_tensors` are tensor values without plugin metadata: TF1's FileWriter writes a
    tag's metadata only on its first event, so whether they are scalars is decided by the
    plugin named for the same tag elsewhere in the run (`plugins`).
    """

    scalars: dict[str, Points] = field(default_factory=dict)
    pending_tensors: dict[str, Points] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)
    hparams: dict[str, float | str | bool] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    records: int = 0
    is_event_file: bool = True
    end: int = 0
    """The byte offset after the last complete record read: where reading a file that is
    still being written resumes (`read_event_file(path, start=end)`)."""


class _Malformed(Exception):
    """A record's bytes do not follow the wire format (the caller falls back to protobuf)."""


def _varint(data: bytes, position: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if position >= end or shift > 63:
            raise _Malformed
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, position
        shift += 7


def _skip_field(data: bytes, position: int, end: int, wire_type: int) -> int:
    if wire_type == 0:
        return _varint(data, position, end)[1]
    if wire_type == 1:
        position += 8
    elif wire_type == 2:
        length, position = _varint(data, position, end)
        position += length
    elif wire_type == 5:
        position += 4
    else:
        raise _Malformed
    if position > end:
        raise _Malformed
    return position


def _length_delimited(data: bytes, position: int, end: int) -> tuple[int, int]:
    length, start = _varint(data, position, end)
    if start + length > end:
        raise _Malformed
    return start, start + length


@dataclass(frozen=True)
class _Slot:
    """Where one scalar of a layout lives; `known_plugin` is False for tensors whose plugin
    is named elsewhere."""

    tag: str
    offset: int
    dtype: str
    known_plugin: bool


@dataclass(frozen=True)
class _Layout:
    """The byte layout of a record: the variable fields' positions and the scalars it holds.

    Two records of equal length with equal bytes outside `variable_windows` decode to the
    same tags and plugins, with their own wall time, step and values.
    """

    wall_offset: int | None
    step_offset: int | None
    step_length: int
    slots: tuple[_Slot, ...]
    plugins: tuple[tuple[str, str], ...]

    @property
    def shape(self) -> tuple:
        """Everything but tags and plugins: layouts of equal shape decode alike."""
        slots = tuple((slot.offset, slot.dtype) for slot in self.slots)
        return (self.wall_offset, self.step_offset, self.step_length, slots)

    @property
    def variable_windows(self) -> tuple[tuple[int, int], ...]:
        windows = [(slot.offset, np.dtype(slot.dtype).itemsize) for slot in self.slots]
        if self.wall_offset is not None:
            windows.append((self.wall_offset, 8))
        if self.step_offset is not None:
            windows.append((self.step_offset, self.step_length))
        return tuple(sorted(windows))


def _tensor_window(data: bytes, start: int, end: int) -> tuple[int, str] | None:
    """Offset and numpy dtype of a one-element numeric tensor's bytes; None for tensors that
    are not scalars (strings, several elements). Raises _Malformed where only protobuf can
    tell (int_val, half_val and other rarely used encodings)."""
    dtype = 0
    element_count = 1
    payloads: list[tuple[int, int, int]] = []  # (offset, byte length, field number)
    position = start
    while position < end:
        key, position = _varint(data, position, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 0:
            dtype, position = _varint(data, position, end)
        elif number == 2 and wire_type == 2:
            shape_start, position = _length_delimited(data, position, end)
            element_count *= _shape_element_count(data, shape_start, position)
        elif number == 3 and wire_type == 0:
            position = _varint(data, position, end)[1]
        elif number in (4, 5, 6) and wire_type == 2:
            payload_start, position = _length_delimited(data, position, end)
            payloads.append((payload_start, position - payload_start, number))
        elif number == 5 and wire_type == 5:
            payloads.append((position, 4, number))
            position += 4
        elif number == 6 and wire_type == 1:
            payloads.append((position, 8, number))
            position += 8
        elif number == 8:
            return None  # string_val
        else:
            raise _Malformed
    if position != end:
        raise _Malformed
    if dtype == _DT_STRING or element_count != 1:
        return None
    numpy_dtype = _TENSOR_DTYPES.get(dtype)
    if numpy_dtype is None or len(payloads) != 1:
        raise _Malformed
    offset, length, number = payloads[0]
    value_field = {"<f4": 5, "<f8": 6}.get(numpy_dtype)  # float_val, double_val
    if number not in (_TENSOR_CONTENT_FIELD, value_field):
        raise _Malformed
    if length != np.dtype(numpy_dtype).itemsize:
        raise _Malformed
    return offset, numpy_dtype


def _shape_element_count(data: bytes, start: int, end: int) -> int:
    count = 1
    position = start
    while position < end:
        key, position = _varint(data, position, end)
        if key >> 3 == 2 and key & 7 == 2:
            dim_start, position = _length_delimited(data, position, end)
            size = 1
            inner = dim_start
            while inner < position:
                dim_key, inner = _varint(data, inner, position)
                if dim_key >> 3 == 1 and dim_key & 7 == 0:
                    size, inner = _varint(data, inner, position)
                else:
                    inner = _skip_field(data, inner, position, dim_key & 7)
            count *= size
        else:
            raise _Malformed
    return count


def _plugin_name(data: bytes, start: int, end: int) -> str:
    plugin = ""
    position = start
    while position < end:
        key, position = _varint(data, position, end)
        if key == (1 << 3) | 2:
            plugin_start, position = _length_delimited(data, position, end)
            inner = plugin_start
            while inner < position:
                plugin_key, inner = _varint(data, inner, position)
                if plugin_key == (1 << 3) | 2:
                    name_start, inner = _length_delimited(data, inner, position)
                    plugin = data[name_start:inner].decode("utf-8")
                else:
                    inner = _skip_field(data, inner, position, plugin_key & 7)
        else:
            position = _skip_field(data, position, end, key & 7)
    return plugin


def _value_layout(data: bytes, start: int, end: int) -> tuple[str, _Slot | None, str]:
    """(tag, slot or None, plugin name) of one Summary.Value."""
    tag: str | None = None
    plugin = ""
    payload_seen = False
    simple_value_offset: int | None = None
    tensor_window: tuple[int, str] | None = None
    position = start
    while position < end:
        key, position = _varint(data, position, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 2 and tag is None:
            tag_start, position = _length_delimited(data, position, end)
            tag = data[tag_start:position].decode("utf-8")
        elif number == 7 and wire_type == 2:
            position = _length_delimited(data, position, end)[1]
        elif number == 9 and wire_type == 2 and not plugin:
            metadata_start, position = _length_delimited(data, position, end)
            plugin = _plugin_name(data, metadata_start, position)
        elif payload_seen:
            raise _Malformed  # a second payload or field: protobuf's merge rules decide
        elif number == 2 and wire_type == 5:
            payload_seen = True
            simple_value_offset = position
            position += 4
        elif number in _NON_SCALAR_VALUE_FIELDS and wire_type == 2:
            payload_seen = True
            position = _length_delimited(data, position, end)[1]
        elif number == 8 and wire_type == 2:
            payload_seen = True
            tensor_start, position = _length_delimited(data, position, end)
            tensor_window = _tensor_window(data, tensor_start, position)
        else:
            raise _Malformed
    if position != end or tag is None:
        raise _Malformed
    if simple_value_offset is not None:
        return tag, _Slot(tag, simple_value_offset, "<f4", known_plugin=True), plugin
    if tensor_window is not None and plugin in (SCALARS_PLUGIN, ""):
        offset, dtype = tensor_window
        return tag, _Slot(tag, offset, dtype, known_plugin=plugin == SCALARS_PLUGIN), plugin
    return tag, None, plugin


def _record_layout(data: bytes) -> _Layout | None:
    """The layout of one serialized Event, or None when it needs the protobuf decoder."""
    try:
        return _walk_event(data)
    except (_Malformed, UnicodeDecodeError):
        return None


def _walk_event(data: bytes) -> _Layout:
    end = len(data)
    wall_offset = step_offset = None
    step_length = 0
    summary: tuple[int, int] | None = None
    is_other_event = False
    position = 0
    while position < end:
        key, position = _varint(data, position, end)
        number, wire_type = key >> 3, key & 7
        if number == 1 and wire_type == 1 and wall_offset is None:
            wall_offset = position
            position += 8
        elif number == 2 and wire_type == 0 and step_offset is None:
            step_offset = position
            position = _varint(data, position, end)[1]
            step_length = position - step_offset
        elif number == 5 and wire_type == 2 and summary is None:
            summary = _length_delimited(data, position, end)
            position = summary[1]
        elif number in _NON_SUMMARY_EVENT_FIELDS or number == _EVENT_SOURCE_METADATA_FIELD:
            is_other_event = is_other_event or number != _EVENT_SOURCE_METADATA_FIELD
            position = _skip_field(data, position, end, wire_type)
        else:
            raise _Malformed
    if position != end or (summary is not None and is_other_event):
        raise _Malformed
    slots: list[_Slot] = []
    plugins: list[tuple[str, str]] = []
    if summary is not None:
        position, summary_end = summary
        while position < summary_end:
            key, position = _varint(data, position, summary_end)
            if key != (1 << 3) | 2:
                raise _Malformed
            value_start, position = _length_delimited(data, position, summary_end)
            tag, slot, plugin = _value_layout(data, value_start, position)
            if slot is not None:
                slots.append(slot)
            if plugin:
                plugins.append((tag, plugin))
    return _Layout(wall_offset, step_offset, step_length, tuple(slots), tuple(plugins))


def _protobuf_points(data: bytes) -> tuple[int, float, list[tuple[str, bool, float]], list] | None:
    """(step, wall time, [(tag, known plugin, value)], [(tag, plugin)]) of one record, decoded
    with protobuf; None if it is not an Event."""
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2

    try:
        event = event_pb2.Event.FromString(data)
    except DecodeError:
        return None
    points: list[tuple[str, bool, float]] = []
    plugins: list[tuple[str, str]] = []
    if event.WhichOneof("what") == "summary":
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            if plugin:
                plugins.append((value.tag, plugin))
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                points.append((value.tag, True, value.simple_value))
            elif kind == "tensor" and plugin in (SCALARS_PLUGIN, ""):
                number = _tensor_scalar(value.tensor)
                if number is not None:
                    points.append((value.tag, plugin == SCALARS_PLUGIN, number))
    return event.step, event.wall_time, points, plugins


def session_hparams(data: bytes) -> dict[str, float | str | bool]:
    """The hyper-parameters in one record's hparams session-start summary, by name.

    Written by `add_hparams` (PyTorch, tensorboardX) and by TensorBoard's hparams API; each
    value is a protobuf `Value`: a number, a string or a bool.
    """
    from google.protobuf.message import DecodeError
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        event = event_pb2.Event.FromString(data)
        values = [
            value
            for value in event.summary.value
            if value.tag == HPARAMS_SESSION_TAG
            and value.metadata.plugin_data.plugin_name == HPARAMS_PLUGIN
        ]
        if not values:
            return {}
        content = plugin_data_pb2.HParamsPluginData.FromString(
            values[0].metadata.plugin_data.content
        )
    except DecodeError:
        return {}
    hparams = {}
    for name, value in content.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        if kind in ("number_value", "string_value", "bool_value"):
            hparams[name] = getattr(value, kind)
    return hparams


def _tensor_scalar(tensor) -> float | None:
    # Imported here: tensor_util loads tensorboard's TensorFlow stub (and boto3), 0.2 s.
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
    except (TypeError, ValueError, KeyError):
        return None
    if array.size != 1 or array.dtype.kind not in "biuf":  # bool, integers, floats
        return None
    return float(array.reshape(-1)[0])


class _PointCollector:
    """Scalar points gathered out of order within a block of records (by layout), put back in
    record order at the end of each block, so that record numbers are held for one block
    only: a long file's points are held once, as steps, values and wall times."""

    def __init__(self) -> None:
        self._chunks: dict[tuple[str, bool], list[tuple[np.ndarray, ...]]] = defaultdict(list)
        self._block: dict[tuple[str, bool], list[tuple[np.ndarray, ...]]] = defaultdict(list)
        self._single: dict[tuple[str, bool], list[tuple[int, int, float, float]]] = defaultdict(
            list
        )
        self.plugins: dict[str, str] = {}
        self.hparams: dict[str, float | str | bool] = {}

    def add_bulk(
        self,
        slot: _Slot,
        records: np.ndarray,
        steps: np.ndarray,
        values: np.ndarray,
        wall_times: np.ndarray,
    ) -> None:
        self._block[(slot.tag, slot.known_plugin)].append((records, steps, values, wall_times))

    def add_one(
        self, tag: str, known_plugin: bool, record: int, step: int, value: float, wall_time: float
    ) -> None:
        self._single[(tag, known_plugin)].append((record, step, value, wall_time))

    def add_plugins(self, plugins, record_bytes) -> None:
        """Note each tag's plugin; `record_bytes()` gives the record's bytes, read only for
        the rare hparams session summary."""
        for tag, plugin in plugins:
            self.plugins.setdefault(tag, plugin)
            if tag == HPARAMS_SESSION_TAG and plugin == HPARAMS_PLUGIN:
                for data in record_bytes():
                    self.hparams.update(session_hparams(data))

    def end_block(self) -> None:
        """Put each tag's points of the block just decoded in record order."""
        for key, singles in self._single.items():
            records, steps, values, wall_times = zip(*singles, strict=True)
            self._block[key].append(
                (
                    np.asarray(records, dtype=np.int64),
                    np.asarray(steps, dtype=np.int64),
                    np.asarray(values, dtype=np.float64),
                    np.asarray(wall_times, dtype=np.float64),
                )
            )
        self._single.clear()
        for key, parts in self._block.items():
            if len(parts) == 1:
                records, *points = parts[0]
            else:
                records, *points = (np.concatenate(column) for column in zip(*parts, strict=True))
            if (np.diff(records) < 0).any():
                order = np.argsort(records, kind="stable")
                points = [column[order] for column in points]
            self._chunks[key].append(tuple(points))
        self._block.clear()

    def finish(self, contents: EventFileScalars) -> None:
        """Move the points into `contents`, one tag and one column at a time, each part let
        go once copied, to keep the peak memory low."""
        self.end_block()
        while self._chunks:
            (tag, known_plugin), chunks = self._chunks.popitem()
            columns = [list(column) for column in zip(*chunks, strict=True)]
            del chunks
            steps, values, wall_times = (_joined(columns, index) for index in range(3))
            target = contents.scalars if known_plugin else contents.pending_tensors
            target[tag] = Points(steps, values, wall_times)
        contents.plugins.update(self.plugins)
        contents.hparams.update(self.hparams)


def _joined(columns: list[list[np.ndarray]], index: int) -> np.ndarray:
    """Column `index` in one array; its parts are dropped from `columns`."""
    parts, columns[index] = columns[index], []
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _frame_records(data, start: int, max_records: int) -> tuple[np.ndarray, int]:
    """Byte offsets of up to `max_records` complete records from `start`, and the offset
    after the last of them (where the walk stopped if the file ends in a partial record).

    The one loop over records in Python: everything after it is vectorised.
    """
    unpack_length = struct.Struct("<Q").unpack_from
    size = len(data)
    last_header = size - _HEADER_BYTES - _FOOTER_BYTES
    boundaries = array("q", [start])
    append = boundaries.append
    position = start
    try:
        for _ in repeat(None, max_records):
            if position > last_header:
                break
            position += unpack_length(data, position)[0] + _HEADER_BYTES + _FOOTER_BYTES
            append(position)
    except OverflowError:  # a garbage length: the record would end past 2**63
        append(size + 1)
    starts = np.frombuffer(boundaries, dtype=np.int64)
    complete = int(np.searchsorted(starts, size, side="right")) - 1
    return starts[:complete], int(starts[complete])


def _length_crc_ok(data, offset: int) -> bool:
    stored = struct.unpack_from("<I", data, offset + 8)[0]
    return masked_crc32c(data[offset : offset + 8]) == stored


def _same_float(left: float, right: float) -> bool:
    return left == right or (np.isnan(left) and np.isnan(right))


def _grouped(items: np.ndarray, keys: np.ndarray):
    """(key, items with that key) pairs; items keep their order within a group."""
    order = np.argsort(keys, kind="stable")
    boundaries = np.flatnonzero(np.diff(keys[order])) + 1
    for members in np.split(order, boundaries):
        if members.size:
            yield int(keys[members[0]]), items[members]


class _FileDecoder:
    """Decodes the bytes of one mapped event file, block by block."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.bytes = np.frombuffer(data, dtype=np.uint8)
        self.collector = _PointCollector()
        self.bad_data_crc: list[tuple[int, int]] = []  # (record, byte offset)
        self.undecodable: list[tuple[int, int]] = []
        self.warnings: list[str] = []
        self.released_bytes = 0

    def decode(self, start: int = 0, growing: bool = False) -> EventFileScalars:
        """Decode every record from byte `start`; the points stay in `self.collector` until
        `finish`. With `growing`, a partial record at the end is a write in progress, not
        damage: no warning, and `end` stays before it."""
        size = len(self.data)
        position, records = start, 0
        end = size
        damaged: list[tuple[int, int, int]] = []  # (record, byte offset, bytes skipped)
        slow_records = _BLOCK_RECORDS
        while True:
            framed = self._frame_window(position)
            if framed is not None:
                offsets, lengths, following, cut_short = framed
                self._decode_block(records, offsets, lengths)
                records += offsets.size
                if following >= size:
                    break
                position = following
                self._release_pages(position)
                if cut_short:
                    # A record that does not start as writers start them, or damage: the
                    # walk below takes the next records.
                    slow_records = _SLOW_STRETCH_RECORDS
                continue
            offsets, following = _frame_records(self.data, position, slow_records)
            trusted = self._length_checked(offsets)
            self._decode_block(records, trusted)
            records += trusted.size
            if trusted.size < offsets.size:
                stop = int(offsets[trusted.size])
            elif offsets.size == slow_records:
                position = following
                self._release_pages(position)
                slow_records = _BLOCK_RECORDS
                continue
            elif following == size:
                break
            elif size - following < _HEADER_BYTES or _length_crc_ok(self.data, following):
                end = following
                if growing:
                    break
                self.warnings.append(
                    f"last record truncated at byte {following} ({size - following} bytes of "
                    f"an incomplete record); read the {records} complete records before it "
                    "(file still being written?)"
                )
                break
            else:
                stop = following
            resume = self._next_intact_record(stop + 1)
            damaged.append((records, stop, (size if resume is None else resume) - stop))
            if resume is None:
                break
            position = resume
        if damaged:
            record, offset, _ = damaged[0]
            self.warnings.append(
                f"{len(damaged)} damaged stretch(es) skipped: length checksum mismatch, "
                f"{sum(length for *_, length in damaged)} bytes (first: record {record} at "
                f"byte {offset})"
            )
        valid_records = records - len(self.bad_data_crc) - len(self.undecodable)
        return EventFileScalars(
            records=valid_records,
            is_event_file=valid_records > 0 or (records == 0 and not damaged),
            warnings=self.warnings + self._record_warnings(),
            end=end,
        )

    def _frame_window(self, start: int) -> tuple[np.ndarray, np.ndarray, int, bool] | None:
        """Byte offsets and lengths of the records from `start` on, framed without a Python
        loop, the offset after the last of them and whether the chain was cut short before
        the end of its window; None when the record at `start` cannot be framed so.

        Every writer begins an Event with its wall time (field 1, a double: byte 0x09), so
        the records of a window of the file are among the offsets 12 bytes before a 0x09
        byte whose length field matches its checksum. Those whose lengths lead each to the
        next, from `start`, are the records, exactly as the walk would find them, lengths
        checked; the chain ends at the first record that leads elsewhere (for the walk to
        take over), at the end of the window, or before a record cut short by the file's end.
        """
        size = len(self.data)
        window_end = min(start + _FRAME_WINDOW_BYTES, size)
        if window_end - start < _HEADER_BYTES + 1 + _FOOTER_BYTES:
            return None
        candidates = np.flatnonzero(self.bytes[start + _HEADER_BYTES : window_end] == 0x09)
        if candidates.size == 0 or candidates[0] != 0:
            return None
        if candidates.size > (window_end - start) // 8:
            return None  # bytes that are mostly 0x09: not records, or too costly to sort out
        candidates += start
        headers = self._gather(candidates, _HEADER_BYTES)
        words = headers.view("<u4")  # length (low, high) and its checksum, per candidate
        low = words[:, 0]
        plausible = (words[:, 1] == 0) & (low < 1 << 31)
        if not plausible[0]:
            return None
        computed = _SHORT_LENGTH_CRCS[np.minimum(low, _SHORT_LENGTHS - 1)]
        long = np.flatnonzero(plausible & (low >= _SHORT_LENGTHS))
        if long.size:
            computed[long] = masked_crc32c_rows(np.ascontiguousarray(headers[long, :8]))
        intact = (computed == words[:, 2]) & plausible
        if not intact[0]:
            return None
        if intact.all():
            lengths = low.astype(np.int64)
        else:
            candidates, lengths = candidates[intact], low[intact].astype(np.int64)
        following = candidates + (lengths + _HEADER_BYTES + _FOOTER_BYTES)
        breaks = np.flatnonzero(following[:-1] != candidates[1:])
        count = int(breaks[0]) + 1 if breaks.size else candidates.size
        while count and following[count - 1] > size:  # cut short by the end of the file
            count -= 1
        if count == 0:
            return None
        end = int(following[count - 1])
        return candidates[:count], lengths[:count], end, end <= window_end - _HEADER_BYTES - 1

    def _next_intact_record(self, start: int) -> int | None:
        """The first offset from `start` where a whole record with an intact length field
        begins, or None.

        A damaged length field hides where its record ends; reading resumes at the next
        length that fits in the file and matches its checksum (a chance of 2**-32 per offset
        in random bytes), so one damaged record costs itself, not the rest of the file.
        Only lengths from 1 byte (an Event holds at least its wall time) to 2 GiB (the limit
        of a protobuf message) get a checksum computed, which passes over random bytes and
        the zero-filled tail a crash can leave.
        """
        last_start = len(self.data) - _HEADER_BYTES - _FOOTER_BYTES
        window = _RESYNC_FIRST_WINDOW
        while start <= last_start:
            stop = min(start + window, last_start + 1)
            low_bytes = [self.bytes[start + byte : stop + byte] for byte in range(4)]
            plausible = (np.bitwise_or.reduce(low_bytes) != 0) & (low_bytes[3] < 0x80)
            for byte in range(4, 8):
                plausible &= self.bytes[start + byte : stop + byte] == 0
            starts = start + np.flatnonzero(plausible)
            headers = self._gather(starts, _HEADER_BYTES)
            lengths = np.ascontiguousarray(headers[:, :8]).view("<u8").ravel()
            stored = np.ascontiguousarray(headers[:, 8:]).view("<u4").ravel()
            computed = masked_crc32c_rows(np.ascontiguousarray(headers[:, :8]))
            fits = lengths.astype(np.int64) <= last_start - starts
            intact = starts[(computed == stored) & fits]
            if intact.size:
                return int(intact[0])
            start = stop
            window = min(2 * window, _RESYNC_MAX_WINDOW)
        return None

    def _release_pages(self, up_to: int) -> None:
        """Drop the decoded part of the file from this process's memory (the pages stay in
        the OS page cache; touching them again reloads them)."""
        end = up_to - up_to % mmap.PAGESIZE
        if end > self.released_bytes and hasattr(mmap, "MADV_DONTNEED"):
            self.data.madvise(mmap.MADV_DONTNEED, self.released_bytes, end - self.released_bytes)
            self.released_bytes = end

    def _gather(self, starts: np.ndarray, width: int) -> np.ndarray:
        """Rows of `width` bytes from each start (a copy, C-contiguous)."""
        if starts.size == 0:
            return np.empty((0, width), dtype=np.uint8)
        # Each offset seen as one opaque item of `width` bytes: numpy gathers those with one
        # copy each, about three times faster than rows of a sliding window view.
        items = np.ndarray(
            (self.bytes.size - width + 1,), dtype=f"V{width}", buffer=self.bytes, strides=(1,)
        )
        return items[starts].view(np.uint8).reshape(-1, width)

    def _length_checked(self, offsets: np.ndarray) -> np.ndarray:
        """The offsets before the first record whose length field fails its checksum."""
        headers = self._gather(offsets, _HEADER_BYTES)
        lengths = np.ascontiguousarray(headers[:, :8]).view("<u8").ravel()
        stored = np.ascontiguousarray(headers[:, 8:]).view("<u4").ravel()
        computed = _SHORT_LENGTH_CRCS[np.minimum(lengths, _SHORT_LENGTHS - 1)]
        long = np.flatnonzero(lengths >= _SHORT_LENGTHS)
        computed[long] = masked_crc32c_rows(np.ascontiguousarray(headers[long, :8]))
        bad = np.flatnonzero(computed != stored)
        return offsets[: bad[0]] if bad.size else offsets

    def _decode_block(
        self, first_record: int, offsets: np.ndarray, lengths: np.ndarray | None = None
    ) -> None:
        if lengths is None:
            lengths = self._gather(offsets, 8).view("<u8").ravel()
        lengths = lengths.astype(np.int64)
        data_starts = offsets + _HEADER_BYTES
        record_numbers = first_record + np.arange(offsets.size)
        small = np.flatnonzero((lengths > 0) & (lengths <= _BULK_MAX_BYTES))
        checksummed = np.zeros(offsets.size, dtype=bool)
        checksummed[small] = True
        for_protobuf = [np.flatnonzero(~checksummed)]
        for length, members in _grouped(small, lengths[small].astype(np.uint16)):
            for_protobuf.append(
                self._decode_equal_length(record_numbers, members, data_starts[members], length)
            )
        for index in np.sort(np.concatenate(for_protobuf)).tolist():
            self._decode_with_protobuf(
                int(record_numbers[index]),
                int(data_starts[index]),
                int(lengths[index]),
                checksummed[index],
            )
        self.collector.end_block()

    def _decode_equal_length(
        self, record_numbers: np.ndarray, indices: np.ndarray, starts: np.ndarray, length: int
    ) -> np.ndarray:
        """Decode a block's records of one length, layout by layout; return the indices of
        those left for protobuf."""
        framed = self._gather(starts, length + _FOOTER_BYTES)
        rows = framed[:, :length]
        stored_crc = framed[:, length:].view("<u4")[:, 0]
        # Layout by layout from the first remaining record, while that pays; many layouts
        # of one length (many tags of one name length) go to the grouping by hash below.
        work_left = _FIRST_ROW_ROUNDS_WORK * rows.shape[0]
        for _ in range(_MAX_FIRST_ROW_ROUNDS):
            work_left -= rows.shape[0]
            others = self._decode_first_row_layout(
                record_numbers, indices, starts, rows, stored_crc
            )
            if others is None:
                break
            if others.size == 0:
                return others
            indices, starts = indices[others], starts[others]
            framed = self._gather(starts, length + _FOOTER_BYTES)  # faster than rows[others]
            rows = framed[:, :length]
            stored_crc = framed[:, length:].view("<u4")[:, 0]
            if work_left < rows.shape[0]:
                break
        crc_ok = masked_crc32c_rows(rows) == stored_crc
        for record, start in zip(record_numbers[indices[~crc_ok]], starts[~crc_ok], strict=True):
            self.bad_data_crc.append((int(record), int(start) - _HEADER_BYTES))
        rows, indices = rows[crc_ok], indices[crc_ok]
        for_protobuf = [np.empty(0, dtype=np.int64)]
        # Records of one length whose steps differ in width have their fields in different
        # places; separating them first keeps the number of layouts per batch small.
        for _, members in _grouped(np.arange(indices.size), _step_widths(rows)):
            member_indices, member_rows = indices[members], rows[members]
            for _ in range(_MAX_LAYOUT_ROUNDS):
                if member_indices.size == 0:
                    break
                decoded = self._decode_first_layout(record_numbers[member_indices], member_rows)
                if not decoded[0]:
                    for_protobuf.append(member_indices[:1])
                    decoded[0] = True
                member_rows = member_rows[~decoded]
                member_indices = member_indices[~decoded]
            for_protobuf.append(member_indices)
        return np.concatenate(for_protobuf)

    def _decode_first_row_layout(
        self,
        record_numbers: np.ndarray,
        indices: np.ndarray,
        starts: np.ndarray,
        rows: np.ndarray,
        stored_crc: np.ndarray,
    ) -> np.ndarray | None:
        """Decode the records laid out as the first one (the usual batch: one tag), with
        their checksums; return the positions in `rows` of the others, or None when the
        first record's layout cannot be used.

        A row is in the layout when its bytes outside the variable fields equal the first
        row's (compared as byte strings, a stretch at a time), so its checksum is the first
        row's corrected for the bytes of the variable fields alone.
        """
        first = rows[0].tobytes()
        layout = _record_layout(first)
        if layout is None or not _agrees_with_protobuf_once(layout, first, rows[0]):
            return None
        length = rows.shape[1]
        same = None
        position = 0
        for offset, width in (*layout.variable_windows, (length, 0)):
            if offset > position:
                equal = _equal_to_first(rows[:, position:offset])
                same = equal if same is None else np.bitwise_and(same, equal, out=same)
            position = max(position, offset + width)
        if same is None:
            same = np.ones(rows.shape[0], dtype=bool)
        if layout.step_offset is not None:
            last = layout.step_offset + layout.step_length - 1
            for column in range(layout.step_offset, last):
                same &= rows[:, column] >= 0x80
            same &= rows[:, last] < 0x80
        crc_ok = masked_crc32c_varying(rows, 0, _varying_columns(layout, rows)) == stored_crc
        decoded = np.bitwise_and(crc_ok, same, out=crc_ok)
        if decoded.all():
            self._emit(layout, record_numbers[indices], rows)
            return np.empty(0, dtype=np.int64)
        for position in np.flatnonzero(same & ~decoded).tolist():
            record = int(record_numbers[indices[position]])
            self.bad_data_crc.append((record, int(starts[position]) - _HEADER_BYTES))
        if decoded.any():
            self._emit(layout, record_numbers[indices[decoded]], rows[decoded])
        return np.flatnonzero(~same)

    def _decode_first_layout(self, records: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Decode every row whose variable fields sit where the first row's do.

        Rows are grouped by a hash of their bytes outside those fields; the first row of each
        group is decoded in Python (and checked against protobuf), and the group's rows that
        equal it outside those fields are decoded with numpy. Returns which rows were decoded.
        """
        first_layout = _record_layout(rows[0].tobytes())
        if first_layout is None:
            return np.zeros(records.size, dtype=bool)
        length = rows.shape[1]
        fixed = np.zeros((rows.shape[0], -(-length // 8) * 8), dtype=np.uint8)
        fixed[:, :length] = rows
        for offset, width in first_layout.variable_windows:
            fixed[:, offset : offset + width] = 0
        fixed_words = fixed.view("<u8")
        same_fixed = (fixed_words == fixed_words[0]).all(axis=1)
        if same_fixed.all():  # the usual batch: one tag, so one group
            group_first = np.zeros(1, dtype=np.intp)
            group_of_row = np.zeros(rows.shape[0], dtype=np.intp)
        else:
            hashes = fixed_words[:, 0].copy()
            for column in fixed_words.T[1:]:
                hashes *= _HASH_MULTIPLIER
                hashes ^= column
            _, group_first, group_of_row = np.unique(hashes, return_index=True, return_inverse=True)
            same_fixed = (fixed_words == fixed_words[group_first[group_of_row]]).all(axis=1)
        layouts = [
            first_layout if first == 0 else _record_layout(rows[first].tobytes())
            for first in group_first
        ]
        usable = np.array(
            [
                layout is not None
                and layout.shape == first_layout.shape
                and _agrees_with_protobuf(layout, rows[first])
                for layout, first in zip(layouts, group_first, strict=True)
            ]
        )
        decoded = usable[group_of_row] & same_fixed
        if first_layout.step_offset is not None:
            step_end = first_layout.step_offset + first_layout.step_length
            continues = rows[:, first_layout.step_offset : step_end] >= 0x80
            decoded &= continues[:, :-1].all(axis=1) & ~continues[:, -1]
        decoded_rows = np.flatnonzero(decoded)
        for group, members in _grouped(decoded_rows, group_of_row[decoded_rows]):
            self._emit(layouts[group], records[members], rows[members])
        return decoded

    def _emit(self, layout: _Layout, records: np.ndarray, rows: np.ndarray) -> None:
        steps, values, wall_times = _layout_fields(layout, rows)
        self.collector.add_plugins(layout.plugins, lambda: [row.tobytes() for row in rows])
        for slot, slot_values in zip(layout.slots, values, strict=True):
            self.collector.add_bulk(slot, records, steps, slot_values, wall_times)

    def _decode_with_protobuf(self, record: int, start: int, length: int, checksummed: bool):
        """Decode one record the slow way. Large records are checksummed only when used."""
        data = self.data[start : start + length]
        if not checksummed:
            layout = _record_layout(data)
            if layout is not None and not layout.slots:
                self.collector.add_plugins(layout.plugins, lambda: [bytes(data)])
                return
        decoded = _protobuf_points(data)
        needs_checksum = not checksummed and (decoded is None or decoded[2])
        if needs_checksum and not self._data_crc_ok(start, length):
            self.bad_data_crc.append((record, start - _HEADER_BYTES))
            return
        if decoded is None:
            self.undecodable.append((record, start - _HEADER_BYTES))
            return
        step, wall_time, points, plugins = decoded
        self.collector.add_plugins(plugins, lambda: [bytes(data)])
        for tag, known_plugin, value in points:
            self.collector.add_one(tag, known_plugin, record, step, value, wall_time)

    def _data_crc_ok(self, start: int, length: int) -> bool:
        stored = struct.unpack_from("<I", self.data, start + length)[0]
        return masked_crc32c(self.data[start : start + length]) == stored

    def _record_warnings(self) -> list[str]:
        warnings = []
        for records, problem in (
            (self.bad_data_crc, "data checksum mismatch"),
            (self.undecodable, "not a valid event"),
        ):
            if records:
                record, offset = min(records)
                warnings.append(
                    f"{len(records)} record(s) skipped: {problem} "
                    f"(first: record {record} at byte {offset})"
                )
        return warnings


def _varying_columns(layout: _Layout, rows: np.ndarray) -> list[int]:
    """The columns of the variable fields, but for the upper half of the wall time where
    it is the same in every row (it changes about every 17 minutes): the columns whose
    checksum contributions `masked_crc32c_varying` must look up."""
    columns = []
    for offset, width in layout.variable_windows:
        if offset == layout.wall_offset and _equal_to_first(rows[:, offset + 4 : offset + 8]).all():
            width = 4
        columns.extend(range(offset, offset + width))
    return columns


def _equal_to_first(columns: np.ndarray) -> np.ndarray:
    """Which rows of a uint8 matrix (its last axis contiguous) equal its first row."""
    width = columns.shape[1]
    if width == 1:
        return columns[:, 0] == columns[0, 0]
    dtype = f"<u{width}" if width in (2, 4, 8) else f"S{width}"
    # Byte strings of one width are equal exactly when their bytes are: trailing NULs are
    # padding only when the widths differ.
    values = columns.view(dtype)[:, 0]
    return values == values[0]


def _step_widths(rows: np.ndarray) -> np.ndarray:
    """Byte width of the step varint in records that start with a wall time and a step
    (the layout every writer uses), 0 for other records."""
    count, length = rows.shape
    widths = np.zeros(count, dtype=np.int64)
    if length < 11:
        return widths
    has_step = (rows[:, 0] == 0x09) & (rows[:, 9] == 0x10)
    still_reading = has_step.copy()
    for column in range(10, min(length, 20)):
        widths += still_reading
        still_reading &= rows[:, column] >= 0x80
    return widths


def _layout_fields(layout: _Layout, rows: np.ndarray):
    """Steps, per-slot values and wall times of rows that share `layout` (each read from
    its bytes in place, no copy of the byte columns first)."""
    count = rows.shape[0]
    if layout.wall_offset is None:
        wall_times = np.zeros(count)
    else:
        window = rows[:, layout.wall_offset : layout.wall_offset + 8]
        wall_times = window.view("<f8")[:, 0].copy()
    if layout.step_offset is None:
        steps = np.zeros(count, dtype=np.uint64)
    else:
        last = layout.step_offset + layout.step_length - 1
        steps = rows[:, last].astype(np.uint64)  # the last byte of a varint is below 0x80
        for column in range(last - 1, layout.step_offset - 1, -1):
            steps <<= np.uint64(7)
            steps |= rows[:, column] & 0x7F
    values = []
    for slot in layout.slots:
        width = np.dtype(slot.dtype).itemsize
        window = rows[:, slot.offset : slot.offset + width]
        values.append(window.view(slot.dtype)[:, 0].astype(np.float64))
    return steps.view(np.int64), values, wall_times


# The layouts (as the bytes outside their variable fields) that protobuf has confirmed in
# this process: records of a layout repeat across blocks and files.
_CONFIRMED_LAYOUTS: set[bytes] = set()
_MAX_CONFIRMED_LAYOUTS = 4096


def _agrees_with_protobuf_once(layout: _Layout, data: bytes, row: np.ndarray) -> bool:
    """`_agrees_with_protobuf`, asked once per layout: records equal outside the same
    variable fields decode alike (the same tags, plugins and field positions)."""
    fixed = bytearray(data)
    windows = layout.variable_windows
    for offset, width in windows:
        fixed[offset : offset + width] = bytes(width)
    key = repr(windows).encode() + b"|" + bytes(fixed)
    if key in _CONFIRMED_LAYOUTS:
        return True
    if not _agrees_with_protobuf(layout, row):
        return False
    if len(_CONFIRMED_LAYOUTS) >= _MAX_CONFIRMED_LAYOUTS:
        _CONFIRMED_LAYOUTS.clear()
    _CONFIRMED_LAYOUTS.add(key)
    return True


def _agrees_with_protobuf(layout: _Layout, row: np.ndarray) -> bool:
    """Check a layout against protobuf on its own record before trusting it in bulk."""
    decoded = _protobuf_points(row.tobytes())
    if decoded is None:
        return False
    step, wall_time, points, plugins = decoded
    steps, values, wall_times = _layout_fields(layout, row[np.newaxis, :])
    if len(points) != len(layout.slots) or set(plugins) != set(layout.plugins):
        return False
    if steps[0] != step or not _same_float(wall_times[0], wall_time):
        return False
    return all(
        (slot.tag, slot.known_plugin) == (tag, known_plugin) and _same_float(slot_values[0], value)
        for slot, slot_values, (tag, known_plugin, value) in zip(
            layout.slots, values, points, strict=True
        )
    )


def read_event_file(path: Path, start: int = 0, growing: bool = False) -> EventFileScalars:
    """Every scalar point in one event file; damage becomes warnings, never an exception.

    `start` (a record boundary, such as the `end` of an earlier read) skips the records
    before it; `growing` says the file is still being written, so a partial last record is
    left for the next read instead of being reported as damage. Raises OSError only when
    the file cannot be read.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return EventFileScalars(warnings=[] if growing else ["empty file (0 bytes)"])
        if start >= size:
            return EventFileScalars(end=start)
        # Read-only mapping: records that are skipped (images, graphs) are never paged in.
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    decoder = _FileDecoder(data)
    contents = decoder.decode(start, growing)
    collector = decoder.collector
    del decoder
    # Unmapped before the points are assembled, which lowers the peak memory; while another
    # thread holds a frame of this one (a sampling profiler, as every Dask worker runs), the
    # mapping is still exported and is unmapped when that frame is dropped instead.
    with contextlib.suppress(BufferError):
        data.close()
    collector.finish(contents)
    if not contents.is_event_file:
        contents.warnings.insert(0, "not a TensorBoard event file (no valid record found)")
    return contents
