"""Korean, Japanese and Chinese tokenizers: real sentences, queries, bad input, missing extras.

Korean lines are NSMC movie reviews (sample_data/nsmc-3000.txt.xz, CC0); the Japanese and Chinese
sentences were written for these tests. Each analyzer's tests skip when its extra is not installed.
"""

from __future__ import annotations

import json
import lzma
import sys

import pytest
from conftest import ROOT, assert_clean_error, invoke
from corpus_passes import counted_pass, token_loop, vocab_counts

from embcli.errors import EmbError, MissingExtraError, UsageError
from embcli.morph_text import pieces, prepare_text
from embcli.tokenize import TokenizerSettings, make_tokenizer, normalize_word, query_tokens

NSMC = ROOT / "sample_data" / "nsmc-3000.txt.xz"


@pytest.fixture(scope="module")
def nsmc() -> list[str]:
    with lzma.open(NSMC, "rt", encoding="utf-8") as fh:
        return fh.read().splitlines()


def ko(**kw):
    pytest.importorskip("kiwipiepy")
    return make_tokenizer(TokenizerSettings(mode="ko", **kw))


def ja(**kw):
    pytest.importorskip("fugashi")
    pytest.importorskip("unidic_lite")
    return make_tokenizer(TokenizerSettings(mode="ja", **kw))


def zh(**kw):
    pytest.importorskip("jieba")
    return make_tokenizer(TokenizerSettings(mode="zh", **kw))


# ---------------------------------------------------------------------------------------- Korean


def test_korean_nouns_lose_their_particles(nsmc):
    line = nsmc[5]
    assert line == "인생 최고의 영화. 말이 필요없음. 감독판은 감동이 좀 덜함."
    tokens = ko()(line)
    assert tokens[:4] == ["인생", "최고", "의", "영화"]
    assert "감동" in tokens and "감독판" in tokens
    assert not any(t.endswith(".") or t in ("영화.", "감동이", "감독판은") for t in tokens)


def test_korean_content_filter_and_tags(nsmc):
    line = nsmc[5]
    content = ko(pos_filter="content")(line)
    assert content == ["인생", "최고", "영화", "말", "필요", "없", "감독판", "감동", "좀", "덜"]
    tagged = ko(pos_tags=True)(line)
    assert tagged[:4] == ["인생/NNG", "최고/NNG", "의/JKG", "영화/NNG"]
    assert all("/" in t for t in tagged)


def test_korean_verb_stems_and_endings(nsmc):
    line = nsmc[1]
    tokens = ko()(line)
    assert tokens[:5] == ["디렉터스", "컷", "으로", "보", "어서"]
    assert "흡인력" in tokens and tokens[-2:] == ["있", "다"]


def test_korean_jamo_laughter_is_kept_as_written(nsmc):
    line = nsmc[116]
    assert "ㅋㅋ" in line
    tokens = ko()(line)
    # NFKC would turn compatibility jamo into conjoining jamo; the tokens keep what was written.
    assert "ㅋㅋ" in tokens
    assert "귀엽" in tokens and "재미" in tokens
    assert prepare_text("ㅋㅋㅠㅠ ＡＢＣ", True) == "ㅋㅋㅠㅠ abc"


def test_korean_mixed_scripts_widths_and_emoji():
    tokens = ko()("ＯＳＴ까지 완벽한 Movie 2019년 최고 😀👍 !!")
    assert tokens[:2] == ["ost", "까지"]
    assert "movie" in tokens and "2019" in tokens and "최고" in tokens
    assert not any(ch in "".join(tokens) for ch in "😀👍!")


def test_korean_long_line_is_split_not_dropped(nsmc):
    split = ko()
    line = " ".join(nsmc[:300])
    assert len(line) > 5 * 2000
    one = split(line)
    per_line = [t for text in nsmc[:300] for t in split(text)]
    # Cut into pieces at spaces: nothing lost; a cut can change an analysis only at its edges.
    assert abs(len(one) - len(per_line)) <= 0.01 * len(per_line)
    assert one[:10] == per_line[:10] and one[-10:] == per_line[-10:]


def test_pieces_keep_every_character():
    text = ("가나다 " * 1000) + "라" * 5000
    parts = pieces(text, 2000)
    assert "".join(parts) == text
    assert all(len(p) <= 2000 for p in parts)


@pytest.mark.parametrize("unit, end", [("東京都に住む人は多い。", "。"), ("ラーメンが好きです、", "、"),
                                       ("我们今天去北京！", "！")])
def test_a_long_line_without_spaces_is_cut_after_a_sentence_or_clause(unit, end):
    """It was cut every 2,000 characters, inside words (ラー|メン)."""
    text = unit * 400
    parts = pieces(text, 2000)
    assert "".join(parts) == text and len(parts) > 1
    assert all(len(p) <= 2000 and p.endswith(end) for p in parts)


def test_korean_queries_answer_for_the_noun():
    pytest.importorskip("kiwipiepy")
    settings = TokenizerSettings(mode="ko")
    assert query_tokens("임베딩은", settings) == ("임베딩", ["임베딩", "은"])
    assert normalize_word("영화를", settings) == "영화"
    assert normalize_word("  배우  ", settings) == "배우"
    tagged = TokenizerSettings(mode="ko", pos_tags=True)
    assert normalize_word("영화를", tagged) == "영화/NNG"
    assert normalize_word("먹/VV", tagged) == "먹/VV"


# -------------------------------------------------------------------------------- Japanese, Chinese


def test_japanese_words_of_unspaced_text():
    assert ja()("東京都に住む") == ["東京", "都", "に", "住む"]
    tokens = ja()("私は昨日ﾗｰﾒﾝを食べました。")
    assert tokens == ["私", "は", "昨日", "ラーメン", "を", "食べ", "まし", "た"]
    assert ja(pos_filter="content")("私は昨日ﾗｰﾒﾝを食べました。") == ["私", "昨日", "ラーメン", "食べ"]
    assert ja(pos_tags=True)("東京に住む") == ["東京/名詞", "に/助詞", "住む/動詞"]


def test_japanese_mixed_with_latin_and_emoji():
    tokens = ja()("Ｐｙｔｈｏｎで機械学習を勉強しています😀")
    assert tokens[:4] == ["python", "で", "機械", "学習"]
    assert "😀" not in tokens


def test_japanese_query():
    pytest.importorskip("fugashi")
    assert query_tokens("東京に", TokenizerSettings(mode="ja")) == ("東京", ["東京", "に"])


def test_japanese_drops_an_emoji_glued_to_letters():
    """MeCab gave 최고😀 as one token, kept whole although emoji are dropped."""
    plain = ja()
    assert plain("최고😀") == ["최고"] and plain("ㅋㅋ😀") == ["ㅋㅋ"] and plain("😀") == []
    assert plain("최고👍🏻") == ["최고"]  # the skin tone (a modifier symbol, Sk) goes with its emoji
    assert ja(pos_filter="content")("最高😀") == ["最高"] and ja(pos_tags=True)("最高😀") == ["最高/名詞"]


def test_chinese_words_of_unspaced_text():
    tokens = zh()("我们在北京大学学习自然语言处理。")
    assert tokens == ["我们", "在", "北京大学", "学习", "自然语言", "处理"]
    assert "在" not in zh(pos_filter="content")("我们在北京大学学习自然语言处理。")
    assert "北京大学/nt" in zh(pos_tags=True)("我们在北京大学学习")


def test_chinese_full_width_digits_and_latin():
    tokens = zh()("我在２０２４年买了ＡＢＣ手机 😀")
    assert "2024" in tokens and "abc" in tokens and "手机" in tokens
    assert "😀" not in tokens


def test_chinese_keeps_words_of_other_scripts_whole():
    """jieba cut letters it does not know one by one: café was caf é, 한국어 was 한 국 어."""
    line = "我们去北京 café école супер 아이폰 한국어 中文café"
    assert zh()(line) == ["我们", "去", "北京", "café", "école", "супер", "아이폰", "한국어", "中文", "café"]
    tagged = zh(pos_tags=True)(line)
    assert "café/eng" in tagged and "한국어/eng" in tagged and "北京/ns" in tagged
    assert "супер" in zh(pos_filter="content")(line)
    assert zh()("我们在北京大学学习") == ["我们", "在", "北京大学", "学习"]  # no other script: as jieba cuts
    # Kana and ASCII pieces stay as jieba cuts them, whatever else the line holds.
    for tail in ("", " café"):
        assert zh()("用ひらがな写" + tail)[:6] == ["用", "ひ", "ら", "が", "な", "写"]
        assert zh()("型号ABCのX" + tail)[:4] == ["型号", "abc", "の", "x"]


def test_chinese_query():
    pytest.importorskip("jieba")
    assert query_tokens("我的", TokenizerSettings(mode="zh")) == ("我", ["我", "的"])


# ------------------------------------------------------------------------------ settings and extras


def test_settings_round_trip_and_record_the_analyzer():
    pytest.importorskip("kiwipiepy")
    settings = TokenizerSettings(mode="ko", pos_filter="content", pos_tags=True)
    data = settings.as_dict()
    assert data["analyzer"]["name"] == "kiwipiepy"
    assert data["analyzer"]["versions"]["kiwipiepy"]
    assert TokenizerSettings.from_dict(data) == settings
    # The unicode tokenizer's metadata has no analyzer.
    assert TokenizerSettings().as_dict() == {"mode": "unicode", "lowercase": True, "min_token_length": 1, "keep_jamo": True}


def test_pos_options_need_a_morphological_tokenizer():
    with pytest.raises(UsageError, match="--tokenizer ko, ja or zh"):
        TokenizerSettings(pos_filter="content")
    with pytest.raises(UsageError, match="pos-filter"):
        TokenizerSettings(mode="ko", pos_filter="nouns")
    result = invoke(["tokenize", "-", "--pos-tags"], input="hello\n")
    assert_clean_error(result, 2, "need a morphological tokenizer")


@pytest.mark.parametrize("lang, module, extra", [("ko", "kiwipiepy", "ko"), ("ko", "kiwipiepy_model", "ko"),
                                                ("ja", "fugashi", "ja"), ("ja", "unidic_lite", "ja"), ("zh", "jieba", "zh")])
def test_missing_extra_is_one_line_naming_the_install(monkeypatch, emb_home, tmp_path, lang, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(MissingExtraError, match=rf"pip install 'embcli\[{extra}\]'"):
        TokenizerSettings(mode=lang).check_installed()
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text here\n", encoding="utf-8")
    for command in (["tokenize"], ["vocab"], ["train", "--threads", "2"]):
        result = invoke([*command, corpus, "--tokenizer", lang])
        assert_clean_error(result, 1, f"pip install 'embcli[{extra}]'")
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())
    # The default tokenizer needs none of them.
    result = invoke(["tokenize", corpus])
    assert result.exit_code == 0 and result.stdout == "some text here\n"


# ------------------------------------------------------------------------------------- commands


def test_tokenize_and_vocab_commands(tmp_path):
    pytest.importorskip("kiwipiepy")
    corpus = tmp_path / "ko.txt"
    corpus.write_bytes("영화가 좋다\n영화를 봤다 \xff끝\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    result = invoke(["tokenize", corpus, "--tokenizer", "ko"])
    assert result.exit_code == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first.split()[:2] == ["영화", "가"]
    assert second.split()[:2] == ["영화", "를"] and "끝" in second and "\ufffd" not in second
    assert "1 invalid UTF-8 bytes" in result.stderr
    result = invoke(["vocab", corpus, "--tokenizer", "ko", "--pos-filter", "content", "-f", "tsv"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1] == "영화\t2"


@pytest.mark.parametrize("language", ["ja", "zh"])
def test_tokenize_and_vocab_in_worker_processes_as_in_one(tmp_path, language):
    """The analyzers run in worker processes for ``emb tokenize`` and ``emb vocab``: the same lines, in
    order (one for each input line, empty ones too), and the same counts in the same order (ties by
    word), as one process gives, over several blocks of lines."""
    {"ja": ja, "zh": zh}[language]()
    sentences = _written(f"{language}_sentences.txt")
    lines = [sentences[i % len(sentences)] + ("" if i % 7 else " 。！") for i in range(5000)]
    lines[10] = lines[4000] = "。、！"  # no tokens: an empty line out
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    one = invoke(["tokenize", corpus, "--tokenizer", language, "--threads", "1"])
    two = invoke(["tokenize", corpus, "--tokenizer", language, "--threads", "2"])
    assert one.exit_code == two.exit_code == 0, two.stderr
    assert two.stdout == one.stdout
    out = one.stdout.split("\n")
    assert len(out) == 5001 and out[10] == out[4000] == ""
    assert out[1] == " ".join(make_tokenizer(TokenizerSettings(mode=language))(lines[1])) != ""
    one = invoke(["vocab", corpus, "--tokenizer", language, "--threads", "1", "-f", "tsv"])
    two = invoke(["vocab", corpus, "--tokenizer", language, "--threads", "2", "-f", "tsv"])
    assert one.exit_code == two.exit_code == 0, two.stderr
    assert two.stdout == one.stdout and len(one.stdout.splitlines()) > 50


def test_the_analyzer_is_loaded_once_before_the_workers_fork(tmp_path):
    """The workers inherit the analyzer the parent loaded and ran once (kiwi's model and first line cost
    seconds each per process), rather than each loading its own."""
    ja()
    from embcli import morph
    from embcli.corpus import Corpus
    from embcli.training.prepare import prepare_corpus

    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(_written("ja_sentences.txt")) + "\n", encoding="utf-8")
    morph._tagger.cache_clear()
    prepare_corpus(Corpus([str(corpus)]), TokenizerSettings(mode="ja"), tmp_path / "out.txt", workers=2)
    assert morph._tagger.cache_info().currsize == 1  # loaded here, in the parent


def test_train_ko_model_remembers_its_tokenizer_and_queries_use_it(emb_home, tmp_path, nsmc):
    pytest.importorskip("kiwipiepy")
    corpus = tmp_path / "nsmc.txt"
    corpus.write_text("\n".join(nsmc[:800]) + "\n", encoding="utf-8")
    args = ["train", corpus, "--tokenizer", "ko", "--dim", "16", "--epochs", "2", "--min-count", "3"]
    result = invoke([*args, "--threads", "2", "--name", "ko"])
    assert result.exit_code == 0, result.stderr
    meta = json.loads((emb_home / "models" / "ko" / "meta.json").read_text(encoding="utf-8"))
    tok = meta["tokenizer"]
    assert tok["mode"] == "ko" and tok["pos_filter"] == "all" and tok["pos_tags"] is False
    assert tok["analyzer"]["name"] == "kiwipiepy" and tok["analyzer"]["versions"]["kiwipiepy_model"]
    words = (emb_home / "models" / "ko" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert "영화" in words[:20] and "영화는" not in words
    result = invoke(["neighbors", "영화는", "-k", "3", "-m", "ko", "-f", "tsv"])
    assert result.exit_code == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 3 and all(r.startswith("영화는\t") for r in rows)
    assert "'영화는' is 2 tokens (영화 는): looked up '영화'" in result.stderr
    result = invoke(["similarity", "영화가", "영화를", "-m", "ko", "-f", "tsv"])
    assert result.exit_code == 0 and float(result.stdout.splitlines()[1].split("\t")[2]) == pytest.approx(1.0)
    # A vocabulary word is looked up as written, not analysed: alone, kiwi reads the particle 는 as
    # 늘 + ᆫ, and half a dozen of the 100 most frequent words likewise as another word.
    assert "는" in words
    result = invoke(["vector", "-m", "ko", "-f", "tsv"], input="".join(w + "\n" for w in words[:100] if w))
    assert result.exit_code == 0, result.stderr
    assert [r.split("\t")[:2] for r in result.stdout.splitlines()[1:]] == [[w, w] for w in words[:100] if w]
    assert "tokens" not in result.stderr
    # Evaluation sets go through the analyzer too: 영화는 and 영화를 are both 영화.
    from embcli.evaluation import evaluate_pairs
    from embcli.folder import ModelFolder as Model

    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("영화는\t영화를\t10\n배우가\t연기를\t8\n영화가\t배우는\t5\n", encoding="utf-8")
    scored = evaluate_pairs(Model(emb_home / "models" / "ko"), pairs)
    assert scored.pairs == 3 and scored.answered == 3
    # One process and two give the same vocabulary.
    result = invoke([*args, "--threads", "1", "--name", "ko1"])
    assert result.exit_code == 0, result.stderr
    assert (emb_home / "models" / "ko1" / "vocab.txt").read_text(encoding="utf-8").split("\n")[:50] == words[:50]


# ----------------------------------------------------------------------- a tokenizer that fails


def _failing_tokenizer(how: str):
    import os

    def make(settings):
        def split(line: str) -> list[str]:
            if "BAD" in line:
                if how == "raise":
                    raise ValueError("the analyzer cannot read this")
                os._exit(3)
            return line.split()

        return split

    return make


@pytest.mark.parametrize("threads", ["1", "2"])
def test_tokenizer_raising_stops_training_with_its_error(monkeypatch, emb_home, tmp_path, threads):
    monkeypatch.setattr("embcli.training.prepare.make_tokenizer", _failing_tokenizer("raise"))
    corpus = tmp_path / "c.txt"
    corpus.write_text("good line here\n" * 5000 + "a BAD line\n" + "good line here\n" * 100, encoding="utf-8")
    result = invoke(["train", corpus, "--threads", threads, "--min-count", "1", "--name", "m"])
    assert_clean_error(result, 1, "tokenizing failed", "ValueError: the analyzer cannot read this", "'a BAD line'")
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())


def test_worker_that_dies_stops_training(monkeypatch, emb_home, tmp_path):
    monkeypatch.setattr("embcli.training.prepare.make_tokenizer", _failing_tokenizer("exit"))
    corpus = tmp_path / "c.txt"
    corpus.write_text("good line here\n" * 5000 + "a BAD line\n" + "good line here\n" * 100, encoding="utf-8")
    result = invoke(["train", corpus, "--threads", "2", "--min-count", "1", "--name", "m"])
    assert_clean_error(result, 1, "a tokenizing worker process", "ended with code 3", "nothing was saved")
    assert not (emb_home / "models").exists() or not any((emb_home / "models").iterdir())


def test_errors_are_emb_errors():
    assert issubclass(MissingExtraError, EmbError)


# ------------------------------------------------------------------ the corpus pass's block form


def _written(name: str) -> list[str]:
    return (ROOT / "bench" / "data" / name).read_text(encoding="utf-8").split()


def test_fast_nfkc_is_nfkc():
    import unicodedata

    from embcli.morph_text import _nfkc

    texts = _written("zh_sentences.txt") + _written("ja_sentences.txt") + [
        "全角：ＡＢＣ　１２３！（括号）", "Ａ\u0301 ｶﾞｷﾞ ﬁ ① ＼～", "".join(chr(c) for c in range(0xFF00, 0xFFEF)),
        "ㅋㅋ plain ascii", "", "，，ＡＢ，Ａ　　！ｂ，" * 3,
    ]
    for text in texts:
        assert _nfkc(text) == unicodedata.normalize("NFKC", text), text


@pytest.mark.parametrize("language", ["ko", "ja", "zh"])
@pytest.mark.parametrize("options", [{}, {"pos_filter": "content"}, {"pos_tags": True}, {"min_token_length": 2},
                                     {"min_token_length": 2, "pos_tags": True}])
def test_block_form_gives_the_tokens_of_each_line(nsmc, language, options):
    """What the corpus pass uses (a block of lines prepared at once) gives each line's own tokens, on
    real Korean reviews (with ㅋㅋ) and written Japanese/Chinese, long lines and full-width forms."""
    from embcli.tokenize import block_tokenizer

    split = {"ko": ko, "ja": ja, "zh": zh}[language](**options)
    if language == "ko":
        lines = nsmc[:300]
    else:
        lines = _written(f"{language}_sentences.txt")
        lines = lines + ["ＡＢＣ　ｄｅｆ，c++ 和 3.14！" + lines[0], "", "  。 、", "x" * 2500 + "。" + lines[1]]
    block = block_tokenizer(split)
    assert getattr(split, "block", None) is not None
    got = list(block(lines))
    assert got == [split(line) for line in lines]
    short = [line for line in lines if len(line) < 2000]  # a block without a long line: the analyzer's block form
    assert list(block(short)) == [split(line) for line in short]
    assert any(got)


@pytest.mark.parametrize("language", ["ja", "zh"])
@pytest.mark.parametrize("options", [{}, {"lowercase": False}, {"min_token_length": 2}])
def test_counting_in_compiled_code_gives_what_the_token_loop_gives(language, options):
    """MeCab's and jieba's joined output, counted and joined by ``token_counts``, gives the corpus
    pass exactly the text and counts of the loop over each token: on written sentences and lines of
    punctuation only, emoji glued to words, skin tones, full-width forms, tabs and Latin words."""
    from embcli.training.prepare import _counted_joined

    split = {"ja": ja, "zh": zh}[language](**options)
    assert getattr(split, "joined", None) is not None
    # Japanese: MeCab called from compiled code (embcli.wakati), where fugashi's library allows
    assert (getattr(split, "counter", None) is not None) == (language == "ja")

    loop = token_loop(split)  # the same tokenizer without its compiled forms: the loop over tokens
    lines = _written(f"{language}_sentences.txt") + [
        "", "  。 、！", "最高😀でした👍🏻 Ｔｏｋｙｏ\tＣ++ 東京", "我们在北京😀 abc\tDEF　１２３，c++", "☆★ ❤️ ①②", "a",
        # white space other than a space, which MeCab glues to a word before it
        "한국어\x0cむ", "שלום\x85テスト", "ภาษา\rです", "東京\x1c都",
    ]
    fast, fast_counts = counted_pass(lines, split)
    slow, slow_counts = counted_pass(lines, loop)
    assert _counted_joined(lines, *split.joined) is not None  # the compiled path was the one taken
    assert fast == slow
    assert fast_counts == slow_counts
    # emb vocab's counts of a block: the same, in the same order (of first appearance)
    assert list(vocab_counts(lines, split).items()) == list(vocab_counts(lines, loop).items())
    assert fast[1] > 100 and fast[2] == len(fast[0].splitlines())
    assert "😀" not in fast[0] and "、" not in fast[0].split()


# Lines the corpus pass must give exactly as the per-token path does: emoji (glued to words, skin tones,
# flags, joined families), full-width forms, tabs, CR (a CRLF file), other white space, lines of
# punctuation only or starting with it, very long lines, mixed Korean, Latin and Japanese.
_TRICKY = [
    "最高😀でした👍🏻 Ｔｏｋｙｏ\tＣ++ 東京", "  。 、！", "", "a", "☆★ ❤️ ①②", "🇯🇵 日本 👨\u200d👩\u200d👧", "👍" * 40,
    "「こんにちは」と言った。", "（笑）", "。", "！！", "ＡＢＣ　ｄｅｆ，c++ 和 3.14！", "ｶﾞｷﾞ ﬁ ① ＼～", "\u3000全角\u3000スペース",
    "東京都\r", "CRLF行\r", "東京\t\t都", "한국어\x0cむ", "שלום\x85テスト", "ภาษา\rです", "東京\x1c都", "\u2028行\u2029段\u1680",
    "食べ\u00a0ました", "한국어와 English 混ざり ㅋㅋ 最高ㅋㅋ ㅠㅠ", "Hello WORLD ß straße İstanbul ΣΊΣΥΦΟΣ", "123 ４５６ 七八九",
    "x" * 2500 + "。" + "東京都に住む", "東京。" * 1500, "a " * 3000,
]


@pytest.mark.parametrize("language", ["ja", "zh"])
@pytest.mark.parametrize("options", [{}, {"lowercase": False}, {"min_token_length": 2}])
def test_compiled_counting_is_the_token_loop_on_tricky_lines(language, options):
    """The corpus pass's compiled path (``count_and_join``, text as str and as UTF-8 bytes) gives the
    text and counts of the loop over each token, line by line, on tricky lines mixed into written ones."""
    written = _written(f"{language}_sentences.txt")
    short = [line for line in _TRICKY if len(line) <= 2000]
    blocks = [_TRICKY, short, written[:50] + short + written[50:100], ["", "。", "  "], short[::-1]]
    for lines in blocks:
        # a new tokenizer for each block: the counts' order is that of first appearance in its process
        split = {"ja": ja, "zh": zh}[language](**options)

        loop = token_loop(split)
        fast, fast_counts = counted_pass(lines, split)
        slow, slow_counts = counted_pass(lines, loop)
        assert fast == slow
        assert list(fast_counts.items()) == list(slow_counts.items())
        encoded, encoded_counts = counted_pass(lines, split, encoded=True)
        assert encoded == (fast[0].encode(), fast[1], fast[2])
        assert encoded_counts == fast_counts
        assert counted_pass(lines, loop, encoded=True)[0] == encoded
        assert list(vocab_counts(lines, split).items()) == list(vocab_counts(lines, loop).items())


def _reference_count_and_join(joined, clean, max_tokens):
    """What ``count_and_join`` must give, token by token."""
    lines, counts = [], {}
    for line in joined:
        tokens = [kept for token in line.split(" ") if token and (kept := clean(token))]
        if len(tokens) > max_tokens:
            return None
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
        if tokens:
            lines.append(" ".join(tokens))
    return ("\n".join(lines) + "\n" if lines else ""), sum(counts.values()), len(lines), counts


def test_count_and_join_is_the_token_loop_on_random_blocks():
    """Random blocks of space-separated tokens (doubled and leading spaces, empty lines, lines of tokens
    all dropped or starting with one, tokens cleaned to a part of themselves, multi-byte text):
    the same text, counts (in the order of first appearance), tokens and lines as the loop."""
    import random

    from embcli.token_counts import count_and_join

    rng = random.Random(7)
    alphabet = ["東京", "都", "に", "住む", "。", "、", "「", "」", "a", "B", "c++", "😀", "最高😀", "👍🏻", "ｶﾞ", "한국어", "x!", "", "\r", "é"]

    def clean(token):
        return token.rstrip("!") if token.isalnum() or token.endswith("!") else ""

    for _ in range(300):
        joined = [" ".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(rng.randrange(0, 30))]
        max_tokens = rng.choice([3, 5, 10_000])
        expected = _reference_count_and_join(joined, clean, max_tokens)
        got = count_and_join(joined, clean, max_tokens)
        assert got == expected, joined
        if expected is not None:
            assert list(got[3].items()) == list(expected[3].items())
            assert count_and_join(joined, clean, max_tokens, encoded=True) == (expected[0].encode(), *expected[1:])


def test_prepared_text_is_nfkc_sparing_jamo():
    """The short cut for text already in NFKC (nothing to do, and no compatibility jamo to look for,
    since NFKC changes every one of them) gives what normalising each run of non-jamo text gives."""
    import re
    import unicodedata

    from embcli.morph_text import prepare_lines

    assert not any(unicodedata.is_normalized("NFKC", chr(c)) for c in range(0x3131, 0x318F))

    def reference(text, lowercase):
        text = re.sub(r"[^\u3131-\u318e]+", lambda m: unicodedata.normalize("NFKC", m.group()), text)
        return text.casefold() if lowercase else text

    lines = _TRICKY + _written("ja_sentences.txt")[:200] + ["ㅋㅋ ＡＢＣ", "ㅋ", "ｶﾞｷﾞㅠㅠ！", "가ㅏ", "가 ㄱㅏ"]
    for lowercase in (True, False):
        assert [prepare_text(line, lowercase) for line in lines] == [reference(line, lowercase) for line in lines]
        assert prepare_lines(lines, lowercase) == [reference(line, lowercase) for line in lines]


def test_count_and_join_edges():
    from embcli.token_counts import count_and_join

    def clean(token):
        return token if token.isalnum() else ""

    assert count_and_join([], clean, 10) == ("", 0, 0, {})
    assert count_and_join(["", " , "], clean, 10) == ("", 0, 0, {})
    assert count_and_join(["a b  a", ", x", "b"], clean, 10) == ("a b a\nx\nb\n", 5, 3, {"a": 2, "b": 2, "x": 1})
    assert count_and_join(["a b c d"], clean, 3) is None  # a line too long for one sentence
    merged = count_and_join(["ab! ab"], lambda t: t.rstrip("!"), 10)
    assert merged == ("ab ab\n", 2, 1, {"ab": 2})


@pytest.mark.parametrize("language, line", [("ja", "東京都に住む"), ("zh", "我们在北京工作"), ("ko", "영화가 정말 좋다")])
def test_min_token_length_measures_the_morpheme_not_its_tag(language, line):
    """With --pos-tags, ``都/名詞`` is a one-character morpheme: --min-token-length 2 drops it, as it
    does without tags (it measured the tagged token, and kept every morpheme)."""
    make = {"ko": ko, "ja": ja, "zh": zh}[language]
    plain = make(min_token_length=2)(line)
    tagged = make(min_token_length=2, pos_tags=True)(line)
    assert plain and [t.rsplit("/", 1)[0] for t in tagged] == plain
    assert len(make(pos_tags=True)(line)) > len(tagged)  # something was dropped
