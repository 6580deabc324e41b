"""The training machinery of assignment 3, written by hand: a loss, a prediction function, a
``tf.function``-compiled ``GradientTape`` step with a hand-written SGD update, and an epoch loop.

The update rule is pluggable: plain SGD by hand by default, or any Keras optimizer applied through
the very same step and loop (assignment 3, part 4). Histories are tidy frames (:mod:`cnnlab.tidy`).
"""

from __future__ import annotations

import functools
import time
import weakref
from typing import Mapping

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .config import seed_everything
from .tidy import COLUMNS
from .multirun import check_pair, quiet_retracing


def mean_cross_entropy(logits, labels):
    """Mean sparse softmax cross-entropy of integer ``labels`` under ``logits`` (N, classes)."""
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int32)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def loss(model, x, y):
    """The training loss of ``model`` (which outputs logits) on a batch: mean cross-entropy."""
    return mean_cross_entropy(model(x, training=True), y)


def predict(model, x):
    """Class probabilities: the softmax of the model's logits."""
    return tf.nn.softmax(model(x, training=False), axis=-1)


def _correct(logits, labels):
    labels = tf.cast(tf.reshape(labels, [-1]), tf.int64)
    return tf.reduce_sum(tf.cast(tf.equal(tf.argmax(logits, axis=-1), labels), tf.float32))


def sgd_update(variables, gradients, learning_rate: float) -> None:
    """Plain stochastic gradient descent by hand: ``w <- w - learning_rate * dL/dw`` for every weight."""
    for variable, gradient in zip(variables, gradients):
        variable.assign_sub(learning_rate * gradient)


def make_train_step(model, learning_rate: float = 9e-4, optimizer=None):
    """A ``tf.function``-compiled training step ``step(x, y) -> (mean loss, correct count)``.

    The step computes the loss under a ``tf.GradientTape``, takes the gradients with respect to
    ``model.trainable_variables`` and updates them: by hand with :func:`sgd_update` at
    ``learning_rate`` when ``optimizer`` is ``None``, otherwise with the given
    ``keras.optimizers.Optimizer`` (``learning_rate`` is then ignored: the optimizer carries its own).
    """
    variables = model.trainable_variables
    if optimizer is not None:
        if not isinstance(optimizer, keras.optimizers.Optimizer):
            raise TypeError(f"optimizer must be a keras.optimizers.Optimizer or None, got {type(optimizer).__name__}")
        optimizer.build(variables)  # create its slots (momenta) now, not inside the compiled step

    @tf.function(reduce_retracing=True)
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            batch_loss = mean_cross_entropy(logits, y)
        gradients = tape.gradient(batch_loss, variables)
        if optimizer is None:
            sgd_update(variables, gradients, learning_rate)
        else:
            optimizer.apply_gradients(zip(gradients, variables))
        return batch_loss, _correct(logits, y)

    return step


_EVALUATORS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # model -> its evaluation


def _make_eval_batch(model):
    """The model's compiled ``(x, y) -> (summed loss, correct count)``, made once per model."""
    if model in _EVALUATORS:
        return _EVALUATORS[model]

    @tf.function(reduce_retracing=True)
    def evaluate_batch(x, y):
        logits = model(x, training=False)
        labels = tf.cast(tf.reshape(y, [-1]), tf.int32)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_sum(losses), _correct(logits, y)

    _EVALUATORS[model] = evaluate_batch
    return evaluate_batch


def _check_xy(name: str, data, model=None) -> tuple[np.ndarray, np.ndarray]:
    x, y = check_pair(name, data)
    if model is not None and tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
        raise ValueError(f"{name}: the model expects inputs of shape (N, {', '.join(map(str, model.input_shape[1:]))}) "
                         f"but x has shape {x.shape}")
    return x, np.asarray(y).reshape(-1)


def evaluate_by_hand(model, x, y, batch_size: int = 1000, _evaluate_batch=None) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of a logits model on ``(x, y)``, in batches of ``batch_size``."""
    x, y = _check_xy("evaluate", (x, y), model)
    evaluate_batch = _evaluate_batch or _make_eval_batch(model)
    total_loss = total_correct = 0.0
    with quiet_retracing():
        for start in range(0, len(x), batch_size):
            batch_loss, correct = evaluate_batch(x[start:start + batch_size], y[start:start + batch_size])
            total_loss += float(batch_loss)
            total_correct += float(correct)
    return total_loss / len(x), total_correct / len(x)


def train_by_hand(model, train, validation=None, *, epochs: int = 20, batch_size: int = 32,
                  learning_rate: float = 9e-4, optimizer=None, seed: int = 0, run=0,
                  restore_best: bool = False, verbose: bool = True) -> pd.DataFrame:
    """Train a logits ``model`` with the hand-written loop and return its tidy history.

    Every epoch shuffles the training indices with a generator seeded by ``seed``, walks them in
    batches of ``batch_size`` through :func:`make_train_step` (manual SGD at ``learning_rate``, or
    ``optimizer``), accumulates the training loss and accuracy weighted by batch size, then
    measures loss and accuracy on ``validation`` (``(x, y)`` or ``None``) and prints one line.
    The model's initial weights come from the global seed at the time it was built. With
    ``restore_best=True`` the model ends with the weights of its epoch of highest validation
    accuracy (the earliest, on ties), so the model selected on validation is the one returned.

    Returns a DataFrame with columns ``run, epoch, split, metric, value`` (splits ``"train"`` and
    ``"validation"``, metrics ``"loss"`` and ``"accuracy"``) plus, per epoch, the row
    ``(run, epoch, "train", "seconds", s)``: the measured wall-clock seconds of that epoch
    (training pass and validation; the first epoch also includes compiling the step).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be at least 1, got epochs={epochs}, batch_size={batch_size}")
    x, y = _check_xy("train", train, model)
    if validation is not None:
        x_val, y_val = _check_xy("validation", validation, model)
    step = make_train_step(model, learning_rate=learning_rate, optimizer=optimizer)
    evaluate_batch = _make_eval_batch(model)
    if restore_best and validation is None:
        raise ValueError("restore_best=True needs validation data to choose the best epoch")
    rng = np.random.default_rng(seed)
    rows = []
    best_accuracy, best_weights = -1.0, None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        order = rng.permutation(len(x))
        total_loss = total_correct = 0.0
        for first in range(0, len(x), batch_size):
            batch = order[first:first + batch_size]
            batch_loss, correct = step(x[batch], y[batch])
            total_loss += float(batch_loss) * len(batch)
            total_correct += float(correct)
        scores = {("train", "loss"): total_loss / len(x), ("train", "accuracy"): total_correct / len(x)}
        if validation is not None:
            val_loss, val_accuracy = evaluate_by_hand(model, x_val, y_val, _evaluate_batch=evaluate_batch)
            scores[("validation", "loss")], scores[("validation", "accuracy")] = val_loss, val_accuracy
            if restore_best and val_accuracy > best_accuracy:
                best_accuracy, best_weights = val_accuracy, model.get_weights()
        seconds = time.perf_counter() - start
        rows += [(run, epoch, split, metric, value) for (split, metric), value in scores.items()]
        rows.append((run, epoch, "train", "seconds", seconds))
        if verbose:
            line = f"{run} epoch {epoch}/{epochs}: train loss {scores['train', 'loss']:.4f} " \
                   f"accuracy {scores['train', 'accuracy']:.4f}"
            if validation is not None:
                line += f" | validation loss {val_loss:.4f} accuracy {val_accuracy:.4f}"
            print(f"{line} ({seconds:.1f} s)", flush=True)
    if restore_best:
        model.set_weights(best_weights)
    return pd.DataFrame(rows, columns=COLUMNS)


def compare_by_hand(candidates: Mapping[str, Mapping], train, validation, *, epochs: int, seed: int = 0,
                    verbose: bool = True):
    """Train every candidate setting with :func:`train_by_hand` and return ``(frame, models)``.

    ``candidates`` maps a name to a dict with ``"build"`` (a function returning a fresh logits
    model) and any :func:`train_by_hand` keywords (``learning_rate``, ``batch_size``,
    ``optimizer``: a fresh Keras optimizer per candidate). Each model is built right after
    seeding with ``seed`` and trained with batch order ``seed``, so candidates with the same
    architecture start from the same weights and see the same batches; each ends with the weights
    of its best validation epoch (``restore_best=True``). The frame is tidy with the candidate's
    name in the ``run`` column; ``models`` maps each name to its trained model.
    """
    frames, trained = [], {}
    for name, candidate in candidates.items():
        options = dict(candidate)
        build = options.pop("build", None)
        if build is None:
            raise ValueError(f"candidate {name!r} needs a 'build' function returning a fresh model")
        seed_everything(seed)
        model = build()
        with quiet_retracing():
            frames.append(train_by_hand(model, train, validation, epochs=epochs, seed=seed, run=name,
                                        restore_best=True, verbose=verbose, **options))
        trained[name] = model
    return pd.concat(frames, ignore_index=True), trained


#: The hyperparameters :func:`train_by_hand` takes; :func:`candidates` passes every other one to the builder.
LOOP_KEYS = ("learning_rate", "batch_size", "optimizer")


def candidates(settings: Mapping[str, Mapping], build, **common) -> dict:
    """The candidates :func:`compare_by_hand` trains, from one dict of hyperparameters per setting.

    For every ``name: hyperparameters`` of ``settings`` (with ``common`` added to each), the keys
    of :data:`LOOP_KEYS` go to the training loop and all other keys to ``build``, which is called
    afresh for the run: ``{"H1": {"learning_rate": 1e-3, "width": 32}}`` trains ``build(width=32)``
    at learning rate 10⁻³.
    """
    made = {}
    for name, values in settings.items():
        values = {**common, **values}
        loop = {key: values.pop(key) for key in LOOP_KEYS if key in values}
        made[name] = {"build": functools.partial(build, **values), **loop}
    return made
