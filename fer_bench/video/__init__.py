"""Video track: OpenFace AU sequences, splits, sequence models and SVM baseline (Keinert et al., 2025)."""

#: the pooling heads of the GRU (defined here, not in models.py, so that code which only reads run folders or
#: parses options need not import Keras)
HEADS = ("average", "attention", "conv")
