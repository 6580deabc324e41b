"""Fitting helpers: repeated independent runs and Keras histories as tidy pandas DataFrames.

Every learning-curve result in the workbook is a *tidy* DataFrame with the columns
``run, epoch, split, metric, value`` (one row per number), which the plotting helpers in
:mod:`cnnlab.plots` draw from and pandas summarises.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Callable, Mapping

import keras
import numpy as np
import pandas as pd

from .config import seed_everything

COLUMNS = ["run", "epoch", "split", "metric", "value"]

# Batches per call into the compiled training graph when a run is trained with ``fit``. Small
# models spend most of a step in Python overhead; running 50 steps per call gives the same
# numbers several times faster.
STEPS_PER_EXECUTION = 50


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of an experiment seeded with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, run]).generate_state(1)[0])


def history_frame(history, run: int = 0, validation_label: str = "validation") -> pd.DataFrame:
    """A Keras ``History`` (or its ``.history`` dict) as a tidy DataFrame.

    Keys ``loss``/``accuracy`` become split ``"train"``; ``val_loss``/``val_accuracy`` become
    split ``validation_label`` (pass ``"test"`` when the test set was given as validation data).
    """
    logs = getattr(history, "history", history)
    rows = []
    for key, values in logs.items():
        split, metric = (validation_label, key[4:]) if key.startswith("val_") else ("train", key)
        for epoch, value in enumerate(values, start=1):
            rows.append((run, epoch, split, metric, float(value)))
    return pd.DataFrame(rows, columns=COLUMNS)


class EvaluateEachEpoch(keras.callbacks.Callback):
    """Evaluate the model on named data sets after every epoch; results go into the epoch logs
    as ``<name>_<metric>`` and into :attr:`rows` as tidy tuples.

    With ``verbose=True`` it also prints one line per epoch: the training loss and accuracy
    Keras reports, then loss and accuracy on every named set, and the epoch's wall time.
    """

    def __init__(self, datasets: Mapping[str, tuple], batch_size: int = 1024, verbose: bool = False):
        super().__init__()
        self.datasets = dict(datasets)
        self.batch_size = batch_size
        self.verbose = verbose
        self.rows: list[tuple] = []
        self._epoch_start = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        parts = []
        if self.verbose and logs and "loss" in logs:
            train = f"train loss {float(logs['loss']):.4f}"
            if "accuracy" in logs:
                train += f", accuracy {float(logs['accuracy']):.4f}"
            parts.append(train)
        for name, (x, y) in self.datasets.items():
            scores = self.model.evaluate(x, y, batch_size=self.batch_size, verbose=0, return_dict=True)
            for metric, value in scores.items():
                self.rows.append((epoch + 1, name, metric, float(value)))
                if logs is not None:
                    logs[f"{name}_{metric}"] = float(value)
            ordered = sorted(scores.items(), key=lambda item: item[0] != "loss")  # loss first
            parts.append(f"{name} " + ", ".join(f"{metric} {value:.4f}" for metric, value in ordered))
        if self.verbose:
            seconds = time.perf_counter() - self._epoch_start if self._epoch_start else 0.0
            print(f"epoch {epoch + 1}: " + " | ".join(parts) + f" ({seconds:.1f} s)", flush=True)


@contextlib.contextmanager
def _quiet_retracing():
    """Silence TensorFlow's "triggered tf.function retracing" warning: every fresh model traces
    its own training function, which is expected when many models are built in a loop."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_pair(name: str, data) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = data
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair (x, y) of arrays") from None
    if len(x) != len(y):
        raise ValueError(f"{name}: x has {len(x)} examples but y has {len(y)}")
    return x, y


def build_run(build_model, seed: int, run: int) -> keras.Model:
    """Seed with :func:`run_seed` and build run ``run``'s model; it must come back compiled."""
    seed_everything(run_seed(seed, run))
    model = build_model()
    if not getattr(model, "compiled", False):
        raise ValueError("build_model must return a compiled Keras model")
    return model


def fit_runs_sequentially(build_model, train, *, runs, epochs, evaluate, batch_size, seed,
                          verbose, first=None):
    """Train ``runs`` fresh models one after another with ``model.fit``; see :func:`repeated_runs`.

    ``first`` may be run 0's model, already built by :func:`build_run` just before this call.
    Returns the tidy frame and the list of trained models.
    """
    x, y = train
    frames, trained = [], []
    for run in range(runs):
        model = first if run == 0 and first is not None else build_run(build_model, seed, run)
        if model.steps_per_execution == 1:
            model.steps_per_execution = STEPS_PER_EXECUTION
        evaluator = EvaluateEachEpoch(evaluate)
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
                            callbacks=[evaluator])
        seconds = time.perf_counter() - start
        frame = history_frame({k: v for k, v in history.history.items() if k in ("loss", "accuracy")}, run)
        extra = pd.DataFrame([(run, *r) for r in evaluator.rows], columns=COLUMNS)
        frames.append(pd.concat([frame, extra], ignore_index=True))
        trained.append(model)
        if verbose:
            print(_run_line(run, runs, frames[-1], seconds))
    return pd.concat(frames, ignore_index=True), trained


def _run_line(run: int, runs: int, frame: pd.DataFrame, seconds: float) -> str:
    last = frame[(frame.epoch == frame.epoch.max()) & (frame.metric == "accuracy")]
    scores = ", ".join(f"{row.split} accuracy {row.value:.4f}" for row in last.itertuples())
    return f"run {run + 1}/{runs}: {scores} ({seconds:.1f} s)"


METHODS = ("auto", "stacked", "sequential")


def repeated_runs(build_model: Callable[[], keras.Model], train, *, runs: int, epochs: int,
                  evaluate: Mapping[str, tuple] | None = None, batch_size: int = 32, seed: int = 0,
                  verbose: bool = True, models: bool = False, method: str = "auto"):
    """Train ``runs`` independently initialised models and return every learning curve.

    ``build_model()`` must return a freshly built, compiled model; it is called once per run
    after seeding with :func:`run_seed`, so run ``r`` has its own initial weights, and calling
    again with the same ``seed`` reproduces every number. ``train`` is ``(x, y)``; ``evaluate``
    maps a split name (e.g. ``"test"``) to ``(x, y)`` evaluated after every epoch.

    How the runs are trained is chosen automatically (``method="auto"``): models that
    :mod:`cnnlab.stacked` supports (plain ``Sequential`` stacks of Dense, Conv2D, pooling, Flatten
    and ReLU layers) are trained together in one compiled graph, each run with its own initial
    weights, batch order and optimizer state (that module says what differs from separate ``fit``
    calls); every other model, and a single run of a convnet, is trained run after run with
    ``model.fit``. Measured with ``benchmarks/repeated_runs.py`` on a 2-core CPU, stacking made ten
    784-32-10 perceptrons about 12x faster than a ``fit`` loop and three Q9 convnets 1.4-1.5x
    faster than the sequential path. ``method="stacked"`` forces the stacked path and
    ``"sequential"`` the ``fit`` path.

    Returns a tidy DataFrame with columns ``run, epoch, split, metric, value``; split ``"train"``
    holds the running averages over each epoch, as ``fit`` reports them. ``frame.attrs`` holds
    ``"seconds"`` (wall time of the experiment) and ``"method"`` (the path taken). With
    ``models=True`` the result is ``(frame, models)``, the trained Keras models in run order.
    """
    from . import stacked

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if runs < 1 or epochs < 1:
        raise ValueError(f"runs and epochs must be at least 1, got runs={runs}, epochs={epochs}")
    train = _check_pair("train", train)
    evaluate = {name: _check_pair(f"evaluate[{name!r}]", data) for name, data in (evaluate or {}).items()}
    start = time.perf_counter()
    with _quiet_retracing():
        first = build_run(build_model, seed, 0)
        if method == "stacked":
            reason = stacked.unsupported_reason(first)
            if reason:
                raise ValueError(f"cannot train these runs stacked: {reason}")
        together = method == "stacked" or (method == "auto" and stacked.preferred(first, runs))
        if together:
            trained = [first] + [build_run(build_model, seed, run) for run in range(1, runs)]
            frame = stacked.train_stacked(trained, train, epochs=epochs, evaluate=evaluate,
                                          batch_size=batch_size,
                                          seeds=[run_seed(seed, run) for run in range(runs)],
                                          verbose=verbose)
        else:
            frame, trained = fit_runs_sequentially(build_model, train, runs=runs, epochs=epochs,
                                                   evaluate=evaluate, batch_size=batch_size, seed=seed,
                                                   verbose=verbose, first=first)
    frame.attrs["seconds"] = time.perf_counter() - start
    frame.attrs["method"] = "stacked" if together else "sequential"
    return (frame, trained) if models else frame


def dead_units(model: keras.Model, x, layer: int = -1) -> np.ndarray:
    """Indices of the units of ``model.layers[layer]`` that output exactly 0 for every example
    of ``x``: dead ReLUs, which pass back no gradient and so never recover."""
    part = keras.Model(model.inputs, model.layers[layer].output)
    outputs = np.asarray(part.predict(x, batch_size=1024, verbose=0))
    return np.flatnonzero(outputs.reshape(len(outputs), -1).max(axis=0) == 0)


def final(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """The last epoch of every run: one row per run, one column per split."""
    rows = frame[(frame.metric == metric) & (frame.epoch == frame.epoch.max())]
    return rows.pivot(index="run", columns="split", values="value")


# --- assignment 3: the training machinery written by hand ----------------------------------------
# A loss, a prediction function, a compiled GradientTape step with a hand-written SGD update, and an
# epoch loop. The update rule is pluggable: plain SGD by hand by default, or any Keras optimizer
# applied through the very same step and loop (assignment 3, part 4).

import tensorflow as tf  # noqa: E402  (Keras runs on the TensorFlow backend)


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


_EVALUATORS: "weakref.WeakKeyDictionary" = None  # model -> its compiled evaluation function


def _make_eval_batch(model):
    """The model's compiled ``(x, y) -> (summed loss, correct count)``, made once per model."""
    global _EVALUATORS
    import weakref

    if _EVALUATORS is None:
        _EVALUATORS = weakref.WeakKeyDictionary()
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
    x, y = _check_pair(name, data)
    if model is not None and tuple(x.shape[1:]) != tuple(model.input_shape[1:]):
        raise ValueError(f"{name}: the model expects inputs of shape (N, {', '.join(map(str, model.input_shape[1:]))}) "
                         f"but x has shape {x.shape}")
    return x, np.asarray(y).reshape(-1)


def evaluate_by_hand(model, x, y, batch_size: int = 1000, _evaluate_batch=None) -> tuple[float, float]:
    """``(mean loss, accuracy)`` of a logits model on ``(x, y)``, in batches of ``batch_size``."""
    x, y = _check_xy("evaluate", (x, y), model)
    evaluate_batch = _evaluate_batch or _make_eval_batch(model)
    total_loss = total_correct = 0.0
    with _quiet_retracing():
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


# --- assignment 2: evaluation every few training batches ---------------------------------------


class EvaluateEveryNBatches(keras.callbacks.Callback):
    """Evaluate a classifier on ``(x, y)`` after every ``every`` training batches (and once before
    the first), record loss and accuracy, and optionally stop training once the accuracy reaches
    ``stop_at_accuracy``.

    Made for softmax classifiers trained on integer labels: the loss is the sparse categorical
    cross-entropy and the accuracy the share of arg-max predictions equal to the label. The model
    is run in inference mode (no dropout) through ``predict_on_batch`` in chunks of
    ``batch_size``; unlike ``model.evaluate`` this leaves the running training metrics that
    ``fit`` reports untouched. Batches are counted across epochs.

    After training, :meth:`frame` returns the points as a tidy DataFrame
    (``batch, split, metric, value``) and :attr:`stopped_at` is the batch at which the threshold
    was reached (``None`` if it never was).
    """

    def __init__(self, x, y, every: int = 1, stop_at_accuracy: float | None = None,
                 batch_size: int = 1000, split: str = "test", at_start: bool = True):
        super().__init__()
        x, y = np.asarray(x), np.asarray(y)
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"expected integer class labels of shape (N,), got {y.dtype} labels of shape {y.shape}")
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        if every < 1:
            raise ValueError(f"every must be at least 1, got {every}")
        if stop_at_accuracy is not None and not 0 < stop_at_accuracy <= 1:
            raise ValueError(f"stop_at_accuracy must be in (0, 1], got {stop_at_accuracy}")
        self.x, self.y = x, y
        self.every = every
        self.stop_at_accuracy = stop_at_accuracy
        self.batch_size = batch_size
        self.split = split
        self.at_start = at_start
        self.batches = 0
        self.stopped_at: int | None = None
        self.rows: list[tuple] = []

    def evaluate(self) -> tuple[float, float]:
        """(loss, accuracy) of the model on the callback's data, in inference mode."""
        probabilities = np.concatenate([
            np.asarray(self.model.predict_on_batch(self.x[i:i + self.batch_size]))
            for i in range(0, len(self.x), self.batch_size)])
        if probabilities.ndim != 2 or len(probabilities) != len(self.y):
            raise ValueError(f"expected class probabilities of shape ({len(self.y)}, classes), "
                             f"got {probabilities.shape}")
        loss = np.asarray(keras.losses.sparse_categorical_crossentropy(self.y, probabilities)).mean()
        accuracy = (probabilities.argmax(axis=1) == self.y).mean()
        return float(loss), float(accuracy)

    def _record(self) -> None:
        loss, accuracy = self.evaluate()
        self.rows += [(self.batches, self.split, "loss", loss), (self.batches, self.split, "accuracy", accuracy)]
        if self.stop_at_accuracy is not None and accuracy >= self.stop_at_accuracy and self.stopped_at is None:
            self.stopped_at = self.batches
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ValueError("EvaluateEveryNBatches needs a model compiled with steps_per_execution=1 "
                             f"(got {self.model.steps_per_execution}): Keras calls batch callbacks only "
                             "once per execution")
        if self.at_start and self.batches == 0:
            self._record()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches % self.every == 0 and not self.model.stop_training:
            self._record()

    def frame(self, **columns) -> pd.DataFrame:
        """The recorded points as a tidy DataFrame; keyword arguments add constant columns
        (e.g. ``model="reference"``)."""
        frame = pd.DataFrame(self.rows, columns=["batch", "split", "metric", "value"])
        return frame.assign(**columns)


# --- assignment 3: comparing settings trained with the hand-written loop --------------------------


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
        with _quiet_retracing():
            frames.append(train_by_hand(model, train, validation, epochs=epochs, seed=seed, run=name,
                                        restore_best=True, verbose=verbose, **options))
        trained[name] = model
    return pd.concat(frames, ignore_index=True), trained


def best_epochs(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per run of a :func:`train_by_hand` history: best validation accuracy, the epoch it
    was reached (the earliest, on ties), the last epoch's validation accuracy, and the median
    measured seconds per epoch (the median ignores the first epoch's compilation and any stall)."""
    rows = {}
    for run, runs in frame.groupby("run", sort=False):
        val = runs[(runs.split == "validation") & (runs.metric == "accuracy")].set_index("epoch").value
        if val.empty:
            raise ValueError(f"run {run!r} has no validation accuracy: train it with validation data")
        seconds = runs[runs.metric == "seconds"].value
        rows[run] = {"best validation accuracy": val.max(), "best epoch": int(val.idxmax()),
                     "last validation accuracy": val.iloc[-1], "seconds per epoch": seconds.median()}
    return pd.DataFrame(rows).T.astype({"best epoch": int}).rename_axis("run")


# --- assignment 5: accuracy per class -------------------------------------------------------------


def per_class_accuracy(y_true, y_pred, class_names=None) -> pd.Series:
    """The share of each class's examples that are classified correctly (the per-class recall).

    ``y_pred`` is either predicted labels ``(N,)`` or scores ``(N, classes)`` (logits or
    probabilities; the arg-max is the prediction). Returns a Series indexed by class name (or
    class number); a class without examples gets NaN. Weighted by the class counts, it averages
    to the overall accuracy.
    """
    from sklearn.metrics import confusion_matrix

    y_true = np.ravel(y_true)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        y_pred = y_pred.argmax(axis=1)
    y_pred = np.ravel(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"got {len(y_true)} labels but {len(y_pred)} predictions")
    classes = len(class_names) if class_names is not None else int(max(y_true.max(), y_pred.max())) + 1
    counts = confusion_matrix(y_true, y_pred, labels=np.arange(classes))
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = np.diag(counts) / counts.sum(axis=1)
    index = pd.Index(list(class_names) if class_names is not None else range(classes), name="class")
    return pd.Series(accuracy, index=index, name="accuracy")


# --- assignment 4: a training log every N steps and after every epoch -----------------------------


class TrainingLog(keras.callbacks.Callback):
    """Log a ``fit`` the way a hand-written training loop would, and keep the numbers for plots.

    Every ``every`` training steps it records the running training loss and accuracy: their mean
    over the steps since the previous record (PyTorch's ``running_loss / 200``). After every epoch
    it records the epoch's metrics, including ``val_loss``/``val_accuracy`` when ``fit`` was given
    ``validation_data``, and the epoch's wall time.

    * :attr:`steps`: DataFrame with ``step`` (counted over all epochs), ``epoch`` (fractional:
      epochs completed so far), ``loss``, ``accuracy``;
    * :attr:`epochs`: DataFrame with ``epoch``, the epoch's logs (``loss``, ``accuracy``,
      ``val_loss``, ``val_accuracy``, ...) and ``seconds``;
    * :meth:`frame`: the epoch metrics as a tidy frame (run, epoch, split, metric, value).

    Keras reports training metrics as means since the start of the epoch; the window means are
    recovered from them by weighting every step equally, which is exact except for the last,
    smaller batch of an epoch. ``verbose=1`` prints one line per epoch, ``verbose=2`` also a line
    per record, ``verbose=0`` nothing.
    """

    def __init__(self, every: int = 200, metrics=("loss", "accuracy"), verbose: int = 1):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be a positive number of steps, got {every}")
        self.every = int(every)
        self.metrics = tuple(metrics)
        self.verbose = verbose
        self.step = 0
        self._step_rows: list[dict] = []
        self._epoch_rows: list[dict] = []
        self._reset_window()

    def _reset_window(self):
        self._window_sum = dict.fromkeys(self.metrics, 0.0)
        self._window_steps = 0

    @property
    def steps(self) -> pd.DataFrame:
        return pd.DataFrame(self._step_rows, columns=["step", "epoch", *self.metrics])

    @property
    def epochs(self) -> pd.DataFrame:
        return pd.DataFrame(self._epoch_rows)

    def frame(self, run: int = 0, validation_label: str = "validation") -> pd.DataFrame:
        """The per-epoch metrics as a tidy frame for :mod:`cnnlab.plots` (``val_*`` -> ``validation_label``)."""
        logs = {key: self.epochs[key].tolist() for key in self.epochs.columns if key not in ("epoch", "seconds")}
        return history_frame(logs, run=run, validation_label=validation_label)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._done = 0
        self._means = dict.fromkeys(self.metrics, 0.0)
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        missing = [m for m in self.metrics if m not in logs]
        if missing:
            raise ValueError(f"TrainingLog needs {missing} in the training logs (it has {sorted(logs)}): "
                             f"compile the model with metrics=['accuracy']")
        done = batch + 1  # steps finished in this epoch (several at once with steps_per_execution)
        for metric in self.metrics:
            mean = float(logs[metric])
            self._window_sum[metric] += done * mean - self._done * self._means[metric]
            self._means[metric] = mean
        self._window_steps += done - self._done
        self.step += done - self._done
        self._done = done
        if self.step // self.every > (self.step - self._window_steps) // self.every:
            steps_per_epoch = self.params.get("steps") or done
            row = {"step": self.step, "epoch": self._epoch + done / steps_per_epoch}
            row.update({m: self._window_sum[m] / self._window_steps for m in self.metrics})
            self._step_rows.append(row)
            self._reset_window()
            if self.verbose >= 2:
                values = ", ".join(f"{m} {row[m]:.4f}" for m in self.metrics)
                print(f"  step {self.step:>6}: running {values}")

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, **{key: float(value) for key, value in (logs or {}).items()},
               "seconds": time.perf_counter() - self._epoch_start}
        self._epoch_rows.append(row)
        if self.verbose >= 1:
            total = self.params.get("epochs", "?")
            train = ", ".join(f"{m} {row[m]:.4f}" for m in self.metrics if m in row)
            val = ", ".join(f"{k[4:]} {v:.4f}" for k, v in row.items() if k.startswith("val_"))
            print(f"epoch {epoch + 1}/{total}: train {train}"
                  + (f"; validation {val}" if val else "") + f" ({row['seconds']:.1f} s)")
