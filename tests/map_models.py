"""Tiny models of real English and Korean words whose vectors form known groups (for maps and clusters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from query_models import write_toy_model

ENGLISH = {
    "royalty": ["king", "queen", "prince", "princess", "crown", "throne", "palace", "duke"],
    "fruit": ["apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "pear"],
    "animals": ["dog", "cat", "horse", "cow", "sheep", "goat", "lion", "tiger"],
    "weather": ["rain", "snow", "wind", "storm", "cloud", "sun", "fog", "thunder"],
}
KOREAN = {
    "가족": ["어머니", "아버지", "형제", "자매", "할머니", "할아버지", "아들", "딸"],
    "음식": ["김치", "밥", "국수", "떡", "불고기", "비빔밥", "라면", "만두"],
    "도시": ["서울", "부산", "대구", "인천", "광주", "대전", "울산", "수원"],
    "날씨": ["비", "눈", "바람", "구름", "햇빛", "안개", "천둥", "태풍"],
}


def grouped_vectors(groups: dict[str, list[str]], dim: int = 24, seed: int = 0, spread: float = 0.25):
    """Words and vectors: each group around its own random centre."""
    rng = np.random.default_rng(seed)
    words, vectors = [], []
    for name, members in groups.items():
        centre = rng.standard_normal(dim)
        for w in members:
            words.append(w)
            vectors.append(centre + spread * rng.standard_normal(dim))
    return words, np.asarray(vectors, dtype=np.float32)


def write_grouped_model(folder: Path, groups: dict[str, list[str]], seed: int = 0, dim: int = 24,
                        rotate: bool = False, counts: bool = True) -> Path:
    """A model folder of ``groups`` (counts falling with the row); ``rotate`` turns the space at random."""
    from embcli.folder import write_model

    words, vectors = grouped_vectors(groups, dim, seed)
    if rotate:
        q, _ = np.linalg.qr(np.random.default_rng(seed + 100).standard_normal((dim, dim)))
        vectors = (vectors @ q).astype(np.float32)
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"algorithm": "toy", "tokenizer": {"mode": "unicode"}}
    n = len(words)
    write_model(folder, words, vectors, meta, counts=np.arange(n, 0, -1, dtype=np.int64) * 10 if counts else None)
    return folder


__all__ = ["ENGLISH", "KOREAN", "grouped_vectors", "write_grouped_model", "write_toy_model"]
