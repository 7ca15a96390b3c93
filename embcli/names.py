"""The names of the library's choices, importable without numpy.

The command line builds its options and help from these (``emb --help`` must not load numpy); the
modules that implement the choices import them from here.
"""

# Search metrics (embcli.topk) and analogy methods: 3CosAdd and 3CosMul.
METRICS = ("cosine", "euclidean", "dot")
METHODS = ("add", "mul")
# Training (embcli.training.options).
ALGORITHMS = ("word2vec", "fasttext", "glove")
ARCHS = ("skipgram", "cbow")
# Where training and counting run: in this process (emb's kernels) or on Spark (embcli.spark).
ENGINES = ("local", "spark")
LOSSES = ("ns", "hs")
# What evaluation does with questions that hold unknown words (embcli.evaluation).
OOV_POLICIES = ("skip", "wrong")
# Tokenizers (embcli.tokenize).
TOKENIZER_MODES = ("unicode", "whitespace", "ko", "ja", "zh")
# Morphological tokenizers (embcli.morph): every morpheme, or only the content ones.
POS_FILTERS = ("all", "content")
