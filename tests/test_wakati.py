"""The Japanese corpus pass in compiled code (embcli.wakati): MeCab called from numba gives exactly the
text and counts of fugashi's tokens, looped over in Python."""

from __future__ import annotations

import ctypes
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from corpus_passes import counted_pass, token_loop

pytest.importorskip("fugashi")
pytest.importorskip("unidic_lite")

from embcli import morph, wakati  # noqa: E402
from embcli import wakati_kernels as kernels  # noqa: E402
from embcli.corpus import Corpus  # noqa: E402
from embcli.errors import TrainingError  # noqa: E402
from embcli.tokenize import TokenizerSettings, make_tokenizer  # noqa: E402
from embcli.training.prepare import _tokenize_lines, flush_counts, prepare_corpus  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
WRITTEN = (ROOT / "bench" / "data" / "ja_sentences.txt").read_text(encoding="utf-8").split()


def test_the_byte_kinds_are_those_str_split_cuts_at():
    """KINDS and _wide_space agree with str.split on every code point: each white space character is
    found with its length, and no other character starting with one of their lead bytes is."""
    spaces = [chr(c) for c in range(0x110000) if not chr(c).split()]
    assert len(spaces) == 29
    expected = np.zeros(256, np.uint8)
    for char in spaces:
        data = char.encode()
        if len(data) == 1:
            expected[data[0]] = 1
        else:
            expected[data[0]] = max(expected[data[0]], data[1])
    assert np.array_equal(kernels.KINDS, expected)

    def found(char):
        data = np.frombuffer(char.encode() + b"x", np.uint8)
        kind = kernels.KINDS[data[0]]
        if kind <= 1:
            return kind
        return kernels._wide_space(data, 0, len(data)) if data[1] <= kind else 0

    for char in spaces:
        assert found(char) == len(char.encode()), hex(ord(char))
    leads = {data[0] for data in (c.encode() for c in spaces) if len(data) > 1}
    others = [chr(c) for c in range(0x80, 0x10000)
              if not 0xD800 <= c < 0xE000 and chr(c).encode()[0] in leads and chr(c).split()]
    assert len(others) > 12_000
    assert not [hex(ord(c)) for c in others if found(c)]


def test_the_mecab_made_here_answers_as_fugashi_does():
    mecab = morph._mecab()
    assert mecab is not None  # fugashi's wheel on this platform: the compiled pass is the one taken
    tagger = morph._tagger(True)
    for line in WRITTEN[:40] + ["", "a", "東京\t都", "最高😀でした"]:
        assert mecab.parse(line).rstrip() == tagger.parse(line)


def test_the_corpus_pass_is_the_token_loop_across_blocks_and_table_growth():
    """One counter over many blocks, its table and store made tiny so that they grow many times (the
    analysis then goes on from the piece it stopped at): the same text and the same
    counts, in the order of first appearance, as the token loop over the same blocks."""
    split = make_tokenizer(TokenizerSettings(mode="ja"))
    made = split.counter
    counter = split.counter = wakati.BlockCounter(made.mecab, made.clean, made.prepare, slots=4, store=3)
    loop = token_loop(split)
    kanji = [chr(0x4E00 + i * 37 % 20_000) for i in range(3000)]
    lines = WRITTEN + [f"{word}と{''.join(kanji[i : i + 3])}を見た" for i, word in enumerate(WRITTEN * 40)]
    lines += [" ".join(kanji[i : i + 30]) for i in range(0, 3000, 30)] + ["東京。" * 900]
    blocks = [lines[i : i + 37] for i in range(0, len(lines), 37)]
    fast_counts, slow_counts = Counter(), Counter()
    for block in blocks:
        fast = _tokenize_lines(block, split, fast_counts.update)
        slow = _tokenize_lines(block, loop, slow_counts.update)
        assert fast == slow
    flush_counts(split, fast_counts)
    assert list(fast_counts.items()) == list(slow_counts.items())
    assert counter.table.shape[0] >= 2 * int(counter.state[kernels.DISTINCT]) > 1000
    assert sum(fast_counts.values()) > 5000


def test_long_lines_are_cut_into_pieces_as_before(tmp_path):
    """Lines longer than an analyzer's piece (without spaces; with spaces; one of 30,000 tokens, cut
    into sentences of 10,000) give the text of the per-line tokenizer."""
    split = make_tokenizer(TokenizerSettings(mode="ja"))
    lines = ["東京都に住む。" * 700, "x" * 2500 + "。" + "東京都に住む", "a " * 3000, "ね " * 30_000, "短い行"]
    fast, fast_counts = counted_pass(lines, split)
    slow, slow_counts = counted_pass(lines, token_loop(split))
    assert fast == slow and fast_counts == slow_counts
    assert fast[2] == 1 + 1 + 1 + 3 + 1  # the 30,000 tokens in three lines


@pytest.mark.parametrize("workers", [1, 2])
def test_the_whole_pass_writes_and_counts_what_fugashi_gives(tmp_path, monkeypatch, workers):
    """prepare_corpus with the compiled pass and without it (its library not found): the same file,
    tokens and counts (with one process, in the same order)."""
    text = "\n".join(WRITTEN * 3 + ["最高😀でした👍🏻 Ｔｏｋｙｏ\tＣ++", "", "。。", "ｶﾞｷﾞ ①"] + WRITTEN[::-1]) + "\n"
    corpus = tmp_path / "ja.txt"
    corpus.write_text(text, encoding="utf-8")
    settings = TokenizerSettings(mode="ja", min_token_length=2)
    fast = prepare_corpus(Corpus([str(corpus)]), settings, tmp_path / "fast.txt", workers=workers)
    monkeypatch.setattr(wakati, "open_mecab", lambda args: None)
    morph._mecab.cache_clear()
    try:
        assert getattr(make_tokenizer(settings), "counter", None) is None  # as where it cannot be made
        slow = prepare_corpus(Corpus([str(corpus)]), settings, tmp_path / "slow.txt", workers=workers)
    finally:
        morph._mecab.cache_clear()
    assert (tmp_path / "fast.txt").read_bytes() == (tmp_path / "slow.txt").read_bytes()
    assert fast.stats.tokens == slow.stats.tokens > 500 and fast.sentences == slow.sentences
    assert fast.counts == slow.counts
    if workers == 1:
        assert list(fast.counts) == list(slow.counts)
    assert "😀" not in (tmp_path / "fast.txt").read_text(encoding="utf-8")


def test_mecab_failing_is_the_training_error(tmp_path, monkeypatch):
    """MeCab giving no output for a line (a NULL) stops the pass with a one-line error naming the line."""
    real = morph._mecab()
    failing = wakati._PARSE(lambda tagger, text, length: 0)
    monkeypatch.setattr(morph, "_mecab", lambda: wakati.Mecab((failing, *real.functions[1:]), real.tagger))
    split = make_tokenizer(TokenizerSettings(mode="ja"))
    with pytest.raises(RuntimeError, match="MeCab gave no output for '東京都に住む'"):
        _tokenize_lines(["東京都に住む"], split, Counter().update)
    corpus = tmp_path / "ja.txt"
    corpus.write_text("テスト\n東京都に住む\n", encoding="utf-8")
    with pytest.raises(TrainingError, match="^tokenizing failed: RuntimeError: MeCab gave no output for 'テスト'$"):
        prepare_corpus(Corpus([str(corpus)]), TokenizerSettings(mode="ja"), tmp_path / "out.txt")
    assert ctypes.cast(failing, ctypes.c_void_p).value  # (kept alive to here)


def test_a_block_with_a_line_break_in_a_line_goes_the_python_way():
    """Lines holding a line break (not from a corpus reader) are tokenized as before, not by the counter."""
    split = make_tokenizer(TokenizerSettings(mode="ja"))
    lines = ["東京都\nに住む", "テスト"]
    assert split.counter.block(lines, 10_000) is None
    fast, counts = counted_pass(lines, split)
    assert fast == counted_pass(lines, token_loop(split))[0]
    assert counts["東京"] == 1


def test_threads_sharing_the_process_tagger_take_turns():
    """Two threads running the pass at once (a notebook's thread pool) share the process's MeCab
    tagger, which parses one text at a time: the kernel holds the GIL, so each thread's text and counts
    are those of the pass run alone."""
    from concurrent.futures import ThreadPoolExecutor

    lines = [f"{word}と{i}番目の{word}を見た" for i, word in enumerate(WRITTEN * 60)]
    blocks = [lines[i : i + 256] for i in range(0, len(lines), 256)]

    def run(blocks):
        split = make_tokenizer(TokenizerSettings(mode="ja"))
        return [counted_pass(block, split) for block in blocks]

    alone = run(blocks)
    with ThreadPoolExecutor(2) as pool:
        both = list(pool.map(run, [blocks, blocks]))
    assert both == [alone, alone]


@pytest.mark.parametrize("workers", [1, 2])
def test_emb_vocab_counts_through_the_compiled_pass_are_fugashis(tmp_path, monkeypatch, workers):
    """``emb vocab``'s counts (``count_blocks``) with the compiled pass, whose counts come at the end of
    each process, and without it: the same words and counts."""
    from embcli.training.prepare import count_blocks

    corpus = tmp_path / "ja.txt"
    corpus.write_text("\n".join(WRITTEN * 200 + ["最高😀でした", "", "。"]) + "\n", encoding="utf-8")
    settings = TokenizerSettings(mode="ja")
    fast = count_blocks(Corpus([str(corpus)]), settings, workers)
    monkeypatch.setattr(wakati, "open_mecab", lambda args: None)
    morph._mecab.cache_clear()
    try:
        slow = count_blocks(Corpus([str(corpus)]), settings, workers)
    finally:
        morph._mecab.cache_clear()
    assert fast == slow and sum(fast.values()) > 10_000
    assert fast["最高"] == 1 and "。" not in fast


def test_a_table_spilled_when_large_counts_as_before():
    """A table that has grown past SPILL tokens hands its counts over and starts again (its memory
    bounded): the text and counts, in the order of first appearance, of the token loop; and ``emb
    vocab``'s blocks the same."""
    from embcli.training.prepare import _block_counts

    split = make_tokenizer(TokenizerSettings(mode="ja"))
    split.counter.SPILL = 40
    loop = token_loop(split)
    kanji = [chr(0x4E00 + i * 37 % 20_000) for i in range(600)]
    lines = [f"{WRITTEN[i % len(WRITTEN)]}と{''.join(kanji[i : i + 2])}を見た" for i in range(600)]
    blocks = [lines[i : i + 50] for i in range(0, len(lines), 50)]
    fast_counts, slow_counts, vocab = Counter(), Counter(), Counter()
    for block in blocks:
        assert _tokenize_lines(block, split, fast_counts.update) == _tokenize_lines(block, loop, slow_counts.update)
        vocab.update(_block_counts(block, split, None))
        assert int(split.counter.state[kernels.DISTINCT]) < 40 + 200  # spilled after each large block
    flush_counts(split, fast_counts)
    assert list(fast_counts.items()) == list(slow_counts.items())
    flush_counts(split, vocab)
    assert vocab == slow_counts


def test_a_counter_goes_on_rightly_after_a_failed_block(monkeypatch):
    """MeCab failing in the middle of a block leaves tokens in the table that were never cleaned: the
    next block cleans them before writing, so nothing is dropped and the counts are whole."""
    real = morph._mecab()
    calls = []

    def parse(tagger, text, length):
        calls.append(length)
        return 0 if len(calls) == 3 else real.functions[0](tagger, text, length)

    failing = wakati._PARSE(parse)
    monkeypatch.setattr(morph, "_mecab", lambda: wakati.Mecab((failing, *real.functions[1:]), real.tagger))
    split = make_tokenizer(TokenizerSettings(mode="ja"))
    with pytest.raises(RuntimeError, match="MeCab gave no output"):
        _tokenize_lines(["東京都に住む", "大阪に住む", "京都"], split, Counter().update)
    done, counts = counted_pass(["大阪に住む", "東京"], split)
    assert done == ("大阪 に 住む\n東京\n", 4, 2)
    assert counts == Counter({"大阪": 1, "に": 1, "住む": 1, "東京": 1})


def test_one_tokenizer_shared_by_threads():
    """One tokenizer used by four threads at once (its counter takes one block at a time): each block's
    text is that of the token loop."""
    from concurrent.futures import ThreadPoolExecutor

    split = make_tokenizer(TokenizerSettings(mode="ja"))
    loop = token_loop(split)
    lines = [f"{word}と{i}番目の{word}を見た" for i, word in enumerate(WRITTEN * 30)]
    blocks = [lines[i : i + 40] for i in range(0, len(lines), 40)]
    expected = [_tokenize_lines(block, loop, Counter().update) for block in blocks]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda block: _tokenize_lines(block, split, Counter().update), blocks))
    assert got == expected
