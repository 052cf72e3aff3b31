"""Errors raised by DeepTarget.

Every message names what is at fault: the file, the column or field, and an example offending row or value, so
that a user can fix their input without reading a traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ConfigError", "DataError", "DeepTargetError", "NotFittedError", "UnknownIdError"]


class DeepTargetError(Exception):
    """Base class of every error DeepTarget raises on purpose (the CLI prints these as one line)."""


class DataError(DeepTargetError, ValueError):
    """Input data is missing, malformed or empty after cleaning.

    Parameters
    ----------
    message
        What is wrong and what was expected.
    file
        The file (or data source) at fault, when known.
    column
        The column at fault, when known.
    row
        An example offending row (its 1-based line number or a dict of its values), when known.

    Examples
    --------
    >>> str(DataError("expected a number", file="ratings.csv", column="rating", row={"rating": "abc"}))
    "ratings.csv: column 'rating': expected a number (example row: {'rating': 'abc'})"
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        row: Any = None,
    ) -> None:
        self.message = message
        self.file = file
        self.column = column
        self.row = row
        parts = []
        if file is not None:
            parts.append(f"{file}:")
        if column is not None:
            parts.append(f"column {column!r}:")
        parts.append(message)
        text = " ".join(parts)
        if row is not None:
            text += f" (example row: {row})"
        super().__init__(text)


class UnknownIdError(DataError, KeyError):
    """A user or item id that the model has never seen."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(DeepTargetError, ValueError):
    """A configuration value is missing, unknown or out of range; the message names the field."""


class NotFittedError(DeepTargetError, RuntimeError):
    """A model was used before ``fit`` (or ``load``)."""
