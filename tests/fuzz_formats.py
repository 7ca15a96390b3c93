"""Seeded hostile inputs for every vector format and compressed corpora, run in capped child processes.

Each *area* (a format, plain or gzip, or a compressed corpus) has a small valid seed file written
here by hand (no emb writer involved, so the same seeds exercise any version of emb). Mutant ``i``
of an area is derived from ``random.Random(f"{area}:{i}")``: bit flips, truncations, inserted or
deleted bytes, overwritten bytes and lying headers (row counts, dimensions, fastText arguments,
Parquet footers); the gzip areas mutate either the text before compression or the compressed bytes.

Children run many mutants each through the library (``import_to_store`` into a private store, or
``Corpus.lines``) under ``RLIMIT_AS``; a child that stops reporting is killed and its mutant counted
as a hang, one that dies by a signal as a crash. ``python tests/fuzz_formats.py [N]`` prints the
table (cases, clean errors, tracebacks, hangs, data lost) for N mutants per area.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import random
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

MEMORY_CAP = 2 << 30
HANG_SECONDS = 20.0

WORDS = ["the", "of", "and", "café", "한국어", "東京", "naïve", "don't", "x", "emoji🙂", "1990", "end",
         "king", "queen", "man", "woman"]
DIM = 5
VECTOR_AREAS = ["word2vec", "word2vec-binary", "glove", "fasttext-vec", "fasttext-bin", "parquet"]
AREAS = VECTOR_AREAS + [f"{a}.gz" for a in VECTOR_AREAS] + ["corpus.gz", "corpus.bz2", "corpus.xz", "corpus.zst"]
# The other compressions of a few vector formats: in the printed table, not in the test.
MORE_AREAS = [f"{a}.{c}" for a in ("word2vec", "fasttext-bin", "parquet") for c in ("bz2", "xz", "zst")]
SUFFIX = {"word2vec": ".txt", "word2vec-binary": ".bin", "glove": ".txt", "fasttext-vec": ".vec",
          "fasttext-bin": ".bin", "parquet": ".parquet"}


# ------------------------------------------------------------------------------------------------ seeds


def _vectors():
    import numpy as np

    rng = np.random.default_rng(7)
    return (rng.standard_normal((len(WORDS), DIM)) * 0.5).astype(np.float32)


def _text(header: bool) -> bytes:
    rows = [f"{w} " + " ".join(repr(float(v)) for v in vec) for w, vec in zip(WORDS, _vectors())]
    head = [f"{len(WORDS)} {DIM}"] if header else []
    return ("\n".join(head + rows) + "\n").encode("utf-8")


def _binary() -> bytes:
    out = [f"{len(WORDS)} {DIM}\n".encode()]
    for w, vec in zip(WORDS, _vectors()):
        out.append(w.encode("utf-8") + b" " + vec.astype("<f4").tobytes() + b"\n")
    return b"".join(out)


FT_BUCKETS = 24


def _fasttext_bin() -> bytes:
    """A fastText 0.9 model (version 12): header, dictionary, input matrix, output matrix."""
    import numpy as np

    rng = np.random.default_rng(11)
    n = len(WORDS)
    out = [struct.pack("<2i", 793712314, 12)]
    # dim ws epoch minCount neg wordNgrams loss(ns) model(sg) bucket minn maxn lrUpdateRate t
    out.append(struct.pack("<12id", DIM, 5, 5, 1, 5, 1, 2, 2, FT_BUCKETS, 3, 4, 100, 1e-4))
    out.append(struct.pack("<3i2q", n, n, 0, 1000, -1))
    for i, w in enumerate(WORDS):
        out.append(w.encode("utf-8") + b"\0" + struct.pack("<qb", 100 - i, 0))
    out.append(struct.pack("<?", False))
    out.append(struct.pack("<2q", n + FT_BUCKETS, DIM))
    out.append((rng.standard_normal((n + FT_BUCKETS, DIM)) * 0.3).astype("<f4").tobytes())
    out.append(struct.pack("<?", False))
    out.append(struct.pack("<2q", n, DIM))
    out.append((rng.standard_normal((n, DIM)) * 0.3).astype("<f4").tobytes())
    return b"".join(out)


def _parquet(compression: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    vectors = _vectors()
    vtype = pa.list_(pa.field("element", pa.float32(), nullable=False), DIM)
    table = pa.table({
        "word": pa.array(WORDS, pa.string()),
        "count": pa.array(list(range(100, 100 - len(WORDS), -1)), pa.int64()),
        "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM).cast(vtype),
    })
    sink = io.BytesIO()
    pq.write_table(table, sink, compression=compression, row_group_size=6, use_dictionary=False)
    return sink.getvalue()


def _corpus() -> bytes:
    rng = random.Random(3)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(8)) + "\n" for _ in range(600)).encode("utf-8")


def seed_bytes(area: str, variant: int = 0) -> bytes:
    base = area.split(".")[0]
    if base == "word2vec" or base == "fasttext-vec":
        return _text(True)
    if base == "glove":
        return _text(False)
    if base == "word2vec-binary":
        return _binary()
    if base == "fasttext-bin":
        return _fasttext_bin()
    if base == "parquet":
        return _parquet("snappy" if variant else "none")
    if base == "corpus":
        return _corpus()
    raise KeyError(area)


def compress(kind: str, data: bytes) -> bytes:
    if kind == "gz":
        return gzip.compress(data, mtime=0)
    if kind == "bz2":
        return bz2.compress(data)
    if kind == "xz":
        return lzma.compress(data)
    import zstandard

    return zstandard.ZstdCompressor().compress(data)


# ------------------------------------------------------------------------------------------------ mutants

_INTERESTING = [0, 1, 2, 7, 255, 256, 65535, 1 << 20, 10**6, 2**30, 2**31 - 1, -1, -(2**31), 2**40, 2**62]


def _lie_header(base: str, data: bytes, rng: random.Random) -> tuple[bytes, str]:
    """Replace a number the file's header holds with another (often huge, zero or smaller)."""
    if base in ("word2vec", "fasttext-vec", "word2vec-binary"):
        first, nl, rest = data.partition(b"\n")
        rows, dim = first.split()
        choice = rng.choice([0, 1, 2, len(WORDS) - 1, len(WORDS) + 1, 10**6, 10**12, 2**40, DIM - 1, DIM + 1])
        if rng.random() < 0.5:
            rows = str(choice).encode()
            kind = "lie-fewer" if choice < len(WORDS) else "lie"
        else:
            dim = str(choice).encode()
            kind = "lie"
        return rows + b" " + dim + nl + rest, kind
    if base == "fasttext-bin":
        # int32 fields: magic 0, version 4, args 8..52 (12 ints), then t, dict size/nwords/nlabels at 64..76,
        # ntokens 76, pruneidx_size 84 (int64), then entries.
        offsets = [8 + 4 * k for k in range(12)] + [64, 68, 72]
        value = rng.choice(_INTERESTING + [10**6, 10**9])
        out = bytearray(data)
        if rng.random() < 0.25:
            struct.pack_into("<q", out, 84, rng.choice([10**6, 10**12, 2**62, 5, -2]))
        else:
            at = rng.choice(offsets)
            struct.pack_into("<i", out, at, max(-(2**31), min(2**31 - 1, value)))
        return bytes(out), "lie"
    if base == "parquet":
        out = bytearray(data)
        # The footer (thrift metadata) sits before its 4-byte length and the PAR1 magic.
        end = len(out) - 8
        (length,) = struct.unpack_from("<I", out, end)
        if rng.random() < 0.3:
            struct.pack_into("<I", out, end, rng.choice([0, 1, length - 1, length + 1, 2**31, 2**32 - 1]))
        else:
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(max(0, end - length), end)
                out[at] = rng.choice([0, 0xFF, 0x7F, 0x80, rng.randrange(256)])
        return bytes(out), "lie"
    return data, "none"


def mutate(data: bytes, rng: random.Random, base: str) -> tuple[bytes, str]:
    """One seeded mutation of ``data`` and its kind."""
    op = rng.choice(["flip", "flip", "truncate", "insert", "delete", "overwrite", "lie", "lie"])
    if op == "lie" and base not in ("word2vec", "fasttext-vec", "word2vec-binary", "fasttext-bin", "parquet"):
        op = "flip"
    out = bytearray(data)
    if op == "flip":
        for _ in range(rng.choice([1, 1, 2, 4, 16])):
            at = rng.randrange(len(out))
            out[at] ^= 1 << rng.randrange(8)
    elif op == "truncate":
        cut = rng.randrange(1, len(out))
        return bytes(out[:cut]), "truncate"
    elif op == "insert":
        at = rng.randrange(len(out) + 1)
        out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    elif op == "delete":
        at = rng.randrange(len(out))
        del out[at : at + rng.randint(1, 32)]
    elif op == "overwrite":
        at = rng.randrange(max(1, len(out) - 8))
        value = rng.choice(_INTERESTING)
        out[at : at + 8] = struct.pack("<q", max(-(2**63), min(2**63 - 1, value)))
    else:
        return _lie_header(base, data, rng)
    return bytes(out), op


def mutant(area: str, index: int) -> tuple[bytes, str, str]:
    """(bytes, file name, kind) of mutant ``index`` of ``area``; index 0 of each area is the seed itself."""
    rng = random.Random(f"{area}:{index}")
    base, _, comp = area.partition(".")
    seed = seed_bytes(area, variant=index % 2)
    name = ("vectors" + SUFFIX[base]) if base in SUFFIX else "corpus.txt"
    if comp:
        name += "." + comp
    if index == 0:
        return (compress(comp, seed) if comp else seed), name, "seed"
    if not comp:
        data, kind = mutate(seed, rng, base)
        return data, name, kind
    if rng.random() < 0.4:
        data, kind = mutate(seed, rng, base)
        return compress(comp, data), name, "inner-" + kind
    packed = compress(comp, seed)
    data, kind = mutate(packed, rng, "compressed")
    return data, name, "outer-" + kind


# ------------------------------------------------------------------------------------------------ child side


def _cut_is_visible(area: str, kind: str) -> bool:
    """Whether a cut can be told from the bytes: not for GloVe text (no row count, no end mark),
    unless the cut is in the compressed bytes."""
    return not (area.startswith("glove") and kind in ("truncate", "inner-truncate"))


def run_vector(area: str, index: int, work: Path) -> dict:
    import numpy as np

    from embcli.errors import EmbError
    from embcli.formats.convert import import_to_store
    from embcli.store import ModelStore

    data, name, kind = mutant(area, index)
    case = work / f"case{index}"
    case.mkdir()
    path = case / name
    path.write_bytes(data)
    store = ModelStore(case / "store")
    result = {"area": area, "index": index, "kind": kind}
    try:
        _, _, summary = import_to_store(str(path), "m", store=store)
    except EmbError as exc:
        text = str(exc)
        result.update(outcome="error", message=text[:300])
        if "\n" in text:
            result["outcome"] = "multiline"
        leftovers = [p.name for p in (store.models_dir.iterdir() if store.models_dir.exists() else [])]
        if leftovers:
            result.update(outcome="junk", message=f"left {leftovers}")
    except MemoryError:
        result.update(outcome="traceback", message="MemoryError")
    except Exception as exc:  # noqa: BLE001 - this is what the fuzzer counts
        result.update(outcome="traceback", message=f"{type(exc).__name__}: {str(exc)[:200]}")
    else:
        from embcli.folder import ModelFolder

        model = ModelFolder(store.path("m"))
        result.update(outcome="ok", rows=model.vocab_size)
        vectors = np.asarray(model.vectors)
        if not np.isfinite(vectors).all():
            result["nonfinite"] = True
        seed_rows = len(WORDS)
        lowered = kind.endswith("truncate") or kind.endswith("lie-fewer")
        if lowered and model.vocab_size < seed_rows and _cut_is_visible(area, kind):
            result["lost"] = True
    shutil.rmtree(case, ignore_errors=True)
    return result


def run_corpus(area: str, index: int, work: Path) -> dict:
    from embcli.corpus import Corpus
    from embcli.errors import EmbError

    data, name, kind = mutant(area, index)
    path = work / f"case{index}-{name}"
    path.write_bytes(data)
    result = {"area": area, "index": index, "kind": kind}
    try:
        lines = sum(1 for _ in Corpus([str(path)]).lines())
    except EmbError as exc:
        result.update(outcome="error", message=str(exc)[:300])
    except MemoryError:
        result.update(outcome="traceback", message="MemoryError")
    except Exception as exc:  # noqa: BLE001
        result.update(outcome="traceback", message=f"{type(exc).__name__}: {str(exc)[:200]}")
    else:
        result.update(outcome="ok", rows=lines)
        if kind == "outer-truncate" and lines < 600:
            result["lost"] = True
    path.unlink()
    return result


def child_main(cases: list[tuple[str, int]]) -> None:
    """Run ``cases`` one after the other, a ``START`` line before and a JSON line after each."""
    import resource

    soft = int(os.environ.get("FUZZ_MEMORY_CAP", MEMORY_CAP))
    resource.setrlimit(resource.RLIMIT_AS, (soft, soft))
    import embcli.formats.convert  # noqa: F401 - import once, before the first case is timed
    import embcli.corpus  # noqa: F401

    work = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        for area, index in cases:
            print(f"START {area} {index}", flush=True)
            run = run_corpus if area.startswith("corpus") else run_vector
            print("RESULT " + json.dumps(run(area, index, work)), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------------------------------------ parent side


def _child_env() -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
               ARROW_DEFAULT_MEMORY_POOL="system", PYTHONFAULTHANDLER="1")
    return env


def run_cases(cases: list[tuple[str, int]], hang_seconds: float = HANG_SECONDS) -> list[dict]:
    """Run ``cases`` in as few child processes as possible; hangs and crashes restart a child."""
    results: list[dict] = []
    todo = list(cases)
    while todo:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", json.dumps(todo)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env(),
        )
        current = None
        buf = b""
        last = time.monotonic()
        stderr_chunks: list[bytes] = []
        done = False
        while not done:
            ready, _, _ = select.select([proc.stdout, proc.stderr], [], [], 0.5)
            for stream in ready:
                chunk = os.read(stream.fileno(), 1 << 16)
                if stream is proc.stderr:
                    stderr_chunks.append(chunk)
                    continue
                if not chunk:
                    done = True
                    continue
                buf += chunk
                last = time.monotonic()
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    if line.startswith(b"START "):
                        _, area, index = line.decode().split()
                        current = (area, int(index))
                    elif line.startswith(b"RESULT "):
                        results.append(json.loads(line[7:]))
                        todo.remove((results[-1]["area"], results[-1]["index"]))
                        current = None
            if not done and time.monotonic() - last > hang_seconds:
                proc.kill()
                proc.wait()
                if current is not None:
                    results.append({"area": current[0], "index": current[1], "kind": "?", "outcome": "hang"})
                    todo.remove(current)
                break
        code = proc.wait()
        proc.stdout.close()
        proc.stderr.close()
        if current is not None and done:
            tail = b"".join(stderr_chunks).decode("utf-8", "replace")[-300:]
            outcome = "signal" if code < 0 else "crash"
            results.append({"area": current[0], "index": current[1], "kind": "?", "outcome": outcome,
                            "message": f"exit {code}: {tail}"})
            todo.remove(current)
        elif done and todo and current is None:
            tail = b"".join(stderr_chunks).decode("utf-8", "replace")[-500:]
            raise RuntimeError(f"fuzz child exited {code} before starting a case: {tail}")
    return results


def all_cases(per_area: int, areas=AREAS) -> list[tuple[str, int]]:
    return [(area, i) for area in areas for i in range(per_area)]


def run_parallel(cases: list[tuple[str, int]], jobs: int = 2) -> list[dict]:
    """Split ``cases`` over ``jobs`` children running at once (threads only wait on pipes)."""
    from concurrent.futures import ThreadPoolExecutor

    parts = [cases[k::jobs] for k in range(jobs)]
    with ThreadPoolExecutor(jobs) as pool:
        return [r for part in pool.map(run_cases, parts) for r in part]


def tally(results: list[dict]) -> dict[str, Counter]:
    table: dict[str, Counter] = {}
    for r in results:
        c = table.setdefault(r["area"], Counter())
        c["cases"] += 1
        c[r["outcome"]] += 1
        if r.get("lost"):
            c["lost"] += 1
        if r.get("nonfinite"):
            c["nonfinite"] += 1
    return table


def format_table(table: dict[str, Counter]) -> str:
    cols = ["cases", "ok", "error", "traceback", "hang", "signal", "crash", "junk", "multiline", "lost", "nonfinite"]
    heads = ["area", "cases", "accepted", "clean errors", "tracebacks", "hangs", "signals", "crashes",
             "junk left", "multi-line", "data lost", "non-finite kept"]
    rows = [heads] + [[area] + [str(c[k]) for k in cols] for area, c in table.items()]
    total = Counter()
    for c in table.values():
        total.update(c)
    rows.append(["total"] + [str(total[k]) for k in cols])
    widths = [max(len(r[i]) for r in rows) for i in range(len(heads))]
    return "\n".join(" | ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows)


def _shape(result: dict) -> str:
    """A result's message with paths and numbers blanked, to group alike failures."""
    import re

    text = re.sub(r"/\S+/", "", (result.get("message") or "").split("\n")[0])
    text = re.sub(r"0x[0-9a-f]+|\d[\d,]*", "N", text)
    flags = "".join(f" [{k}]" for k in ("lost", "nonfinite") if result.get(k))
    return text[:100] + flags


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_main([tuple(c) for c in json.loads(sys.argv[2])])
        sys.exit(0)
    per_area = int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 300
    started = time.perf_counter()
    found = run_parallel(all_cases(per_area, AREAS + MORE_AREAS))
    print(format_table(tally(found)))
    print(f"{len(found)} cases in {time.perf_counter() - started:.1f} s")
    bad = [r for r in found if r["outcome"] not in ("ok", "error") or r.get("lost") or r.get("nonfinite")]
    kinds = Counter((r["area"].split(".")[0], r["outcome"], _shape(r)) for r in bad)
    for (area, outcome, message), n in kinds.most_common(80):
        print(f"{n:4d} {area} {outcome} {message}")
    if "--json" in sys.argv:
        Path(sys.argv[sys.argv.index("--json") + 1]).write_text(json.dumps(found))
