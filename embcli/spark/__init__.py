"""The Spark engine: ``emb train --engine spark`` and ``emb vocab --engine spark``.

The corpus is read and tokenized inside Spark by emb's own decoder and tokenizer (``text``), words are
counted there (``counts``), Word2Vec is MLlib's (``word2vec``), GloVe's co-occurrences are counted
there and fitted locally (``glove``); results come back through Parquet (``exchange``) and are written
by the folder writer through ``embcli.training.run``'s atomic jobs (``run``). ``session`` starts or
reuses the SparkSession, keeps its log off the terminal and reports progress. Nothing here imports
pyspark at import time: a missing ``spark`` extra is one line naming the pip command.
"""
