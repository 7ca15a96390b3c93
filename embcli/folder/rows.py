"""Checks and norms of rows of vectors, shared by the folder's writer and its reader (which need not
import the writer to open a model)."""

from __future__ import annotations

import numpy as np


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """Euclidean norms of float32 rows, summed in float64 (no overflow, no lost digits), stored as float32."""
    with np.errstate(over="ignore"):  # a length beyond float32 becomes inf, which the writer refuses
        return np.sqrt(np.einsum("ij,ij->i", vectors, vectors, dtype=np.float64)).astype(np.float32)


def all_finite(values: np.ndarray, piece_rows: int = 4096) -> bool:
    """Whether every value is finite, checked ``piece_rows`` rows at a time (no matrix-sized mask)."""
    values = np.asarray(values)
    if values.ndim == 0:
        return bool(np.isfinite(values))
    return all(np.isfinite(values[lo : lo + piece_rows]).all() for lo in range(0, values.shape[0], piece_rows))
