"""Training that does not start from scratch: ``--continue MODEL`` and ``--init MODEL|FILE``.

``--continue`` resumes a model emb trained from the state kept in its folder (``state/``, see
``embcli.folder.layout.STATE_FILES``). Its settings (algorithm, architecture, dimension, n-grams,
tokenizer) come from its ``meta.json`` and cannot be changed; the others default to the saved ones.
The vocabulary is the saved one plus the words that reach ``--min-count`` over the old and the new
text together (the old rare words' counts are kept in the state for this); every word keeps its
trained rows, new words start as in a fresh model. Counts are the combined ones, so subsampling and
the table of negatives follow the whole text seen so far; the learning rate starts again at
``--lr`` and falls over the new text only, as gensim's ``train`` does on new sentences, so a
continued run costs time in proportion to the new text. Word2Vec and FastText then average every
row that the saved model has (words, ``</s>``, n-grams; input and output) with its saved value,
weighted by the new text's tokens against them and half the saved model's (``Start.new_weight``):
a running mean of the models trained so far. Training alone pulls the old words towards the new
text as if the old one had never been seen (a restarted rate forgets it); on the benchmark's halves
this averaging takes the analogy accuracy from 4 to 5 points below whole-corpus training to 1.3.
The averaged rows then get one more pass over the new text at a tenth of the rate (``HEAL_EPOCHS``,
``HEAL_RATE``; ``Start.heal``): a mean of two trainings' input and output rows no longer quite fits
together, and this short pass mends it, to 0.8 points below over four seeds (bench/continue.py).
GloVe is not averaged: its state keeps the co-occurrence counts of the text seen so far, which are
added to the new text's before AdaGrad goes on from the saved sums (``training.glove.carry``).

``--init`` starts a fresh model whose words found in a pretrained model or vector file take their
vectors from it (fastText's ``-pretrainedVectors``); the dimension must match.

A trainer asks its ``Start`` for the vocabulary (``vocabulary``) and lets it overwrite the fresh
rows of the words it knows (``fill``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from embcli.errors import ModelError, UsageError
from embcli.folder.layout import STATE, STATE_FILES, read_meta, validate_meta
from embcli.tokenize import TokenizerSettings
from embcli.training.common import return_freed_memory, select_vocabulary
from embcli.training.options import TrainOptions

# Options fixed by the saved model (its matrices' shapes and meaning) and those taken from it unless
# given; threads and memory belong to the machine, not the model.
FIXED = ("algo", "arch", "loss", "dim", "minn", "maxn", "buckets")
INHERITED = ("window", "epochs", "min_count", "max_vocab", "negative", "sample", "ns_exponent", "lr", "min_lr",
             "seed", "x_max", "alpha")
TOKENIZER_KEYS = ("mode", "lowercase", "min_token_length", "pos_filter", "pos_tags")
# The algorithms whose continued rows are averaged with the saved ones (``Start.average``).
AVERAGED = ("word2vec", "fasttext")
# Rows averaged at a time (``Start.average``).
BLOCK = 1 << 16
# After the averaging, one more pass over the new text at this share of the learning rate (falling to
# --min-lr as usual): the averaged input and output rows come from two trainings and no longer quite
# fit each other; a short pass makes them agree again (``Start.heal``; bench/continue.py).
HEAL_EPOCHS = 1
HEAL_RATE = 0.1
# The state each algorithm needs, besides counts.npy (and vectors.npy, ngrams.npy).
NEEDS = {
    "word2vec": ("output", "rare_counts", "rare_words"),
    "fasttext": ("input", "output", "rare_counts", "rare_words"),
    "glove": ("input", "output", "biases", "gradsq", "rare_counts", "rare_words"),
}
# State read when present: GloVe's co-occurrence counts (models saved before they were kept lack them
# and continue on the new text's counts alone).
OPTIONAL = {"glove": ("cooc_pairs", "cooc_x")}


@dataclass
class Start:
    """Where a trainer starts: a saved model's state (``--continue``) or pretrained vectors (``--init``).

    ``arrays`` are the saved rows by state name ("input", "output", "biases", "gradsq"), in the saved
    model's order (``--init``: the pretrained model's vectors as "input"); ``source[i]`` is the saved
    row of word i of the vocabulary, -1 for a word that starts fresh.
    """

    model: str
    pretrained: bool
    arrays: dict
    saved_words: list[str] = field(default_factory=list)
    saved_counts: np.ndarray | None = None
    rare: Counter = field(default_factory=Counter)
    tokens: int = 0
    lines: int = 0
    lookup: object = None  # --init: the pretrained ModelFolder
    source: np.ndarray | None = None
    left_out: Counter = field(default_factory=Counter)
    phrases: object = None  # --continue: the saved model's PhraseTable, joining the new text too
    weight: float | None = None  # --continue: the new text's weight in the averaged rows (``average``)
    given_weight: float | None = None  # --new-weight, instead of new / (new + old / 2) tokens
    healed: dict | None = None  # --continue: the healing pass made after averaging (``heal``)
    carried: dict | None = None  # --continue of GloVe: the saved co-occurrences added to the new ones
    notes: list[str] = field(default_factory=list)  # for the person: how the continuation differs

    def vocabulary(self, counts: Counter, options: TrainOptions) -> tuple[list[str], np.ndarray]:
        """The words to train and their counts, most frequent first; sets ``source`` and ``left_out``.

        ``--continue``: every saved word (counts added up) and the new ones reaching ``min_count``
        over old and new text (``max_vocab`` caps only the new ones); ``--init``: the corpus's own.
        """
        if self.pretrained:
            words, kept = select_vocabulary(counts, options.min_count, options.max_vocab)
            found = self.lookup.index_many(words)
            self.source = np.array([-1 if i is None else i for i in found], dtype=np.int64)
            self.left_out = Counter({w: c for w, c in counts.items() if c < options.min_count})
            return words, kept
        index = {w: i for i, w in enumerate(self.saved_words)}
        combined = self.saved_counts.astype(np.int64).copy()
        others = Counter(self.rare)
        for word, count in counts.items():
            i = index.get(word)
            if i is None:
                others[word] += count
            else:
                combined[i] += count
        room = None if options.max_vocab is None else max(options.max_vocab - len(index), 0)
        fresh, _ = select_vocabulary(others, options.min_count, room)
        for word in fresh:
            del others[word]
        self.left_out = others
        rows = [(int(c), w, i) for i, (w, c) in enumerate(zip(self.saved_words, combined))]
        rows += [(int(counts[w] + self.rare.get(w, 0)), w, -1) for w in fresh]
        rows.sort(key=lambda r: (-r[0], r[1]))
        self.source = np.array([r[2] for r in rows], dtype=np.int64)
        return [r[1] for r in rows], np.array([r[0] for r in rows], dtype=np.int64)

    def fill(self, key: str, matrix: np.ndarray, scale: float = 1.0, offset: int = 0) -> None:
        """Overwrite the rows of ``matrix`` (one a word of the vocabulary) of the words with saved rows
        (saved row ``offset + source[i]``), times ``scale``."""
        known = np.flatnonzero(self.source >= 0)
        if known.size:
            rows = np.asarray(self.arrays[key][self.source[known] + offset], dtype=np.float32)
            matrix[known] = rows * np.float32(scale) if scale != 1.0 else rows

    def new_weight(self, new_tokens: int) -> float:
        """The weight of the rows trained on the new text in the continued model (``average``):
        new / (new + old / 2) in tokens (``--new-weight`` instead when given).

        The running mean of two independent models would weigh them by their tokens, but the newly
        trained rows are not independent of the saved ones: they started from them and keep part of
        them. Counting the saved text at half its tokens is what matched whole-corpus training on
        the benchmark corpus (bench/continue.py) best, with half and with a quarter of the text new,
        where the plain token share fell 0.9 to 1.7 points of analogy accuracy short of it.
        """
        if self.given_weight is not None:
            self.weight = self.given_weight
        else:
            total = self.tokens / 2 + new_tokens
            self.weight = new_tokens / total if total > 0 else 1.0
        return self.weight

    def average(self, key: str, matrix: np.ndarray, weight: float, offset: int = 0, extra: int = 0) -> None:
        """Make the rows of ``matrix`` of the words with saved rows ``weight`` times their trained value
        plus ``1 - weight`` times their saved one (saved row ``offset + source[i]``), and likewise the
        ``extra`` rows after the words' against those after the saved words' (FastText's ``</s>``)."""
        saved = self.arrays[key]
        known = np.flatnonzero(self.source >= 0)
        w, rest = np.float32(weight), np.float32(1.0 - weight)
        for lo in range(0, known.size, BLOCK):
            part = known[lo : lo + BLOCK]
            matrix[part] = matrix[part] * w + np.asarray(saved[self.source[part] + offset], dtype=np.float32) * rest
        if extra:
            mine, theirs = len(self.source), offset + len(self.saved_words)
            blend(matrix[mine : mine + extra], saved[theirs : theirs + extra], weight)

    def extra_row(self, key: str) -> np.ndarray:
        """The saved row after the words' (FastText's ``</s>``)."""
        return np.asarray(self.arrays[key][len(self.saved_words)], dtype=np.float32)

    @property
    def new_words(self) -> int:
        return int((self.source < 0).sum()) if self.source is not None else 0

    def heals(self) -> bool:
        """Whether a continued run makes one more, gentle pass after averaging (``heal``): only when the
        rows are a true mean, 0 < weight < 1 (``new_weight`` is set once training starts)."""
        return HEAL_EPOCHS > 0 and not self.pretrained and self.weight is not None and 0.0 < self.weight < 1.0

    def heal(self, options: TrainOptions, on_progress):
        """The options and the progress of the healing pass: ``HEAL_EPOCHS`` at ``HEAL_RATE`` of the rate,
        its progress reported after the run's own epochs (``train_progress`` counted them in)."""
        healing = replace(options, epochs=HEAL_EPOCHS, lr=options.lr * HEAL_RATE, seed=options.seed + 1)
        self.healed = {"epochs": HEAL_EPOCHS, "lr": round(healing.lr, 9)}
        return healing, _epochs_of(on_progress, options.epochs, options.epochs + HEAL_EPOCHS)

    def train_progress(self, options: TrainOptions, on_progress):
        """The progress of the run's own epochs, out of all epochs with the healing pass."""
        if not self.heals():
            return on_progress
        return _epochs_of(on_progress, 0, options.epochs + HEAL_EPOCHS)

    def meta(self) -> dict:
        """meta.json's entry on where the model started."""
        known = int((self.source >= 0).sum()) if self.source is not None else 0
        key = "init" if self.pretrained else "continued"
        entry = {"model": self.model, "words_from_model": known, "new_words": self.new_words}
        if self.weight is not None:
            entry["new_weight"] = round(self.weight, 6)
        if self.healed is not None:
            entry["healing_pass"] = self.healed
        if self.carried is not None:
            entry["cooccurrences"] = self.carried
        return {key: entry}


def _epochs_of(on_progress, first: float, total: float):
    """``on_progress`` for one pass of a longer run: its epochs reported after ``first``, out of ``total``."""
    if on_progress is None:
        return None

    def progress(stage, done, epochs, info=None):
        on_progress(stage, first + done, total, info)

    return progress


def blend(matrix: np.ndarray, saved: np.ndarray, weight: float) -> None:
    """``matrix = weight * matrix + (1 - weight) * saved``, in place and in blocks of rows."""
    w, rest = np.float32(weight), np.float32(1.0 - weight)
    for lo in range(0, matrix.shape[0], BLOCK):
        hi = min(lo + BLOCK, matrix.shape[0])
        matrix[lo:hi] = matrix[lo:hi] * w + np.asarray(saved[lo:hi], dtype=np.float32) * rest


def choose_vocabulary(counts: Counter, options: TrainOptions, start: Start | None):
    """The vocabulary of a training run (words, counts) and the words left out with their counts."""
    if start is not None:
        words, kept = start.vocabulary(counts, options)
        return words, kept, start.left_out
    words, kept = select_vocabulary(counts, options.min_count, options.max_vocab)
    chosen = set(words)
    return words, kept, Counter({w: c for w, c in counts.items() if w not in chosen})


def state_arrays(rare: Counter) -> dict:
    """The rare words' part of a trainer's state: words left out of the vocabulary and their counts.

    The words come as the bytes of ``state/rare.txt`` (UTF-8, a word a line): one object held
    through the training instead of a string per word (often more words than the vocabulary has).
    """
    words = sorted(rare, key=lambda w: (-rare[w], w))
    counts = np.array([rare[w] for w in words], dtype=np.int64)
    return {"rare_words": "".join(w + "\n" for w in words).encode("utf-8"), "rare_counts": counts}


def settle_vocabulary(counts: Counter, options: TrainOptions, start: Start | None) -> tuple[list[str], np.ndarray, dict]:
    """``choose_vocabulary`` and ``state_arrays`` in one, for a trainer about to allocate its matrices:
    the words, their counts and the rare words' state; ``counts`` is emptied.

    The corpus's word counts (a string and a count object for every distinct word, often hundreds of
    thousands) are freed, and the vocabulary's words are made anew, so that the small blocks those
    objects held can go back to the system instead of being counted beside the training's matrices.
    """
    words, kept, left_out = choose_vocabulary(counts, options, start)
    rare = state_arrays(left_out)
    del left_out
    counts.clear()
    blob = "\n".join(words)
    del words
    return_freed_memory()
    return (blob.split("\n") if blob else []), kept, rare


def _no_state(name: str, why: str) -> UsageError:
    return UsageError(
        f"model {name!r} cannot be continued: {why}; start a new model from its vectors with --init {name}"
    )


def state_summary(path: Path, meta: dict) -> dict:
    """Whether the model at ``path`` can be continued (and if not, why) and its state's bytes on disk."""
    size = 0
    for f in (Path(path) / STATE).rglob("*"):
        try:
            size += f.stat().st_size if f.is_file() else 0
        except OSError:
            continue
    try:
        check_state(path, str(Path(path).name), meta)
        why = None
    except UsageError as exc:
        why = str(exc).split(": ", 1)[-1].split(";")[0]
    return {"continuable": why is None, "state_bytes": size, **({"not_continuable": why} if why else {})}


def continue_settings(path: Path, name: str, given: dict, tokenizer: dict) -> tuple[TrainOptions, TokenizerSettings]:
    """The options and tokenizer to continue the model at ``path`` with: the saved ones, the ``given``
    free ones (epochs, lr, window, ...) instead; a ``given`` option or ``tokenizer`` setting that
    contradicts the saved model is refused naming the saved value."""
    meta = validate_meta(read_meta(path), path)
    check_state(path, name, meta)
    params = dict(meta.get("params") or {})
    saved = {"algo": meta["algorithm"], **{k: params[k] for k in FIXED[1:] if k in params}}
    for key, value in given.items():
        if key in FIXED and key in saved and value != saved[key]:
            raise UsageError(
                f"--{key.replace('_', '-')} {value} contradicts model {name!r}, trained with"
                f" --{key.replace('_', '-')} {saved[key]}: leave it out to continue it, or train a new model"
            )
    names = {f.name for f in fields(TrainOptions)}
    merged = {k: v for k, v in params.items() if k in names and (k in FIXED or k in INHERITED)}
    merged.update(saved)
    merged.update(given)
    options = TrainOptions(**merged)
    saved_tok = TokenizerSettings.from_dict(meta.get("tokenizer"))
    for key, value in tokenizer.items():
        if value is not None and value != getattr(saved_tok, key):
            raise UsageError(
                f"{_spelled(key, value)} contradicts model {name!r}, tokenized with"
                f" {_spelled(key, getattr(saved_tok, key))}: leave it out to continue it"
            )
    return options, saved_tok


def _spelled(key: str, value) -> str:
    """A tokenizer setting as the option that gives it: ``--tokenizer ko``, ``--no-lowercase``."""
    flag = "--tokenizer" if key == "mode" else f"--{key.replace('_', '-')}"
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    return f"{flag} {value}"


def check_state(path: Path, name: str, meta: dict) -> None:
    """Refuse a model that cannot be continued, naming ``--init`` as the way out."""
    algo = meta.get("algorithm")
    if algo not in NEEDS:
        raise _no_state(name, f"it was not trained by emb (algorithm {algo!r})")
    if meta.get("storage"):
        raise _no_state(name, "its vectors are compressed")
    if "compression" in meta:
        raise _no_state(name, "it is a smaller copy made by emb compress, which keeps no training state")
    if "state" not in meta:
        engine = meta.get("engine") if isinstance(meta.get("engine"), dict) else {}
        if engine.get("name") == "spark":
            why = "it was trained by Spark, which keeps no training state"
        elif meta.get("trainer") == "gensim":
            why = "it was trained by gensim (--loss hs), which keeps no training state"
        else:
            why = "it holds no training state (trained with --no-state)"
        raise _no_state(name, why)
    missing = [STATE_FILES[k] for k in NEEDS[algo] if not (Path(path) / STATE_FILES[k]).is_file()]
    optional = [STATE_FILES[k] for k in OPTIONAL.get(algo, ())]
    present = [f for f in optional if (Path(path) / f).is_file()]
    if present:  # all or none of them
        missing += [f for f in optional if f not in present]
    if not (Path(path) / "counts.npy").is_file():
        missing.append("counts.npy")
    if missing:
        raise _no_state(name, f"its state is incomplete ({', '.join(missing)} missing)")


def _damaged(path: Path, what: str) -> ModelError:
    return ModelError(f"{path}: {what}: the model's training state is damaged; start from its vectors with --init")


def check_cooccurrences(pairs: np.ndarray, xs: np.ndarray, words: int, path: Path) -> None:
    """Refuse a damaged co-occurrence state (GloVe's, ``training.glove.carry``): its shapes, word ids
    within the ``words`` saved, finite counts."""
    if pairs.ndim != 2 or pairs.shape[1:] != (2,) or pairs.dtype != np.int32:
        raise _damaged(path, f"pairs of {pairs.dtype} {pairs.shape}, not int32 (n, 2)")
    if xs.shape != (pairs.shape[0],) or xs.dtype != np.float32:
        raise _damaged(path, f"{pairs.shape[0]} pairs for counts of {xs.dtype} {xs.shape}")
    for lo in range(0, pairs.shape[0], BLOCK * 16):
        part = np.asarray(pairs[lo : lo + BLOCK * 16])
        if part.size and (int(part.min()) < 0 or int(part.max()) >= words):
            raise _damaged(path, f"a word id outside the model's {words} words")
        x = np.asarray(xs[lo : lo + BLOCK * 16])
        if not (np.isfinite(x) & (x > 0)).all():
            raise _damaged(path, "a count that is not a positive number")


def check_new_weight(weight: float | None, algo: str) -> None:
    """``--new-weight``: a number in [0, 1], for the trainers that average (not GloVe)."""
    if weight is None:
        return
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise UsageError(f"--new-weight {weight}: give a number from 0 to 1 (the weight of the rows trained on"
                         " the new text; 1 keeps them, 0 keeps the old words' vectors)")
    if algo not in AVERAGED:
        raise UsageError(f"--new-weight applies to word2vec and FastText, not {algo}: GloVe goes on from its"
                         " AdaGrad sums, which already slow the words it has trained; leave it out")


def load_continue(path: Path, name: str, new_weight: float | None = None, algo: str | None = None) -> Start:
    """The saved state of the model at ``path`` (checked by ``continue_settings``), mapped, not copied;
    ``new_weight``: ``--new-weight`` (checked here; ``algo`` the saved model's)."""
    from embcli.folder.reader import ModelFolder, load_array

    check_new_weight(new_weight, algo or "word2vec")

    folder = ModelFolder(path)
    meta = folder.meta
    algo = meta["algorithm"]
    arrays = {}
    for key in NEEDS[algo]:
        if key != "rare_words":
            arrays[key] = load_array(Path(path) / STATE_FILES[key], f"training state ({key})")
    notes = []
    for key in OPTIONAL.get(algo, ()):  # all or none of them (``check_state``)
        if (Path(path) / STATE_FILES[key]).is_file():
            arrays[key] = load_array(Path(path) / STATE_FILES[key], f"training state ({key})")
    if algo == "glove" and "cooc_pairs" not in arrays:
        notes.append(f"model {name!r} keeps no co-occurrence counts (saved by an earlier emb): it continues on"
                     " the new text's counts alone, and what only the old text said fades")
    if algo == "word2vec":
        arrays["input"] = folder.vectors
    if algo == "fasttext":
        arrays["ngrams"] = folder.ngrams
        if arrays["ngrams"] is None or arrays["ngrams"].shape != (meta["fasttext"]["buckets"], folder.dim):
            raise _no_state(name, "its n-gram matrix (ngrams.npy) is missing or not of its --buckets")
    words = folder.words
    counts = np.asarray(folder.counts)
    if len(counts) and int(counts.min()) < 1:  # every saved word was seen at least --min-count times
        raise _damaged(Path(path) / "counts.npy", f"a count of {int(counts.min())}")
    extra = 1 if algo == "fasttext" else 0
    n, dim = len(words), folder.dim
    want = {"input": (n + extra, dim), "output": (n + extra, dim), "biases": (2 * n,), "gradsq": (2 * n, dim + 1)}
    for key, shape in want.items():
        if key in arrays and (arrays[key].shape != shape or arrays[key].dtype.kind != "f"):
            raise _damaged(Path(path) / STATE_FILES[key], f"{arrays[key].dtype} {arrays[key].shape}, not {shape}")
    if "cooc_pairs" in arrays:
        check_cooccurrences(arrays["cooc_pairs"], arrays["cooc_x"], n, Path(path) / STATE_FILES["cooc_pairs"])
    rare_path = Path(path) / STATE_FILES["rare_words"]
    try:
        rare_words = rare_path.read_bytes().decode("utf-8").split("\n")[:-1]
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(rare_path, str(exc)) from None
    rare_counts = arrays.pop("rare_counts")
    if rare_counts.shape != (len(rare_words),) or rare_counts.dtype.kind not in "iu":
        raise _damaged(Path(path) / STATE_FILES["rare_counts"],
                       f"{len(rare_words)} words for counts of {rare_counts.dtype} {rare_counts.shape}")
    if len(rare_counts) and int(rare_counts.min()) < 1:
        raise _damaged(Path(path) / STATE_FILES["rare_counts"], f"a count of {int(rare_counts.min())}")
    state = meta["state"]
    corpus = meta.get("corpus") or {}
    return Start(
        model=name, pretrained=False, arrays=arrays, saved_words=words, saved_counts=counts,
        rare=Counter(dict(zip(rare_words, (int(c) for c in rare_counts)))),
        tokens=int(state.get("tokens", corpus.get("tokens", 0))), lines=int(state.get("lines", corpus.get("lines", 0))),
        phrases=folder.phrases, given_weight=None if new_weight is None else float(new_weight), notes=notes,
    )


def init_start(folder, spec: str, dim: int) -> Start:
    """Pretrained vectors of ``folder`` (an opened model or vector file, named ``spec``) for a model
    of dimension ``dim``, which must be theirs."""
    if folder.dim != dim:
        raise UsageError(
            f"--init {spec}: its vectors have dimension {folder.dim} but this model has --dim {dim}:"
            f" pass --dim {folder.dim}"
        )
    return Start(model=spec, pretrained=True, arrays={"input": folder.vectors}, lookup=folder)
