"""Results that come back from Spark through Parquet, into a folder of the model's temporary folder.

With a local master Spark writes the Parquet files itself; with a cluster (whose executors cannot
write to the driver's disk) the rows stream to the driver and pyarrow writes the same files. Either
way the reader sees one folder of Parquet files, read in record batches, and the folder goes with the
model's temporary folder (on success and on failure alike).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

# Rows a Parquet file written on the driver holds per row group.
BATCH_ROWS = 1 << 16


def write(df, folder: Path) -> Path:
    """Write ``df`` as Parquet into ``folder`` (created here); return it."""
    folder = Path(folder)
    master = df.sparkSession.sparkContext.master
    if master.startswith("local"):
        df.write.mode("errorifexists").parquet(folder.resolve().as_uri())
        return folder
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir()
    names = df.columns
    writer = None
    batch: list = []
    try:
        for row in df.toLocalIterator():
            batch.append(tuple(row))
            if len(batch) >= BATCH_ROWS:
                writer = _flush(pa, pq, writer, folder, names, batch)
                batch = []
        if batch or writer is None:
            writer = _flush(pa, pq, writer, folder, names, batch)
    finally:
        if writer is not None:
            writer.close()
    return folder


def _flush(pa, pq, writer, folder, names, batch):
    table = pa.table({name: [row[i] for row in batch] for i, name in enumerate(names)})
    if writer is None:
        writer = pq.ParquetWriter(folder / "part-00000.parquet", table.schema)
    if table.num_rows:
        writer.write_table(table)
    return writer


def batches(folder: Path, columns: list[str]) -> Iterator:
    """Record batches of ``columns`` of every Parquet file in ``folder``."""
    import pyarrow.parquet as pq

    for path in sorted(Path(folder).glob("*.parquet")):
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)


def read_table(folder: Path, columns: list[str]):
    """The whole table (small results: a vocabulary's vectors and counts)."""
    import pyarrow as pa

    parts = list(batches(folder, columns))
    if not parts:
        return None
    return pa.Table.from_batches(parts)
