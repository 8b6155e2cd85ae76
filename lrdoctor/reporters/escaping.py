"""Text from the logs made safe to print: file names and tags are whatever the user's disk or
tracking server holds, and a raw escape sequence or newline in one would drive the terminal
or break a table row."""

from __future__ import annotations


def printable(text: object) -> str:
    """`text` with every character Python would not print as itself (control characters,
    line and paragraph separators, invisible format characters) written as its escape
    (`\\n`, `\\x1b`, `\\u202e`), so what is shown is one line naming the exact bytes."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
