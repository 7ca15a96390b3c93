"""Corpus reading: files, folders, globs, stdin, compression by magic bytes, bad bytes, long lines."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma

import pytest
import zstandard

from embcli import corpus as corpus_mod
from embcli.corpus import Corpus, resolve_inputs
from embcli.decompress import detect_compression
from embcli.errors import CorpusError
from embcli.tokenize import TokenizerSettings, make_tokenizer

TEXT = "first line\nsecond line, ünïcödé\nthird\n"
LINES = ["first line", "second line, ünïcödé", "third"]

COMPRESSORS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


def test_plain_file(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(TEXT, encoding="utf-8")
    corpus = Corpus([str(path)])
    assert list(corpus.lines()) == LINES
    assert corpus.stats.lines == 3
    assert corpus.stats.files == 1
    assert corpus.stats.bytes == len(TEXT.encode("utf-8"))
    assert corpus.stats.replaced_bytes == 0


def test_lines_can_be_read_twice(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(TEXT, encoding="utf-8")
    corpus = Corpus([str(path)])
    assert list(corpus.lines()) == list(corpus.lines()) == LINES
    assert corpus.stats.lines == 3  # stats describe the last pass, not both


def test_crlf_and_missing_final_newline(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes(b"one\r\ntwo\r\nthree")
    assert list(Corpus([str(path)]).lines()) == ["one", "two", "three"]


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("suffix", ["right", ".txt", ""])
def test_compression_detected_by_magic_bytes(tmp_path, kind, suffix):
    right = {"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst"}[kind]
    path = tmp_path / ("corpus" + (right if suffix == "right" else suffix))
    path.write_bytes(COMPRESSORS[kind](TEXT.encode("utf-8")))
    assert detect_compression(path.read_bytes()[:8]) == kind
    corpus = Corpus([str(path)])
    assert list(corpus.lines()) == LINES
    assert corpus.stats.bytes == len(TEXT.encode("utf-8"))


def test_plain_file_with_compressed_suffix_is_read_as_text(tmp_path):
    path = tmp_path / "not-really.gz"
    path.write_text(TEXT, encoding="utf-8")
    assert list(Corpus([str(path)]).lines()) == LINES


def test_multi_frame_zstd(tmp_path):
    comp = zstandard.ZstdCompressor()
    path = tmp_path / "two.zst"
    path.write_bytes(comp.compress(b"a b\n") + comp.compress(b"c d\n"))
    assert list(Corpus([str(path)]).lines()) == ["a b", "c d"]


def test_truncated_compressed_file_is_a_corpus_error(tmp_path):
    data = lzma.compress((TEXT * 2000).encode("utf-8"))
    path = tmp_path / "cut.xz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorpusError, match="cut.xz: the xz data ends early, at byte 94: the file is truncated"):
        list(Corpus([str(path)]).lines())


def test_folder_is_read_recursively_sorted_hidden_skipped(tmp_path):
    root = tmp_path / "docs"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / ".hidden").mkdir()
    (root / "b.txt").write_text("bee\n")
    (root / "a.txt").write_text("ay\n")
    (root / "sub" / "c.txt.gz").write_bytes(gzip.compress(b"sea\n"))
    (root / "sub" / "deeper" / "d").write_text("dee\n")
    (root / ".hidden" / "x.txt").write_text("hidden\n")
    (root / ".dotfile").write_text("dot\n")
    corpus = Corpus([str(root)])
    assert list(corpus.lines()) == ["ay", "bee", "sea", "dee"]
    assert corpus.stats.files == 4


def test_glob(tmp_path):
    for name, text in [("x1.txt", "one\n"), ("x2.txt", "two\n"), ("y.txt", "no\n")]:
        (tmp_path / name).write_text(text)
    corpus = Corpus([str(tmp_path / "x*.txt")])
    assert list(corpus.lines()) == ["one", "two"]


def test_recursive_glob(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "deep.txt").write_text("deep\n")
    (tmp_path / "top.txt").write_text("top\n")
    assert list(Corpus([str(tmp_path / "**" / "*.txt")]).lines()) == ["deep", "top"]


def test_mix_of_inputs_and_stdin(tmp_path):
    (tmp_path / "f.txt").write_text("from file\n")
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "g.txt").write_text("from folder\n")
    stdin = io.BytesIO(b"from stdin\n")
    corpus = Corpus([str(tmp_path / "f.txt"), "-", str(folder)], stdin=stdin)
    assert list(corpus.lines()) == ["from file", "from stdin", "from folder"]
    assert corpus.total_size is None


def test_stdin_compressed():
    stdin = io.BytesIO(gzip.compress(TEXT.encode("utf-8")))
    assert list(Corpus(["-"], stdin=stdin).lines()) == LINES


def test_total_size_counts_bytes_on_disk(tmp_path):
    path = tmp_path / "a.txt.xz"
    path.write_bytes(lzma.compress(TEXT.encode()))
    assert Corpus([str(path)]).total_size == path.stat().st_size


def test_progress_reports_bytes_on_disk(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("word\n" * 10_000)
    seen = []
    list(Corpus([str(path)]).lines(lambda done, total: seen.append((done, total))))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)
    assert all(done <= total for done, total in seen)


def test_invalid_utf8_replaced_and_counted(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"caf\xe9 ok\nfine\n\xff\xfe end\n")
    corpus = Corpus([str(path)])
    lines = list(corpus.lines())
    assert lines == ["caf\ufffd ok", "fine", "\ufffd\ufffd end"]
    assert corpus.stats.replaced_bytes == 3


def test_nul_bytes_are_white_space(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes(b"alpha\x00beta\n" + b"gamma delta\n" * 50)
    lines = list(Corpus([str(path)]).lines())
    assert lines[0] == "alpha beta"
    assert make_tokenizer(TokenizerSettings(mode="whitespace"))(lines[0]) == ["alpha", "beta"]


def test_long_line_without_newline_is_streamed_in_pieces(tmp_path, monkeypatch):
    # 3 MB, no newline at all: handed out in pieces of at most MAX_LINE_BYTES, every token kept.
    words = [f"w{i}" for i in range(400_000)]
    path = tmp_path / "long.txt"
    path.write_text(" ".join(words), encoding="utf-8")
    assert path.stat().st_size > 2 * corpus_mod.MAX_LINE_BYTES
    corpus = Corpus([str(path)])
    pieces = list(corpus.lines())
    assert len(pieces) >= 3
    assert all(len(p.encode()) <= corpus_mod.MAX_LINE_BYTES + 16 for p in pieces)
    tokens = [t for p in pieces for t in p.split()]
    assert tokens == words
    assert corpus.stats.lines == 1  # one line, however many pieces (it counted 3)
    path.write_text(" ".join(words) + "\nsecond\n\nlast", encoding="utf-8")
    corpus = Corpus([str(path)])
    assert list(corpus.lines())[-3:] == ["second", "", "last"] and corpus.stats.lines == 4


def test_long_line_of_multibyte_text_without_spaces_keeps_characters(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_mod, "MAX_LINE_BYTES", 1000)
    text = "한국어" * 1000  # 9,000 bytes, no white space, 3-byte characters
    path = tmp_path / "ko.txt"
    path.write_text(text + "\nnext\n", encoding="utf-8")
    corpus = Corpus([str(path)])
    pieces = list(corpus.lines())
    assert "".join(pieces[:-1]) == text
    assert pieces[-1] == "next"
    assert corpus.stats.replaced_bytes == 0


def test_missing_path_is_named(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(CorpusError, match="nope.txt: no such file or folder"):
        Corpus([str(missing)])


def test_glob_matching_nothing(tmp_path):
    with pytest.raises(CorpusError, match="no file matches"):
        resolve_inputs([str(tmp_path / "*.nothing")])


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="folder holds no files"):
        resolve_inputs([str(tmp_path / "empty")])


def test_no_inputs():
    with pytest.raises(CorpusError, match="no corpus given"):
        resolve_inputs([])


def test_binary_file_is_not_text(tmp_path):
    import random

    rng = random.Random(0)
    path = tmp_path / "image.bin"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(100_000)))
    with pytest.raises(CorpusError, match="image.bin: not text"):
        list(Corpus([str(path)]).lines())


def test_compressed_binary_is_not_text(tmp_path):
    path = tmp_path / "blob.txt.gz"
    path.write_bytes(gzip.compress(bytes(range(256)) * 200))
    with pytest.raises(CorpusError, match="not text"):
        list(Corpus([str(path)]).lines())


def test_a_few_bad_bytes_are_still_text(tmp_path):
    path = tmp_path / "mostly.txt"
    path.write_bytes(b"good text here\n" * 100 + b"\xff\xfe\n")
    corpus = Corpus([str(path)])
    assert len(list(corpus.lines())) == 101
    assert corpus.stats.replaced_bytes == 2


def test_short_input_with_one_bad_byte_is_text():
    corpus = Corpus(["-"], stdin=io.BytesIO(b"caf\xe9\n"))
    assert list(corpus.lines()) == ["caf\ufffd"]
    assert corpus.stats.replaced_bytes == 1


def test_short_binary_input_is_not_text():
    with pytest.raises(CorpusError, match="stdin: not text"):
        list(Corpus(["-"], stdin=io.BytesIO(bytes(range(128, 256)))).lines())


def test_a_byte_order_mark_is_not_text_of_the_first_line(tmp_path):
    """It stayed in the first line (emb embed's text column held it)."""
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbfgod said\nthe lord\n")
    corpus = Corpus([str(path), str(path)])
    assert list(corpus.lines()) == ["god said", "the lord"] * 2
    assert corpus.stats.bytes == 2 * path.stat().st_size


def _line_by_line(data: bytes, whole: bool) -> tuple[list[tuple[str, int]], int, int]:
    """The reader as it was before runs of lines, one ``_pieces`` piece at a time: each line with the
    invalid bytes counted when it came, the lines and the invalid bytes in all."""
    pieces = list(corpus_mod._pieces(io.BufferedReader(io.BytesIO(data))))
    if pieces:
        pieces[0] = pieces[0].removeprefix(b"\xef\xbb\xbf")
    out, held, lines, replaced, ended = [], [], 0, 0, True
    for piece in pieces:
        text, bad = corpus_mod.decode_piece(piece)
        replaced += bad
        ended = piece.endswith(b"\n")
        lines += ended
        if whole and (held or not ended):
            held.append(text)
            if not ended:
                continue
            text, held = "".join(held), []
        out.append((text, replaced))
    lines += not ended
    if held:
        out.append(("".join(held), replaced))
    return out, lines, replaced


@pytest.mark.parametrize("seed", range(6))
def test_runs_of_lines_read_as_line_by_line(tmp_path, monkeypatch, seed):
    """Lines read many at a time (``_runs``) come out as the line-by-line reader gave them: with CRLF,
    NUL and invalid bytes, a byte order mark, lines longer than MAX_LINE_BYTES anywhere (made small
    here), runs cut inside lines and inside characters, a last line with no line end, compressed."""
    import random

    monkeypatch.setattr(corpus_mod, "MAX_LINE_BYTES", 700)
    monkeypatch.setattr(corpus_mod, "RUN_BYTES", 97 + 31 * seed)
    rng = random.Random(seed)
    kinds = [b"short words here", "ünïcödé 한국어 東京".encode(), b"crlf line\r", b"nul\x00inside",
             b"bad \xff\xfe bytes", "cut \u00e9".encode()[:-1], b"", b"x" * 650]
    parts = [b"\xef\xbb\xbf"] if seed % 2 else []
    for _ in range(300):
        if rng.random() < 0.02:
            parts.append(b" ".join([b"long"] * rng.randint(150, 600)))  # 750-3,000 bytes, one line
        else:
            parts.append(rng.choice(kinds))
        parts.append(b"\n")
    if seed % 3 == 0:
        parts.append(b"no line end " * rng.randint(1, 80))
    data = b"".join(parts)
    for compress, name in ((lambda d: d, "plain.txt"), (gzip.compress, "text.gz"), (lzma.compress, "text.xz")):
        path = tmp_path / name
        path.write_bytes(compress(data))
        for whole in (False, True):
            corpus = Corpus([str(path)])
            # emb embed names the line of the first invalid byte from the count as each line comes
            got = [(line, corpus.stats.replaced_bytes) for line in corpus.lines(whole=whole)]
            want, lines, replaced = _line_by_line(data, whole)
            assert got == want
            assert (corpus.stats.lines, corpus.stats.replaced_bytes, corpus.stats.bytes) == (lines, replaced, len(data))
    assert max(map(len, data.split(b"\n"))) > 700  # the long-line path was taken too


def test_lines_from_a_pipe_come_as_they_are_written():
    """`emb tokenize -` answers each line as it arrives: the reader does not wait for more input
    before handing out the lines it has."""
    import os
    import threading

    r, w = os.pipe()
    released = threading.Event()
    waited_out = []

    def writer():
        os.write(w, "a\nb ü\n".encode())
        waited_out.append(not released.wait(10))  # the reader has both lines before anything more comes
        os.write(w, b"c\n")
        os.close(w)

    thread = threading.Thread(target=writer)
    thread.start()
    got = []
    with os.fdopen(r, "rb") as stdin:
        for line in Corpus(["-"], stdin=stdin).lines():
            got.append(line)
            if line == "b ü":
                released.set()
    thread.join()
    assert got == ["a", "b ü", "c"]
    assert waited_out == [False]


def test_the_text_check_sees_a_last_line_without_its_line_end(tmp_path):
    path = tmp_path / "binary-tail.bin"
    path.write_bytes(b"a\n" + b"\xff" * 100)
    with pytest.raises(CorpusError, match="not text"):
        list(Corpus([str(path)]).lines())


def test_pieces_of_a_long_line_stay_within_the_limit_and_end_at_sentences(tmp_path, monkeypatch):
    """A space near the start of a long line no longer lets a piece grow past MAX_LINE_BYTES (it was
    cut there, and the rest came as one piece of up to twice the limit); text without spaces is cut
    after a sentence's end (。) rather than inside a word."""
    monkeypatch.setattr(corpus_mod, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "long.txt"
    path.write_bytes(b"a " + b"x" * 2500 + b"\n" + "東京都に住む。".encode() * 200 + b"\n")
    pieces = list(Corpus([str(path)]).lines())
    assert all(len(p.encode()) <= 1000 for p in pieces)
    assert "".join(pieces[:3]) == "a " + "x" * 2500 and len(pieces) > 4
    japanese = [p for p in pieces if "東" in p]
    assert "".join(japanese) == "東京都に住む。" * 200
    assert all(p.endswith("。") for p in japanese)
    assert len(Corpus([str(path)]).lines(whole=True).__next__()) == 2502


def test_pieces_of_a_long_line_are_the_spark_readers_pieces(tmp_path, monkeypatch):
    """A piece cut just after a clause end that is the piece's last byte left nothing to carry, and
    the line end came as a piece of its own: an empty line in `emb tokenize`, none in Spark's reader."""
    monkeypatch.setattr(corpus_mod, "MAX_LINE_BYTES", 64)
    lines = [b"a" * 63 + b",", b"b" * 62 + "、".encode() + b"x" * 30, b"c" * 63 + " ".encode() + b"d" * 9, b"e f"]
    path = tmp_path / "cuts.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    local = list(Corpus([str(path)]).lines())
    spark = [corpus_mod.decode_piece(p)[0] for line in lines for p in corpus_mod.line_pieces(line)]
    assert local == spark
    assert "" not in local
