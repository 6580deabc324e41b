"""Measurements of trained classifiers that Keras does not report: a layer's outputs, dead ReLU
units and accuracy per class.
"""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd


def layer_outputs(model: keras.Model, x, layer: int = -1, batch_size: int = 1024) -> np.ndarray:
    """The outputs of ``model.layers[layer]`` for every example of ``x`` (inference mode).

    The model is called directly, batch by batch, rather than through ``predict``: every new
    model's ``predict`` traces a new ``tf.function``, which TensorFlow reports as excessive
    retracing when many trained models are measured in a loop."""
    part = keras.Model(model.inputs[0], model.layers[layer].output)
    x = np.asarray(x)
    batches = [keras.ops.convert_to_numpy(part(x[start:start + batch_size], training=False))
               for start in range(0, len(x), batch_size)]
    return np.concatenate(batches)


def dead_units(model: keras.Model, x, layer: int = -1) -> np.ndarray:
    """Indices of the units of ``model.layers[layer]`` that output exactly 0 for every example
    of ``x``: dead ReLUs, which pass back no gradient and so never recover."""
    outputs = layer_outputs(model, x, layer)
    return np.flatnonzero(outputs.reshape(len(outputs), -1).max(axis=0) == 0)


def per_class_accuracy(y_true, y_pred, class_names=None) -> pd.Series:
    """The share of each class's examples that are classified correctly (the per-class recall,
    :func:`sklearn.metrics.recall_score` with ``average=None``).

    ``y_pred`` is either predicted labels ``(N,)`` or scores ``(N, classes)`` (logits or
    probabilities; the arg-max is the prediction). Returns a Series indexed by class name (or
    class number); a class without examples gets NaN. Weighted by the class counts, it averages
    to the overall accuracy.
    """
    from sklearn.metrics import recall_score

    y_true = np.ravel(y_true)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    y_pred = np.ravel(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"got {len(y_true)} labels but {len(y_pred)} predictions")
    classes = len(class_names) if class_names is not None else int(max(y_true.max(), y_pred.max())) + 1
    recall = recall_score(y_true, y_pred, labels=np.arange(classes), average=None, zero_division=np.nan)
    index = pd.Index(list(class_names) if class_names is not None else range(classes), name="class")
    return pd.Series(recall, index=index, name="accuracy")


def weight_change(initial, final) -> np.ndarray:
    """How far training moved each weight tensor: ``‖w − w₀‖ / ‖w₀‖`` for every pair of
    ``initial`` and ``final`` arrays (as ``model.get_weights()`` lists them) whose initial norm is
    not zero. Tensors that start at zero (Keras's biases) have no relative change and are skipped.
    """
    initial, final = list(initial), list(final)
    if len(initial) != len(final):
        raise ValueError(f"got {len(initial)} initial and {len(final)} final weight tensors: "
                         f"pass model.get_weights() of the same model before and after training")
    changes = []
    for before, after in zip(initial, final):
        before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
        if before.shape != after.shape:
            raise ValueError(f"weight shapes differ: {before.shape} before, {after.shape} after")
        norm = np.linalg.norm(before)
        if norm > 0:
            changes.append(np.linalg.norm(after - before) / norm)
    return np.array(changes)
