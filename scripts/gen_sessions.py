"""Write a synthetic sample of shopping sessions: one session of item ids a line (sample_data/sessions.txt.xz).

There is no public-domain session log small enough to ship, so this one is made up, with the shape
real logs have:

- a catalogue of 1,200 items in 12 departments (camping, kitchen, ...), each department a few
  product kinds (tent, stove, ...), item ids ``KIND-NNN`` (``tent-007``) so that answers can be read;
- item popularity follows a Zipf law inside each kind (a few best sellers, a long tail);
- each shopper has one or two favourite departments; a session is 3 to 25 items (geometric
  length), each item from a favourite department with probability 0.85, else from anywhere, and
  with probability 0.4 of the same kind as the item before (comparing tents);
- items repeat within a session now and then (the shopper comes back to one).

Deterministic (``--seed``). Also writes ``sample_data/items.txt``: every item id, one a line.

    python scripts/gen_sessions.py                      # the committed sample
    python scripts/gen_sessions.py --sessions 100000 --out big.txt.xz
"""

from __future__ import annotations

import argparse
import lzma
from pathlib import Path

import numpy as np

DEPARTMENTS = {
    "camping": ["tent", "sleeping-bag", "stove", "lantern", "backpack"],
    "kitchen": ["pan", "knife", "kettle", "cutting-board", "spatula"],
    "garden": ["hose", "shovel", "seeds", "planter", "gloves"],
    "baby": ["diapers", "stroller", "bottle", "crib", "rattle"],
    "office": ["stapler", "notebook", "pen", "desk-lamp", "binder"],
    "cycling": ["helmet", "bike-light", "pump", "saddle", "bike-lock"],
    "pets": ["dog-food", "cat-litter", "leash", "pet-bed", "chew-toy"],
    "audio": ["headphones", "speaker", "turntable", "microphone", "cable"],
    "bath": ["towel", "shampoo", "soap", "bath-mat", "toothbrush"],
    "fitness": ["dumbbell", "yoga-mat", "kettlebell", "jump-rope", "resistance-band"],
    "painting": ["brush", "canvas", "easel", "acrylics", "palette"],
    "coffee": ["grinder", "espresso", "beans", "moka-pot", "milk-frother"],
}
PER_KIND = 20


def catalogue() -> tuple[list[str], np.ndarray]:
    """Item ids in catalogue order (department by department, kind by kind) and each one's kind."""
    kinds = [k for ks in DEPARTMENTS.values() for k in ks]
    items = [f"{kind}-{n:03d}" for kind in kinds for n in range(1, PER_KIND + 1)]
    return items, np.repeat(np.arange(len(kinds)), PER_KIND)


def sessions(n: int, seed: int):
    rng = np.random.default_rng(seed)
    items, kind_of = catalogue()
    n_depts = len(DEPARTMENTS)
    zipf = 1.0 / np.arange(1, PER_KIND + 1) ** 1.1
    zipf /= zipf.sum()
    for _ in range(n):
        favourites = rng.choice(n_depts, size=rng.integers(1, 3), replace=False)
        length = min(25, 2 + rng.geometric(1 / 8))
        chosen: list[int] = []
        for _ in range(length):
            if chosen and rng.random() < 0.08:
                chosen.append(chosen[rng.integers(len(chosen))])  # back to one seen before
                continue
            if chosen and rng.random() < 0.4:
                kind = kind_of[chosen[-1]]
            else:
                dept = rng.choice(favourites) if rng.random() < 0.85 else rng.integers(n_depts)
                kind = dept * 5 + rng.integers(5)
            chosen.append(int(kind * PER_KIND + rng.choice(PER_KIND, p=zipf)))
        yield " ".join(items[i] for i in chosen)


def main() -> None:
    here = Path(__file__).resolve().parent.parent / "sample_data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6000)
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--out", type=Path, default=here / "sessions.txt.xz")
    parser.add_argument("--items", type=Path, default=here / "items.txt")
    args = parser.parse_args()
    text = "".join(line + "\n" for line in sessions(args.sessions, args.seed))
    with lzma.open(args.out, "wt", encoding="utf-8", preset=9) as fh:
        fh.write(text)
    args.items.write_text("".join(i + "\n" for i in catalogue()[0]), encoding="utf-8")


if __name__ == "__main__":
    main()
