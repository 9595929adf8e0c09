"""Metrics over every test image, computed with scikit-learn (no hand-rolled formulas).

UAR (unweighted average recall) = macro recall = balanced accuracy; it is the number that does not reward a
model for predicting the majority class, which is why every leaderboard column set carries it.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)


def compute_metrics(y_true, probs, label_names) -> dict:
    """accuracy, macro P/R/F1, UAR, per-class P/R/F1/support, confusion matrix, top-2 accuracy.

    Args:
        y_true: (N,) int canonical indices.
        probs: (N, K) predicted probabilities over the K classes in *label_names* order.
        label_names: names of the K classes.
    Classes with no test sample are excluded from the macro averages (and listed as absent).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    k = probs.shape[1]
    y_pred = probs.argmax(axis=1)
    present = sorted(set(y_true.tolist()))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro",
                                                 zero_division=0)
    pc_p, pc_r, pc_f, pc_s = precision_recall_fscore_support(y_true, y_pred, labels=list(range(k)),
                                                             average=None, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=list(range(k)))
    top2 = top_k_accuracy_score(y_true, probs, k=2, labels=list(range(k))) if k > 2 else 1.0
    return {
        "n": len(y_true),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f),
        # balanced accuracy = macro recall over the classes present in y_true; taken from the call above
        # (sklearn's balanced_accuracy_score computes the same and warns when a prediction names an absent class)
        "uar": float(r),
        "top2_accuracy": float(top2),
        "label_names": list(label_names),
        "absent_classes": [label_names[i] for i in range(k) if i not in present],
        "per_class": {
            label_names[i]: {"precision": float(pc_p[i]), "recall": float(pc_r[i]), "f1": float(pc_f[i]),
                             "support": int(pc_s[i])}
            for i in range(k)
        },
        "confusion_matrix": cm.tolist(),
    }
