"""Errors a user can fix: each names the file (or command-line option) and the key at fault."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable


class EngineError(Exception):
    """A rule file or configuration is invalid; `source` says where, `problem` says what."""

    def __init__(self, source: str | os.PathLike, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")


class RuleError(EngineError):
    """A rule file cannot be loaded."""


class ConfigError(EngineError):
    """A configuration value (from a file or the command line) is invalid."""


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word`, if one is close enough to be a misspelling of it."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A " (did you mean `x`?)" hint for a misspelt key or name, or "" if nothing is close."""
    close = closest(word, choices)
    return f" (did you mean `{close}`?)" if close else ""
