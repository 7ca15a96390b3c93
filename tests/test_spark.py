"""The Spark engine in-process, on one shared SparkSession (local[2]): the same tokens and counts as
the local engine, MLlib's Word2Vec and GloVe counted in Spark into the store, and its faults."""

from __future__ import annotations

import gzip
import lzma
import sys
from collections import Counter

import numpy as np
import pytest
from conftest import SPARK_MASTER, assert_clean_error, invoke

pytestmark = pytest.mark.xdist_group("spark")

@pytest.fixture
def mixed_files(tmp_path):
    """The mixed corpus as plain text, gzip and xz, plus a line over 1 MB without white space breaks."""
    raw = (
        "Café NAÏVE façade — l’été don't rock'n'roll\r\n".encode()
        + "한국어 형태소 분석은 재미있다. 서울역에서 만나요!\r\n".encode()
        + b"bad \xff\xfe bytes\xe2\x82 here\n\n"
        + "state-of-the-art ＦＵＬＬ width ﬁ ligature\x00NUL\n".encode()
        + b"trailing CR only\r\r\n"
        + "Ελληνικά ΣΊΣΥΦΟΣ straße ǅemal\n".encode()
        + (b"word " * 230_000) + b"\n"
        + b"last line without newline"
    )
    plain = tmp_path / "mixed.txt"
    plain.write_bytes(raw)
    gz = tmp_path / "mixed.txt.gz"
    gz.write_bytes(gzip.compress(raw))
    xz = tmp_path / "mixed.txt.xz"
    xz.write_bytes(lzma.compress(raw))
    return plain, gz, xz


def _local_tokens(path) -> list[list[str]]:
    result = invoke(["tokenize", path])
    assert result.exit_code == 0, result.stderr
    return [line.split() for line in result.stdout.split("\n")[:-1]]


def test_spark_tokens_equal_emb_tokenize(spark_session, mixed_files):
    from embcli.spark.run import tokenize_spark
    from embcli.spark.session import SparkOptions
    from embcli.tokenize import TokenizerSettings

    expected = _local_tokens(mixed_files[0])
    assert ["한국어", "형태소", "분석은", "재미있다", "서울역에서", "만나요"] in expected
    assert any("don't" in line and "café" in line for line in expected)
    assert ["bad", "bytes", "here"] in expected
    assert [len(line) for line in expected].count(0) == 1 and max(len(line) for line in expected) > 200_000
    # Plain (split by Hadoop at \n), gzip (Hadoop's codec) and xz (emb's decompressor), in one job.
    got = tokenize_spark([str(p) for p in mixed_files], TokenizerSettings(), SparkOptions())
    assert got == expected * 3


def test_spark_counts_and_replaced_bytes_equal_local(spark_session, mixed_files, small_corpus):
    from embcli.api import count_words

    for inputs in ([mixed_files[0]], [small_corpus, mixed_files[2]]):
        local, local_stats = count_words(inputs)
        spark, spark_stats = count_words(inputs, engine="spark")
        assert spark == local
        assert (spark_stats.lines, spark_stats.replaced_bytes) == (local_stats.lines, local_stats.replaced_bytes)
    _, stats = count_words([mixed_files[0]], engine="spark")
    assert stats.replaced_bytes == 4
    top, _ = count_words([small_corpus], engine="spark", top=5, min_count=2, tokenizer="whitespace")
    assert top == count_words([small_corpus], top=5, min_count=2, tokenizer="whitespace")[0]


def test_spark_reads_xz_files_found_in_a_folder_or_glob(spark_session, tmp_path, web_lines):
    """Spark's text reader took the compressed bytes of .xz files in a folder for text: the counts
    were of garbage (h, w, n) and a model trained on them was wrong, with exit 0."""
    from embcli.api import count_words

    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "a.txt").write_text("\n".join(web_lines[:300]) + "\n", encoding="utf-8")
    (folder / "b.txt.xz").write_bytes(lzma.compress(("\n".join(web_lines[300:900]) + "\n").encode()))
    (folder / "c.txt").write_text("\n".join(web_lines[900:1000]) + "\n", encoding="utf-8")
    local, local_stats = count_words([str(folder)])
    for inputs in ([str(folder)], [str(folder / "*")]):
        spark, stats = count_words(inputs, engine="spark")
        assert spark == local and stats.replaced_bytes == 0
        assert stats.lines == local_stats.lines == 1000


def test_cli_vocab_spark(spark_session, small_corpus):
    local = invoke(["vocab", small_corpus, "--top", "20"])
    spark = invoke(["vocab", small_corpus, "--top", "20", "--engine", "spark", "--partitions", "3"])
    assert spark.exit_code == 0, spark.stderr
    assert spark.stdout == local.stdout and spark.stdout.count("\n") == 21


def test_glove_counts_equal_the_local_counter(spark_session, small_corpus, tmp_path):
    from embcli.spark.glove import count_spark
    from embcli.spark.prepared import prepare
    from embcli.tokenize import TokenizerSettings
    from embcli.training.common import select_vocabulary
    from embcli.training.glove.cooccur import count_cooccurrences
    from embcli.corpus import Corpus
    from embcli.training.prepare import prepare_corpus

    settings = TokenizerSettings()
    local = prepare_corpus(Corpus([str(small_corpus)]), settings, tmp_path / "corpus.tmp")
    # max_vocab drops words in the middle of lines: the window must skip them, as locally.
    words, _ = select_vocabulary(local.counts, 3, 800)
    (tmp_path / "local").mkdir()
    (tmp_path / "spark").mkdir()
    co_local = count_cooccurrences(local.path, words, local.counts.keys(), 6, 0.1, tmp_path / "local", local.stats.tokens)
    prepared = prepare(spark_session, [str(small_corpus)], settings, 3, 3)
    try:
        assert dict(prepared.counts) == {w: c for w, c in local.counts.items() if c >= 3}
        co_spark = count_spark(prepared, words, 6, tmp_path / "spark")
    finally:
        prepared.release()
    assert co_spark.entries == co_local.entries > 10_000

    def records(co):
        pairs, xs = co.open()
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        return np.asarray(pairs)[order], np.asarray(xs)[order]

    lp, lx = records(co_local)
    sp, sx = records(co_spark)
    assert np.array_equal(lp, sp)
    np.testing.assert_allclose(sx, lx, rtol=1e-6)
    diagonal = lp[:, 0] == lp[:, 1]
    assert diagonal.any() and (~diagonal).any()


def test_train_word2vec_on_spark_into_the_store(spark_session, small_corpus, emb_home):
    import embcli
    from embcli.training.common import select_vocabulary
    from embcli.vocab import count_words
    from embcli.corpus import Corpus
    from embcli.tokenize import TokenizerSettings

    seen = []
    model = embcli.train(small_corpus, engine="spark", master=SPARK_MASTER, dim=16, epochs=1, min_count=5,
                         max_vocab=500, partitions=2, progress=lambda *a: seen.append(a))
    result = model.trained
    assert result.name == "web-small-word2vec" and result.default
    meta = model.folder.meta
    assert meta["trainer"] == "spark-word2vec"
    assert meta["engine"]["name"] == "spark" and meta["engine"]["spark_version"] == spark_session.version
    assert meta["engine"]["master"] == SPARK_MASTER and "negative" in meta["engine"]["ignored_options"]
    params = meta["mllib"]["params"]
    assert params["vectorSize"] == 16 and params["maxIter"] == 1 and params["numPartitions"] == 2
    assert params["maxSentenceLength"] == 10_000 and params["minCount"] >= 5
    counts = Counter(dict(count_words(Corpus([str(small_corpus)]), TokenizerSettings())))
    words, expected_counts = select_vocabulary(counts, 5, 500)
    assert model.words[:50] == words[:50] and len(model) <= 500
    assert np.array_equal(model.folder.counts, expected_counts[: len(model)])
    vectors = np.asarray(model.folder.vectors)
    assert vectors.shape == (len(model), 16) and np.isfinite(vectors).all() and np.abs(vectors).sum() > 0
    assert meta["corpus"]["tokens"] == sum(counts.values())
    stages = [a for a in seen if a[0] == "spark"]
    assert stages and all(0 <= a[1] <= a[2] for a in stages)
    assert not [p for p in (emb_home / "models").iterdir() if p.name.startswith(".")]
    assert not list(emb_home.rglob("*.parquet"))
    # It cannot be continued, and says why (it was "trained with --no-state, or by the gensim trainer").
    with pytest.raises(embcli.UsageError, match="trained by Spark, which keeps no training state"):
        embcli.train(small_corpus, continue_from=result.name, epochs=1)


def test_train_glove_on_spark(spark_session, small_corpus, emb_home):
    import embcli

    local = embcli.train(small_corpus, "glove", name="local", dim=8, epochs=2, min_count=5, threads=1)
    result = invoke(["train", small_corpus, "--algo", "glove", "--engine", "spark", "--name", "spark", "--dim", "8",
                     "--epochs", "2", "--threads", "1"])
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.strip().split("\n")  # emb's summary only: Spark's log is not on stderr
    assert len(lines) == 2 and lines[0].startswith("trained glove model spark:"), result.stderr
    spark = embcli.load("spark")
    lg, sg = local.folder.meta["glove"], spark.folder.meta["glove"]
    assert sg["counted_by"] == "spark" and sg["entries"] == lg["entries"]
    assert spark.words == local.words
    assert abs(sg["costs"][-1] - lg["costs"][-1]) < 0.1 * lg["costs"][-1]
    assert spark.folder.meta["engine"]["ignored_options"] == ["memory", "threads"]


def _store_state(home):
    models = home / "models"
    return sorted(p.name for p in models.iterdir()), (home / "default").read_text()


def test_failing_task_leaves_the_store_unchanged(spark_session, small_corpus, tmp_path, emb_home):
    import embcli
    from embcli.errors import CorpusError

    embcli.train(small_corpus, name="previous", dim=8, epochs=1, threads=1)
    before = _store_state(emb_home)
    cut = tmp_path / "cut.txt.xz"
    cut.write_bytes(lzma.compress(small_corpus.read_bytes())[:5000])  # fails midway through the file
    with pytest.raises(CorpusError, match="cut.txt.xz: the xz data ends early"):
        embcli.train([small_corpus, cut], name="new", engine="spark", dim=8, epochs=1)
    assert _store_state(emb_home) == before
    assert not list(emb_home.rglob("*.parquet")) and not list(emb_home.rglob("spark.tmp"))
    result = invoke(["train", small_corpus, cut, "--engine", "spark", "--name", "new", "--dim", "8"])
    assert_clean_error(result, 1, "the xz data ends early")
    assert _store_state(emb_home) == before


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["--master", "nonsense"], 2, "is not a Spark master URL"),
        (["--master", "local[3]"], 2, "Spark already runs in this process with master local[2]"),
        (["--conf", "novalue"], 2, "is not KEY=VALUE"),
        (["--partitions", "0"], 2, "--partitions must be at least 1"),
        (["--algo", "fasttext"], 2, "the Spark engine trains word2vec and glove"),
        (["--arch", "cbow"], 2, "skip-gram only"),
    ],
)
def test_bad_spark_options(spark_session, small_corpus, emb_home, args, code, message):
    result = invoke(["train", small_corpus, "--engine", "spark", *args])
    assert_clean_error(result, code, message)
    assert not (emb_home / "models").exists() or not list((emb_home / "models").iterdir())


def test_unreadable_and_empty_corpora(spark_session, tmp_path, emb_home):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.txt"
    blank.write_text("...\n  \n!!\n")
    cases = [
        (tmp_path / "missing.txt", "Spark cannot find it"),
        (empty, "the corpus is empty"),
        (blank, "the corpus has no tokens"),
    ]
    for path, message in cases:
        assert_clean_error(invoke(["train", path, "--engine", "spark"]), 1, message)
        assert_clean_error(invoke(["vocab", path, "--engine", "spark"]) if "missing" in str(path) else
                           invoke(["train", path, "--engine", "spark", "--algo", "glove"]), 1, message)
    assert not (emb_home / "models").exists() or not list((emb_home / "models").iterdir())


def test_local_engine_refuses_spark_options(small_corpus):
    assert_clean_error(invoke(["train", small_corpus, "--partitions", "2"]), 2, "options of --engine spark")
    assert_clean_error(invoke(["vocab", small_corpus, "--master", "local[1]"]), 2, "options of --engine spark")


def test_missing_pyspark_is_one_line(monkeypatch, small_corpus):
    from embcli.spark import session

    monkeypatch.setitem(sys.modules, "pyspark", None)
    result = invoke(["vocab", small_corpus, "--engine", "spark"])
    assert_clean_error(result, 1, "pip install 'embcli[spark]'")
    assert session.DEFAULT_MASTER == "local[*]"


def test_unreachable_master_is_refused_quickly():
    import socket
    import time

    from embcli.errors import TrainingError
    from embcli.spark.session import check_reachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens on it once closed
    started = time.monotonic()
    with pytest.raises(TrainingError, match="cannot reach the Spark master"):
        check_reachable(f"spark://127.0.0.1:{port}")
    # A host that drops packets: the connection attempt gives up after the timeout.
    with pytest.raises(TrainingError, match="cannot reach the Spark master"):
        check_reachable("spark://192.0.2.123:7077", timeout=1.0)
    assert time.monotonic() - started < 10


def test_a_spark_start_failure_gives_sparks_own_reason():
    """Spark's reason was left in its log: the error said only that Py4J's call failed."""
    from embcli.spark.session import _jvm_reason

    log = ("26/11/30 07:02:56 INFO SparkContext: Running Spark version 3.5\n"
           "26/11/30 07:02:56 ERROR SparkContext: Error initializing SparkContext.\n"
           "org.apache.spark.SparkException: Asked to run locally with 0 threads\n"
           "\tat org.apache.spark.SparkContext$.createTaskScheduler(SparkContext.scala:3208)\n")
    assert _jvm_reason(log) == "Asked to run locally with 0 threads"
    log = 'Exception in thread "main" org.apache.spark.SparkException: Executor memory must be a positive number\n'
    assert _jvm_reason(log) == "Executor memory must be a positive number"
    assert _jvm_reason("26/11/30 INFO nothing wrong here\n") is None
