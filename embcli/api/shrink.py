"""The methods of ``Model`` that make smaller copies of a model and indexes into it: what ``emb compress``
and ``emb index`` do (``embcli.compress``, ``embcli.ann``)."""

from __future__ import annotations

from pathlib import Path


class Shrinking:
    """Compressing and indexing; ``Model`` inherits them (``self._folder`` is its ``ModelFolder``)."""

    #: For a model returned by ``Model.compress``: what compressing cost (``embcli.compress.Cost``).
    compression = None

    def compress(self, to: str = "int8", *, name: str | None = None, output: str | Path | None = None,
                 subquantizers: int | None = None, bits: int = 8, opq: bool = False, force: bool = False,
                 sample: int = 1000, benchmarks: bool = True, seed: int = 0, max_vocab: int | None = None,
                 prune_ngrams: int | None = None, prune_by: str = "auto", threads: int | None = None,
                 on_stage=None) -> "Shrinking":
        """A smaller copy of this model (``to``: float32, float16, int8, or pq, which needs the compress
        extra) written to the store as ``name`` (default ``NAME-TO``) or the folder ``output``; this
        model is not changed. ``max_vocab`` keeps the N most frequent words; ``prune_ngrams`` keeps N of
        a fastText model's n-gram rows (``prune_by``: auto, words, counts or norm). The returned model's
        ``compression`` is the measured cost (``embcli.compress.Cost``: sizes, recall@10 against this
        model, benchmark scores before and after, the n-gram report). PQ trains and encodes in
        ``threads`` threads (None: all cores; the same seed and thread count give the same codes).
        ``on_stage(text)`` hears each stage as it begins."""
        from embcli.compress import Setting, compress, target_path

        self._check_compressible()
        target = target_path(self._folder, to, name, None if output is None else Path(output), force)
        cost = compress(self._folder, target, Setting(to, subquantizers, bits, opq), force, sample, seed, benchmarks,
                        on_stage=on_stage, max_vocab=max_vocab, prune_ngrams=prune_ngrams, prune_by=prune_by,
                        threads=threads)
        small = type(self)(target)
        small.compression = cost
        return small

    def compare_compressions(self, *, sample: int = 1000, benchmarks: bool = True, seed: int = 0,
                             threads: int | None = None, on_result=None, to: str | None = None,
                             subquantizers: int | None = None, bits: int = 8, opq: bool = False) -> list:
        """What float16, int8 and PQ at several subquantizer counts would cost (``embcli.compress.Cost``
        each, ``on_result(cost)`` as each is measured), and the setting ``to`` (with ``subquantizers``,
        ``bits``, ``opq`` for PQ) when it is not among them; nothing is written."""
        from embcli.compress import Setting, dry_run, dry_run_settings

        self._check_compressible()
        settings = dry_run_settings(self._folder)
        if to is not None:
            asked = Setting(to, subquantizers, bits, opq).check(self._folder)
            if asked.label not in {s.label for s in settings}:
                settings.append(asked)
        return dry_run(self._folder, settings, sample, seed, benchmarks, on_result, threads)

    def _check_compressible(self) -> None:
        if self._folder.vocab_size < 1:
            from embcli.errors import UsageError

            raise UsageError(f"model {self.name!r} has no words: nothing to compress")

    def build_index(self, kind: str = "hnsw", *, connectivity: int | None = None, expansion_add: int | None = None,
                    expansion_search: int | None = None, sample: int = 1000, seed: int = 0, threads: int = 0,
                    on_progress=None) -> dict:
        """Build an approximate-neighbour index (``hnsw``, needs the index extra) into the model's
        folder; cosine ``neighbors`` then use it (``exact=True`` still scans every row). Returns the
        index's settings and its recall@10 against the exact search on ``sample`` words, as kept in
        ``ann-index/index.json``. ``on_progress(stage, done, total)``: stages ``add`` and ``recall``."""
        from embcli import ann
        from embcli.errors import check_whole

        for name, value in (("connectivity", connectivity), ("expansion_add", expansion_add),
                            ("expansion_search", expansion_search), ("sample", sample), ("seed", seed),
                            ("threads", threads)):
            check_whole(name, value)
        info = ann.build(self._folder, kind, ann.CONNECTIVITY if connectivity is None else connectivity,
                         ann.EXPANSION_ADD if expansion_add is None else expansion_add,
                         ann.EXPANSION_SEARCH if expansion_search is None else expansion_search,
                         sample, seed, threads, on_progress)
        return info.as_dict()

    @property
    def index_info(self) -> dict | None:
        """The settings and measured recall of the model's approximate-neighbour index, or None."""
        from embcli import ann

        info = ann.read_info(self._folder.path)
        return None if info is None else info.as_dict()

    def remove_index(self) -> bool:
        """Remove the model's approximate-neighbour index; whether it had one."""
        from embcli import ann

        return ann.remove(self._folder)
