"""Message templates such as "loss grew {growth:.1f}x (limit {max_growth}x)", filled safely.

`str.format` would let a template reach attributes and items (`{growth.__class__}`), so
templates are parsed with `string.Formatter().parse`, only bare names with an optional
format spec are accepted, and rendering formats each value itself.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from lrdoctor.engine.conditions import Value

_LONG_NUMBER = re.compile(r"\d{3,}")

UNKNOWN_TEXT = "unknown"
"""What a template shows for a value that could not be measured."""


class TemplateError(ValueError):
    """A template uses something other than `{name}` or `{name:spec}`."""


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and the fields placed between it."""

    text: str
    pieces: tuple[tuple[str, str | None, str], ...]

    @property
    def fields(self) -> tuple[str, ...]:
        """The names the template reads, in order of first use."""
        return tuple(dict.fromkeys(field for _, field, _ in self.pieces if field is not None))

    def render(self, values: Mapping[str, Value]) -> str:
        """The text with each field formatted by its spec; missing values read 'unknown'."""
        parts = []
        for literal, field, spec in self.pieces:
            parts.append(literal)
            if field is not None:
                parts.append(format_value(values.get(field), spec))
        return "".join(parts)


FIXED_POINT_LIMIT = 1e6
"""Past this, a fixed-point or percent spec gives way to 3 significant digits: a loss that
reached 1e30 should not print as thirty digits."""


def format_value(value: object, spec: str = "") -> str:
    """`value` formatted by `spec`, falling back to its plain form if the spec does not fit."""
    if value is None:
        return UNKNOWN_TEXT
    if isinstance(value, float) and spec[-1:] in ("f", "%"):
        shown = value * 100 if spec.endswith("%") else value
        if abs(shown) >= FIXED_POINT_LIMIT:
            return format(shown, ".3g") + spec[-1:].replace("f", "")
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return format(value)


def compile_template(text: str) -> Template:
    """Parse `text`, refusing positional, attribute, index and nested fields and conversions."""
    if not isinstance(text, str):
        raise TemplateError(f"expected text, got {type(text).__name__}")
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as error:
        raise TemplateError(f"{error} (write {{{{ and }}}} for literal braces)") from None
    pieces = []
    for literal, field, spec, conversion in parsed:
        if field is None:
            pieces.append((literal, None, ""))
            continue
        if not field:
            raise TemplateError("an empty field `{}` is not allowed; name the value: `{growth}`")
        if "." in field or "[" in field:
            raise TemplateError(
                f"field `{{{field}}}` is not allowed: only plain names, no attribute or index "
                "access"
            )
        if not field.isidentifier() or field.startswith("_"):
            raise TemplateError(
                f"field `{{{field}}}` is not allowed: a field is a feature or option name"
            )
        if conversion:
            raise TemplateError(f"conversion `!{conversion}` in `{{{field}}}` is not allowed")
        if "{" in spec or "}" in spec:
            raise TemplateError(
                f"nested fields in the format spec of `{{{field}}}` are not allowed"
            )
        if _LONG_NUMBER.search(spec):
            raise TemplateError(
                f"format spec `{spec}` of `{{{field}}}` asks for more than 99 characters"
            )
        if not _spec_formats_numbers(spec):
            raise TemplateError(f"format spec `{spec}` of `{{{field}}}` does not format numbers")
        pieces.append((literal, field, spec))
    return Template(text=text, pieces=tuple(pieces))


def _spec_formats_numbers(spec: str) -> bool:
    for sample in (1.5, 1):
        try:
            format(sample, spec)
        except ValueError:
            continue
        return True
    return False
