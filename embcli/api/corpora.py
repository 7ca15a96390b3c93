"""The API's text side: count a corpus's words, tokenize it, join its phrases, and the engine options
(local or Spark) that these and ``train`` share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from embcli.api.model import ProgressFn
from embcli.api.paths import input_paths, refuse_input_as_output
from embcli.errors import UsageError, check_threads


def spark_options(inputs, engine, master, conf, partitions, spark_logs):
    """The ``SparkOptions`` of ``engine="spark"``, None for the local engine; ``conf`` is a dict or
    ``KEY=VALUE`` strings (``--conf``). Options of the other engine are refused."""
    if engine == "local":
        if master is not None or conf or partitions is not None:
            raise UsageError("--master, --conf and --partitions are options of --engine spark")
        return None
    if engine != "spark":
        raise UsageError(f"unknown engine {engine!r}: use local or spark")
    from embcli.spark.session import SparkOptions, parse_conf

    if "-" in inputs:
        raise UsageError("--engine spark reads files, not stdin: give paths Spark can read")
    conf = dict(conf) if isinstance(conf, dict) else parse_conf(conf)
    return SparkOptions(master=master, conf=conf, partitions=partitions, show_logs=spark_logs)


def count_words(
    corpus: str | Path | Sequence[str | Path],
    *,
    min_count: int = 1,
    top: int | None = None,
    tokenizer: str = "unicode",
    lowercase: bool | None = None,
    min_token_length: int = 1,
    pos_filter: str = "all",
    pos_tags: bool = False,
    engine: str = "local",
    master: str | None = None,
    conf: dict[str, str] | Sequence[str] | None = None,
    partitions: int | None = None,
    spark_logs: bool = False,
    progress: ProgressFn | None = None,
    threads: int | None = None,
):
    """The words of a corpus with their counts, most frequent first (ties by word), as training sees
    and chooses them (``top`` N: the words ``--max-vocab N`` keeps); and the corpus figures
    (``CorpusStats``: lines, replaced bytes).
    ``engine="spark"`` counts in Spark (options as for ``train``). The morphological tokenizers
    (``ko``, ``ja``, ``zh``) analyse in ``threads`` processes (default: all cores)."""
    from embcli.tokenize import TokenizerSettings

    inputs = input_paths(corpus)
    settings = TokenizerSettings(mode=tokenizer, lowercase=lowercase, min_token_length=min_token_length,
                                 pos_filter=pos_filter, pos_tags=pos_tags)
    settings.check_installed()
    spark = spark_options(inputs, engine, master, conf, partitions, spark_logs)
    if spark is not None:
        from embcli.spark.run import count_words_spark

        return count_words_spark(inputs, settings, spark, min_count=min_count, top=top, on_progress=progress)
    from embcli.corpus import Corpus
    from embcli.vocab import count_words as count_local
    from embcli.vocab import ranked

    source = Corpus(inputs)
    workers = _tokenizing_processes(settings, threads)
    if workers > 1:
        from embcli.training.prepare import count_blocks

        return ranked(count_blocks(source, settings, workers), min_count, top), source.stats
    return count_local(source, settings, min_count=min_count, top=top), source.stats


def _tokenizing_processes(settings, threads: int | None) -> int:
    """Processes for ``count_words`` and ``tokenized_text``: the morphological analyzers run in worker
    processes (``threads``, default all cores) as in training; the regular expressions in this one."""
    from embcli.training.options import available_cores

    check_threads(threads)
    if not settings.morphological:
        return 1
    return threads or available_cores()


def tokenized_text(source, settings, threads: int | None = None):
    """``emb tokenize``: the lines of ``source`` (a ``Corpus``) tokenized with ``settings``, tokens
    separated by one space, one line for each line read (empty when it has no tokens), as pieces of
    text ending with a line break. The morphological tokenizers analyse a block of lines at a time in
    ``threads`` processes (default: all cores); the others a line at a time, as it comes."""
    workers = _tokenizing_processes(settings, threads)
    if workers > 1:
        from embcli.training.prepare import map_blocks

        yield from map_blocks(source, settings, "lines", workers)
        return
    from embcli.tokenize import make_tokenizer

    split = make_tokenizer(settings)
    for line in source.lines():
        yield " ".join(split(line)) + "\n"


@dataclass
class PhrasesResult:
    """What ``phrases`` did: the phrase table (``table.passes``: phrase -> score, a dict a pass) and
    the corpus read and written."""

    table: object
    lines: int
    tokens_in: int
    tokens_out: int
    replaced_bytes: int
    seconds: float
    output: Path | None = None

    @property
    def found(self) -> list[int]:
        """How many phrases each pass found."""
        return [len(p) for p in self.table.passes]

    def to_dict(self) -> dict:
        """The figures as a dict (for JSON); the table's settings under ``settings``."""
        return {"settings": self.table.settings.as_dict(), "found": self.found, "lines": self.lines,
                "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "replaced_bytes": self.replaced_bytes,
                "seconds": round(self.seconds, 3), "output": None if self.output is None else str(self.output)}


def phrases(
    corpus: str | Path | Sequence[str | Path],
    output: str | Path | None = None,
    *,
    stream=None,
    passes: int = 2,
    min_count: int = 5,
    threshold: float | None = None,
    scoring: str = "default",
    connector_words: str = "none",
    max_vocab: int | None = None,
    force: bool = False,
    tokenizer: str = "unicode",
    lowercase: bool | None = None,
    min_token_length: int = 1,
    pos_filter: str = "all",
    pos_tags: bool = False,
    threads: int | None = None,
    progress: ProgressFn | None = None,
) -> PhrasesResult:
    """Tokenize a corpus as ``train`` does and join its phrases (``new york`` -> ``new_york``, and
    after two passes ``new_york times`` -> ``new_york_times``): gensim's ``Phrases`` (same scores,
    same phrases), see ``embcli.phrasing``. Writes one sentence a line, tokens separated by spaces, to
    the file ``output`` (replaced only with ``force``) or to the text ``stream``.

    ``threshold`` defaults to 10 (``scoring="default"``) or 0.5 (``"npmi"``); ``connector_words``
    ``"english"`` lets phrases hold gensim's English connector words (``bank_of_america``);
    ``max_vocab`` bounds the table of counts as gensim's ``max_vocab_size`` (default 40,000,000).
    """
    import tempfile
    import time

    from embcli.corpus import Corpus
    from embcli.folder.output import output_target, write_file
    from embcli.phrasing import MAX_VOCAB, PhraseSettings, PhraseTable, check_passes, phrase_file
    from embcli.tokenize import TokenizerSettings
    from embcli.training.options import available_cores
    from embcli.training.prepare import prepare_corpus

    started = time.perf_counter()
    if threshold is None:
        threshold = 0.5 if scoring == "npmi" else 10.0
    settings = PhraseSettings(min_count=min_count, threshold=threshold, scoring=scoring,
                              connector_words=connector_words, max_vocab=MAX_VOCAB if max_vocab is None else max_vocab)
    check_passes(passes)
    if (output is None) == (stream is None):
        raise UsageError("give an output file or a stream to write the text with phrases to (one of them)")
    inputs = input_paths(corpus)
    if output is not None:
        output_target(Path(output), force)  # refused now, not after reading the corpus
        refuse_input_as_output(Path(output), inputs, "the text with phrases")
    tok = TokenizerSettings(mode=tokenizer, lowercase=lowercase, min_token_length=min_token_length,
                            pos_filter=pos_filter, pos_tags=pos_tags)
    tok.check_installed()
    check_threads(threads)
    table = PhraseTable(settings)
    with tempfile.TemporaryDirectory(prefix="emb-phrases-") as tmp:
        src = Path(tmp) / "tokens.txt"
        prepared = prepare_corpus(Corpus(inputs), tok, src, progress, workers=threads or available_cores())
        for n in range(passes):
            if n < passes - 1:
                dst = Path(tmp) / f"pass{n + 1}.txt"
                result = phrase_file(src, dst, settings)
                src.unlink()
                src = dst
            elif output is not None:
                result = write_file(Path(output), lambda path: phrase_file(src, path, settings), force=force)
            else:
                result = phrase_file(src, stream, settings)
            table.passes.append(result.phrases)
    return PhrasesResult(table, prepared.stats.lines, prepared.stats.tokens, result.tokens_out,
                         prepared.stats.replaced_bytes, time.perf_counter() - started,
                         None if output is None else Path(output))
