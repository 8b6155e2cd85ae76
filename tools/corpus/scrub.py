"""Rewrite the absolute paths of the generating machine in a corpus into relative ones.

The framework writers record where they wrote: MLflow stores their artifact folders
(`meta.yaml`, `mlflow.db`), transformers' TensorBoardCallback logs its TrainingArguments
(`output_dir`) as a text summary. The corpus is committed, and no path of this machine may be.

A machine path is the output folder (as given, or where it was generated before being copied:
an absolute path that continues into folders of the corpus), the working directory (MLflow's
default artifact root is `./mlruns`) and the repository. Paths become relative to them:
`file:///tmp/x/dev/mlruns/1` and `/tmp/x/dev/mlruns/1` become `dev/mlruns/1`, a bare `/tmp/x`
becomes `.`. lrdoctor reads none of these values (it takes sources from where files are).
Each file keeps its format: text by string replacement, SQLite through UPDATE with
secure_delete and VACUUM (so no old value is left in free pages), TensorBoard event files
record by record through tensorboard's own reader and writer, so checksums stay valid.

Command line: python -m tools.corpus.scrub FOLDER
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import sys
import tempfile
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
REPOSITORY = Path(__file__).resolve().parents[2]
# An absolute path of at least two parts, with or without a file:// scheme.
ABSOLUTE_PATH = re.compile(rb"(?<![\w.])(?:file://)?((?:/[\w.+-]+){2,})")
HPARAMS_PLUGIN = "hparams"


def scrub(root: Path) -> int:
    """Rewrite every machine path under `root` in place; return the number of files changed."""
    root = Path(root)
    prefixes = _machine_prefixes(root)
    changed = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        present = [prefix for prefix in prefixes if prefix in data]
        if not present:
            continue
        if data.startswith(SQLITE_HEADER):
            _scrub_sqlite(path, present)
        elif "tfevents" in path.name:
            _scrub_events(path, present)
        else:
            path.write_bytes(_rewrite(data, present))
        changed += 1
    return changed


def leftovers(root: Path) -> list[Path]:
    """Files under `root` that still name a folder of this machine."""
    folders = {tempfile.gettempdir(), str(Path.cwd()), str(Path.home()), str(REPOSITORY)}
    needles = [f"{folder.rstrip('/')}/".encode() for folder in folders if folder != "/"]
    return sorted(
        path
        for path in Path(root).rglob("*")
        if path.is_file() and any(needle in path.read_bytes() for needle in needles)
    )


def _machine_prefixes(root: Path) -> list[bytes]:
    """The output folder (here and where it was generated), working directory, repository;
    longest first, so a folder inside another is rewritten relative to itself."""
    prefixes = {str(root.absolute()), str(root.resolve()), str(Path.cwd()), str(REPOSITORY)}
    for path in root.rglob("*"):
        if path.is_file():
            for match in ABSOLUTE_PATH.finditer(path.read_bytes()):
                generated = _generated_root(match.group(1).decode(errors="replace"), root)
                if generated:
                    prefixes.add(generated)
    return sorted((p.encode() for p in prefixes if p != "/"), key=len, reverse=True)


def _generated_root(path: str, root: Path) -> str | None:
    """The part of `path` before the first two of its folders that `root` holds: the folder
    the corpus was generated in (/tmp/lrd-corpus.X of /tmp/lrd-corpus.X/dev/mlflow_folder)."""
    parts = path.strip("/").split("/")
    for start in range(1, len(parts) - 1):
        if root.joinpath(*parts[start : start + 2]).is_dir():
            return "/" + "/".join(parts[:start])
    return None


def _replacements(prefix: bytes) -> list[tuple[bytes, bytes]]:
    """In order: inside a file URI, inside a path, the folder itself."""
    return [
        (b"file://" + prefix + b"/", b""),
        (prefix + b"/", b""),
        (b"file://" + prefix, b"."),
        (prefix, b"."),
    ]


def _rewrite(data: bytes, prefixes: list[bytes]) -> bytes:
    for prefix in prefixes:
        for old, new in _replacements(prefix):
            data = data.replace(old, new)
    return data


def _scrub_sqlite(path: Path, prefixes: list[bytes]) -> None:
    """replace() on every text value of every table, in one transaction."""
    pairs = [
        (old.decode(), new.decode()) for prefix in prefixes for old, new in _replacements(prefix)
    ]
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA secure_delete = ON")
        tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        for (table,) in tables.fetchall():
            for column in connection.execute(f'PRAGMA table_info("{table}")').fetchall():
                name = column[1]
                for old, new in pairs:
                    connection.execute(
                        f'UPDATE "{table}" SET "{name}" = replace("{name}", ?, ?) '
                        f'WHERE typeof("{name}") = \'text\' AND instr("{name}", ?) > 0',
                        (old, new, old),
                    )
        connection.commit()
        connection.execute("VACUUM")


def _scrub_events(path: Path, prefixes: list[bytes]) -> None:
    """Re-write every record; those naming a machine path are decoded, rewritten field by
    field and encoded again, the others are copied byte for byte."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub.errors import OutOfRangeError
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New
    from tensorboard.summary.writer.record_writer import RecordWriter

    reader = PyRecordReader_New(str(path))
    records = []
    while True:
        try:
            reader.GetNext()
        except OutOfRangeError:
            break
        records.append(reader.record())
    reader.file_handle.close()
    partial = path.with_name(path.name + ".scrub")
    with partial.open("wb") as stream:
        writer = RecordWriter(stream)
        for record in records:
            if any(prefix in record for prefix in prefixes):
                event = event_pb2.Event.FromString(record)
                _scrub_message(event, prefixes)
                record = event.SerializeToString()
            writer.write(record)
    os.replace(partial, path)


def _scrub_message(message, prefixes: list[bytes]) -> None:
    """Rewrite the string and bytes fields of a protobuf message and the messages in it.
    The hparams plugin's content is itself a serialized message, decoded to be rewritten."""
    from google.protobuf.message import Message
    from tensorboard.plugins.hparams import plugin_data_pb2

    if message.DESCRIPTOR.full_name == "tensorboard.SummaryMetadata.PluginData":
        if message.plugin_name == HPARAMS_PLUGIN:
            content = plugin_data_pb2.HParamsPluginData.FromString(message.content)
            _scrub_message(content, prefixes)
            message.content = content.SerializeToString()
            return
    for field, value in message.ListFields():
        if field.type == field.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            if value_field.type == field.TYPE_MESSAGE:
                for item in value.values():
                    _scrub_message(item, prefixes)
            elif value_field.type in (field.TYPE_STRING, field.TYPE_BYTES):
                for key, item in list(value.items()):
                    value[key] = _rewrite_field(item, prefixes)
        elif field.type == field.TYPE_MESSAGE:
            for item in [value] if isinstance(value, Message) else value:
                _scrub_message(item, prefixes)
        elif field.type in (field.TYPE_STRING, field.TYPE_BYTES):
            if isinstance(value, (str, bytes)):
                setattr(message, field.name, _rewrite_field(value, prefixes))
            else:
                value[:] = [_rewrite_field(item, prefixes) for item in value]


def _rewrite_field(value: str | bytes, prefixes: list[bytes]) -> str | bytes:
    if isinstance(value, bytes):
        return _rewrite(value, prefixes)
    return _rewrite(value.encode(), prefixes).decode()


def main() -> None:
    """Scrub the folder named on the command line; exit 1 if a machine path is left."""
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    root = Path(sys.argv[1])
    print(f"{scrub(root)} files rewritten")
    left = leftovers(root)
    for path in left:
        print(f"still names a machine folder: {path}", file=sys.stderr)
    sys.exit(1 if left else 0)


if __name__ == "__main__":
    main()
