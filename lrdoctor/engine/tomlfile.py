"""Reading TOML files (rules, configuration) into dicts, with errors that name the file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from lrdoctor.engine.errors import EngineError

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def read_toml(resource: Path | Traversable, error_class: type[EngineError]) -> dict:
    """The parsed document; an unreadable or malformed file raises `error_class`."""
    try:
        text = resource.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise error_class(resource, f"cannot be read: {error}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise error_class(resource, f"is not valid TOML: {error}") from None
