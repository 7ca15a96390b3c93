"""Analogy accuracy and word-pair similarity on standard sets, with a stated policy.

The policy follows gensim's ``evaluate_word_analogies`` / ``evaluate_word_pairs`` so the numbers are
comparable: only the ``restrict_vocab`` most frequent words are searched and looked up, words are
matched case-insensitively (upper-cased, the most frequent spelling wins), a question is answered by
the best of the top five candidates that is not one of its own words. Questions with unknown words
are skipped and counted (``oov="skip"``) or counted as failures (``oov="wrong"``).
"""

from __future__ import annotations

import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embcli.errors import DatasetError, UsageError, damaged_rows
from embcli.folder import ModelFolder
from embcli.lookup import names_damage
from embcli.topk import analogy_topk_rows

DEFAULT_RESTRICT = 300_000
ANALOGY_SETS = ("questions-words.txt",)
SIMILARITY_SETS = ("wordsim353.tsv", "simlex999.txt")
_TOPN = 5
# Analogy questions answered together: bounds the [questions, words] score blocks in memory.
QUESTION_BATCH = 4096


@dataclass
class SectionScore:
    """Accuracy of one section of an analogy set (or a total)."""

    section: str
    correct: int
    answered: int
    questions: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.answered if self.answered else None

    @property
    def coverage(self) -> float:
        return self.answered / self.questions if self.questions else 0.0


@dataclass
class AnalogyResult:
    """Per-section and total scores of one model on one analogy set."""

    dataset: str
    method: str
    oov: str
    restrict_vocab: int
    sections: list[SectionScore] = field(default_factory=list)
    semantic: SectionScore | None = None
    syntactic: SectionScore | None = None
    total: SectionScore | None = None


@dataclass
class PairsResult:
    """Correlation of a model's cosine similarities with human scores on one word-pair set."""

    dataset: str
    oov: str
    spearman: float | None
    pearson: float | None
    pairs: int
    answered: int

    @property
    def coverage(self) -> float:
        return self.answered / self.pairs if self.pairs else 0.0

    @property
    def oov_share(self) -> float:
        return 1.0 - self.coverage if self.pairs else 0.0


def default_dataset(name: str) -> Path:
    """A standard set shipped inside gensim's wheel (gensim is imported only here)."""
    from gensim.test.utils import datapath

    return Path(datapath(name))


def _vocab_map(model: ModelFolder, restrict: int, case_insensitive: bool) -> dict[str, int]:
    """Word -> row over the ``restrict`` most frequent words; upper-cased keys keep the most frequent."""
    words = model.words[:restrict]
    if not case_insensitive:
        out: dict[str, int] = {}
        for i, w in enumerate(words):
            out.setdefault(w, i)
        return out
    out = {}
    for i, w in enumerate(words):
        out.setdefault(w.upper(), i)
    return out


def _dataset_words(model: ModelFolder):
    """How a dataset's words become vocabulary words: through the analyzer for ko, ja, zh models."""
    if model.tokenizer.morphological:
        return model.normalize
    return lambda w: w


def _read_lines(path: Path) -> list[str]:
    """The lines of a dataset file; a FIFO with no writer is an empty file, not a wait forever."""
    try:
        # Opening without blocking, then reading in blocking mode: a pipe whose writer is there (a
        # shell's <(...)) is read to its end; a FIFO nobody writes to reads as empty at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            os.set_blocking(fd, True)
            fifo = stat.S_ISFIFO(os.fstat(fd).st_mode)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read()
        finally:
            os.close(fd)
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file: check the path") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: a folder, not a dataset file: check the path") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc.strerror})") from None
    if fifo and not data:
        raise DatasetError(f"{path}: a pipe with nothing written to it: write the set into it, or pass a file")
    return data.decode("utf-8", errors="replace").splitlines()


def parse_analogies(path: Path) -> list[tuple[str, list[tuple[int, list[str]]]]]:
    """Sections of an analogy file: [(name, [(line number, [a, b, c, d]), ...]), ...]."""
    sections: list[tuple[str, list]] = []
    for no, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith(":"):
            sections.append((line.lstrip(":").strip(), []))
            continue
        words = line.split()
        if len(words) != 4:
            raise DatasetError(
                f"{path}:{no}: expected four words (a b c d: a is to b as c is to d), found {len(words)}:"
                " check the file's layout"
            )
        if not sections:
            raise DatasetError(f"{path}:{no}: a question before any ': section' line: add a section header")
        sections[-1][1].append((no, words))
    if not any(qs for _, qs in sections):
        raise DatasetError(f"{path}: no analogy questions found: expected ': section' lines and 'a b c d' lines")
    return sections


def parse_pairs(path: Path) -> list[tuple[str, str, float]]:
    """Word pairs with a human score: tab or space separated; '#' comments and a header skipped."""
    pairs = []
    for no, line in enumerate(_read_lines(path), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        parts = [p.strip() for p in parts if p.strip()]
        try:
            if len(parts) < 3:
                raise ValueError
            score = float(parts[2])
        except ValueError:
            if not pairs and no <= 2:
                continue  # a header line such as "word1 word2 score"
            raise DatasetError(
                f"{path}:{no}: expected 'word1 word2 score' separated by tabs or spaces: check the file's layout"
            ) from None
        if not math.isfinite(score):
            raise DatasetError(f"{path}:{no}: the score {parts[2]!r} is not a finite number: fix or remove the line")
        pairs.append((parts[0], parts[1], score))
    if not pairs:
        raise DatasetError(f"{path}: no word pairs found: expected 'word1 word2 score' lines")
    return pairs


@names_damage
def evaluate_analogies(
    model: ModelFolder,
    path: Path,
    method: str = "add",
    restrict_vocab: int = DEFAULT_RESTRICT,
    case_insensitive: bool = True,
    oov: str = "skip",
) -> AnalogyResult:
    """Accuracy of ``model`` on an analogy file, per section and in total."""
    if method not in ("add", "mul"):
        raise UsageError(f"unknown analogy method {method!r}: use add or mul")
    if oov not in ("skip", "wrong"):
        raise UsageError(f"unknown OOV policy {oov!r}: use skip or wrong")
    if restrict_vocab < 1:
        raise UsageError("--restrict-vocab must be at least 1")
    sections = parse_analogies(path)
    restrict = min(restrict_vocab, model.vocab_size)
    vocab = _vocab_map(model, restrict, case_insensitive)
    fold = str.upper if case_insensitive else (lambda s: s)
    norm = _dataset_words(model)
    known: list[tuple[int, int, int]] = []
    expected: list[str] = []
    owner: list[int] = []
    for s, (_, questions) in enumerate(sections):
        for _, words in questions:
            a, b, c, d = (fold(norm(w)) for w in words)
            if a in vocab and b in vocab and c in vocab and d in vocab:
                known.append((vocab[a], vocab[b], vocab[c]))
                expected.append(d)
                owner.append(s)
    correct = np.zeros(len(sections), dtype=np.int64)
    words = model.words if known else []
    # Questions are answered a batch at a time, so memory does not grow with the number of questions.
    for start in range(0, len(known), QUESTION_BATCH):
        batch = known[start : start + QUESTION_BATCH]
        # Line "a b c d" asks for b - a + c: the rows of (b, a, c) as A - B + C.
        triples = np.asarray(batch, dtype=np.int64)[:, [1, 0, 2]]
        best, _ = analogy_topk_rows(model.vectors, model.norms, triples, _TOPN, restrict=restrict, method=method)
        stop = start + len(batch)
        for row, s, d, (ia, ib, ic) in zip(best, owner[start:stop], expected[start:stop], batch):
            ignore = {fold(words[ia]), fold(words[ib]), fold(words[ic])}
            predicted = None
            for i in row:
                if i < 0:
                    break
                predicted = fold(words[i])
                if predicted not in ignore:
                    break
            correct[s] += predicted == d
    answered = np.bincount(np.asarray(owner, dtype=np.int64), minlength=len(sections))
    result = AnalogyResult(dataset=str(path), method=method, oov=oov, restrict_vocab=restrict_vocab)
    for s, (name, questions) in enumerate(sections):
        n_answered = len(questions) if oov == "wrong" else int(answered[s])
        result.sections.append(SectionScore(name, int(correct[s]), n_answered, len(questions)))
    result.total = _sum("total", result.sections)
    syntactic = [x for x in result.sections if x.section.startswith("gram")]
    semantic = [x for x in result.sections if not x.section.startswith("gram")]
    if syntactic and semantic:
        result.semantic = _sum("semantic", semantic)
        result.syntactic = _sum("syntactic", syntactic)
    return result


def _sum(name: str, parts: list[SectionScore]) -> SectionScore:
    return SectionScore(
        name, sum(p.correct for p in parts), sum(p.answered for p in parts), sum(p.questions for p in parts)
    )


def _correlations(gold: np.ndarray, predicted: np.ndarray) -> tuple[float | None, float | None]:
    """(Spearman, Pearson) by scipy; None where a side is constant and no correlation exists."""
    import warnings

    from scipy import stats

    if np.ptp(gold) == 0 or np.ptp(predicted) == 0:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spearman = float(stats.spearmanr(gold, predicted).statistic)
        pearson = float(stats.pearsonr(gold, predicted).statistic)
    return spearman, pearson


def evaluate_pairs(
    model: ModelFolder,
    path: Path,
    restrict_vocab: int = DEFAULT_RESTRICT,
    case_insensitive: bool = True,
    oov: str = "skip",
) -> PairsResult:
    """Spearman and Pearson correlation between cosine similarity and the file's human scores."""
    if oov not in ("skip", "wrong"):
        raise UsageError(f"unknown OOV policy {oov!r}: use skip or wrong")
    pairs = parse_pairs(path)
    restrict = min(restrict_vocab, model.vocab_size)
    vocab = _vocab_map(model, restrict, case_insensitive)
    fold = str.upper if case_insensitive else (lambda s: s)
    norm = _dataset_words(model)
    norms = np.asarray(model.norms[:restrict], dtype=np.float32)
    gold, predicted = [], []
    answered = 0
    for a, b, score in pairs:
        ia, ib = vocab.get(fold(norm(a))), vocab.get(fold(norm(b)))
        if ia is None or ib is None:
            if oov == "wrong":
                gold.append(score)
                predicted.append(0.0)
            continue
        answered += 1
        va, vb = (np.asarray(model.vectors[i], dtype=np.float32) for i in (ia, ib))
        for i, v in ((ia, va), (ib, vb)):
            if not (np.isfinite(v).all() and np.isfinite(norms[i])):
                raise damaged_rows(i, model.word_at(i), model.name)
        gold.append(score)
        # A zero vector has no direction: its similarity counts as 0 (not NaN, which would void the correlation).
        predicted.append(float(np.dot(va / norms[ia], vb / norms[ib])) if norms[ia] > 0 and norms[ib] > 0 else 0.0)
    spearman = pearson = None
    if len(gold) >= 2:
        g = np.asarray(gold, dtype=np.float64)
        p = np.asarray(predicted, dtype=np.float64)
        spearman, pearson = _correlations(g, p)
    return PairsResult(str(path), oov, spearman, pearson, len(pairs), answered)
