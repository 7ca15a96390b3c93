"""One renderer for tabular results: table | tsv | json | jsonl, chosen once per command."""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence


def resolve_format(fmt: str) -> str:
    """``auto`` becomes ``table`` on a terminal and ``tsv`` in a pipe."""
    fmt = getattr(fmt, "value", fmt)
    if fmt == "auto":
        return "table" if sys.stdout.isatty() else "tsv"
    return fmt


def _json_value(value: Any) -> Any:
    """A value for JSON: floats as the shortest decimal of their float32 value (emb computes in float32)."""
    if isinstance(value, float) and not isinstance(value, bool):
        if value != value or value in (float("inf"), float("-inf")):
            return None  # JSON has no NaN or infinity
        import numpy as np

        return float(str(np.float32(value)))
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _json_row(row: dict, columns: Sequence[str]) -> dict:
    return {c: _json_value(row.get(c)) for c in columns}


# A TSV cell holds no tab, line break or carriage return (csv readers take a bare \r as a row's end).
_BREAKS = str.maketrans("\t\n\r", "   ")


def _tsv_cell(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return value.translate(_BREAKS) if "\t" in value or "\n" in value or "\r" in value else value
    if kind is float:
        return f"{value:.6g}"
    if kind is bool:
        return "true" if value else "false"  # as DuckDB, pandas and Polars read booleans in text
    if kind is int:
        return str(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return " ".join(_tsv_cell(v) for v in value)
    return str(value).translate(_BREAKS)


class Renderer:
    """Write rows (dicts keyed by ``columns``) to stdout in one format.

    TSV writes its header once, JSONL one object per row as it comes, JSON one array at ``close``,
    and a table collects the rows of one block and prints it at ``flush_block`` or ``close``.
    """

    def __init__(self, fmt: str, columns: Sequence[str], title: str | None = None, out=None):
        self.fmt = resolve_format(fmt)
        self.columns = list(columns)
        self.title = title
        self.out = out or sys.stdout
        self._header_done = False
        self._json_rows: list[dict] = []
        self._table_rows: list[dict] = []
        self._tables_printed = 0

    def rows(self, rows: Iterable[dict]) -> None:
        for row in rows:
            self.row(row)

    def _header(self) -> None:
        if not self._header_done:
            self.out.write("\t".join(self.columns) + "\n")
            self._header_done = True

    def row(self, row: dict) -> None:
        if self.fmt == "tsv":
            self._header()
            self.out.write("\t".join(_tsv_cell(row.get(c)) for c in self.columns) + "\n")
        elif self.fmt == "jsonl":
            self.out.write(json.dumps(_json_row(row, self.columns), ensure_ascii=False) + "\n")
        elif self.fmt == "json":
            self._json_rows.append(_json_row(row, self.columns))
        else:
            self._table_rows.append(row)

    def flush_block(self, flush: bool = True) -> None:
        """End a block of results (one query): print a pending table and (unless told) flush the stream.

        A caller answering many queries at once passes ``flush=False`` and calls ``flush`` once.
        """
        if self.fmt == "table" and self._table_rows:
            self._print_table()
        if flush:
            self.out.flush()

    def flush(self) -> None:
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "tsv":
            self._header()  # an empty result is still a table with its header line
        elif self.fmt == "json":
            json.dump(self._json_rows, self.out, ensure_ascii=False, indent=2)
            self.out.write("\n")
        elif self.fmt == "table" and (self._table_rows or not self._tables_printed):
            # An empty table only when nothing was printed at all (it still shows the columns).
            self._print_table()
        self.out.flush()

    def _print_table(self) -> None:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=self.title, show_edge=False, header_style="bold")
        for col in self.columns:
            table.add_column(col)
        for row in self._table_rows:
            table.add_row(*(_tsv_cell(row.get(c)) for c in self.columns))
        self._table_rows = []
        self._tables_printed += 1
        Console(file=self.out, highlight=False).print(table)
