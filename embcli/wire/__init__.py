"""Hand-written binary encoders and decoders, each small and tested against its reference library.

``varint``: unsigned LEB128 varints and zigzag (shared by Thrift's compact protocol and protobuf);
``thrift``: Thrift's compact protocol, read and write (Parquet page headers and footers);
``protobuf``: the protobuf encoding of ONNX graphs; ``npy``: the ``.npy`` header, written and read.

This is the bottom layer above ``embcli.errors``: nothing here imports any other part of emb.
"""
