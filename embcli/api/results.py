"""Result types shared by the API's modules."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

# progress(bytes_done, bytes_total or None, rows_done) while a file is read or written.
RowProgressFn = Callable[[int, "int | None", int], None]


@dataclass
class Transfer:
    """What an import, export or conversion did: the formats read and written, the rows and their
    dimension, and the rows left out of an import (duplicate or empty words, replaced bytes)."""

    source: str
    target: str
    read_format: str | None
    written_format: str | None
    rows: int
    dim: int
    duplicates: int = 0
    first_duplicate: str | None = None
    empty: int = 0
    replaced_bytes: int = 0
    nonfinite_rows: int = 0  # rows whose NaN or infinite values were replaced by 0 (nonfinite="zero")
    nonfinite_values: int = 0
    uncounted: int = 0  # rows without a count (null or negative) when others had one: no counts kept
    sorted_by_count: bool = False  # the rows were put in the order of their counts (the source's was another)
    model: Any = field(default=None, repr=False)  # the imported Model

    def to_dict(self) -> dict:
        """The fields as a dict (for JSON), without the model."""
        return {k: v for k, v in self.__dict__.items() if k != "model"}
