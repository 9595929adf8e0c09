"""Video track: OpenFace AU sequences, splits, sequence models and SVM baseline (Keinert et al., 2025)."""
