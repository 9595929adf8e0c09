"""Using models: predict on photos and videos, portable exports (SavedModel, TFLite, ONNX) and edge latency.

* :mod:`.runners`: one :class:`~.runners.Runner` per model of any format (``open_runner(path)``);
* :mod:`.meta`: the metadata JSON written beside every export (label order, input, preprocessing);
* :mod:`.predict`: faces found and cropped as build-btfer does it, classified, streamed as records;
* :mod:`.export`: conversion, quantisation and the check against the source model;
* :mod:`.latency`: size, latency, throughput and accuracy change per format (``fer-bench bench-latency``).

Importing this package does not import TensorFlow.
"""
