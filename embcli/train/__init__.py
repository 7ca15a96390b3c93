"""Trainers: one module per algorithm, all with the shape ``train_X(prepared, options, on_progress)``.

``train_to_store`` is the whole job behind ``emb train``: tokenize the corpus once into a temporary
file inside the model's temporary folder, train, write the model, rename it into place.
"""

from embcli.train.options import ALGORITHMS, TrainOptions, TrainResult
from embcli.train.run import train_to_folder, train_to_store

__all__ = ["ALGORITHMS", "TrainOptions", "TrainResult", "train_to_folder", "train_to_store"]
