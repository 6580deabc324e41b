"""The training loop of :mod:`cnnlab.stacked`: R runs of one network, every step of every run in one
compiled TensorFlow graph, and their evaluation after every epoch.
"""

from __future__ import annotations

import math
import time

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from .progress import Progress
from .stacked_layers import StackedNetwork
from .stacked_rules import loss_function
from .tidy import COLUMNS

# examples per evaluation call, divided among the runs (every run at once): image activations of R
# runs take R times the memory of one
EVALUATION_EXAMPLES = {"image": 1024, "flat": 16384}
PROGRESS_UPDATES = 20  # calls into the training graph per epoch when progress is shown live


def _accuracy_counts(y, outputs, one_hot: bool):
    predicted = tf.argmax(outputs, axis=-1, output_type=tf.int32)
    target = tf.argmax(y, axis=-1, output_type=tf.int32) if one_hot else tf.cast(y, tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, target), tf.float32), axis=-1)


def _targets(y, one_hot: bool) -> np.ndarray:
    n = len(y)
    return np.asarray(y, dtype="float32" if one_hot else "int32").reshape((n, -1) if one_hot else (n,))


class StackedTrainer:
    """Compiled training and evaluation functions for R runs of a network (see :func:`train_stacked`)."""

    def __init__(self, models: list[keras.Model], x, y, batch_size: int):
        first = models[0]
        fn, options = loss_function(first)
        self.loss = lambda target, output: fn(target, output, **options)
        self.runs = len(models)
        self.network = StackedNetwork(models)
        self.n = len(x)
        self.shape = tuple(first.inputs[0].shape[1:])
        self.one_hot = np.ndim(y) == 2 and np.shape(y)[1] > 1
        self.x = tf.constant(np.asarray(x, dtype="float32").reshape(self.n, *self.shape))
        self.y = tf.constant(_targets(y, self.one_hot))
        self.batch_size = batch_size
        self.steps = math.ceil(self.n / batch_size)
        self.optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(first.optimizer))
        self.optimizer.build(self.network.variables)
        self.loss_sum = tf.Variable(tf.zeros([self.runs]), trainable=False)
        self.correct = tf.Variable(tf.zeros([self.runs]), trainable=False)
        self.train_steps = tf.function(self._train_steps)
        self.evaluate_batch = tf.function(self._evaluate_batch)
        self.evaluation_batch = max(64, EVALUATION_EXAMPLES["image" if len(self.shape) == 3 else "flat"] // self.runs)

    def _train_steps(self, order, first, last):
        """Steps ``first`` to ``last - 1`` of an epoch; ``order`` (R, n) holds each run's batch order.
        The epoch's loss and correct counts accumulate in ``loss_sum`` and ``correct``."""
        network, variables = self.network, self.network.variables
        for step in tf.range(first, last):
            idx = order[:, step * self.batch_size : (step + 1) * self.batch_size]
            xb, yb = tf.gather(self.x, idx), tf.gather(self.y, idx)
            with tf.GradientTape() as tape:
                outputs = network(xb, training=True)
                per_run = tf.reduce_mean(self.loss(yb, outputs), axis=-1)
                total = tf.reduce_sum(per_run)  # each run's gradient is that of its own loss
            grads = tape.gradient(total, variables)
            self.optimizer.apply(grads, variables)
            self.loss_sum.assign_add(per_run * tf.cast(tf.shape(idx)[1], tf.float32))
            self.correct.assign_add(_accuracy_counts(yb, outputs, self.one_hot))

    def _evaluate_batch(self, x, y):
        outputs = self.network(x, training=False)
        yr = tf.broadcast_to(y[None], tf.concat([[self.runs], tf.shape(y)], axis=0))
        return tf.reduce_sum(self.loss(yr, outputs), axis=-1), _accuracy_counts(yr, outputs, self.one_hot)

    def train_epoch(self, order: np.ndarray, progress: Progress | None = None, epoch: int = 1):
        """One epoch; returns each run's mean training loss and accuracy over the epoch (as ``fit``
        reports them: dropout active, weights changing during the epoch)."""
        self.loss_sum.assign(tf.zeros([self.runs]))
        self.correct.assign(tf.zeros([self.runs]))
        order = tf.constant(order)
        chunk = math.ceil(self.steps / PROGRESS_UPDATES) if progress is not None and progress.live else self.steps
        for first in range(0, self.steps, chunk):
            last = min(first + chunk, self.steps)
            self.train_steps(order, tf.constant(first), tf.constant(last))
            if progress is not None:
                progress.update(epoch, last)
        return self.loss_sum.numpy() / self.n, self.correct.numpy() / self.n

    def evaluate(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        """Each run's mean loss and accuracy on ``(x, y)``, as ``model.evaluate`` computes them."""
        x = np.asarray(x, dtype="float32").reshape(len(x), *self.shape)
        y = _targets(y, self.one_hot)
        loss_total, correct_total = np.zeros(self.runs), np.zeros(self.runs)
        for start in range(0, len(x), self.evaluation_batch):
            stop = start + self.evaluation_batch
            loss, correct = self.evaluate_batch(tf.constant(x[start:stop]), tf.constant(y[start:stop]))
            loss_total += loss.numpy()
            correct_total += correct.numpy()
        return loss_total / len(x), correct_total / len(x)


def train_stacked(
    models: list[keras.Model],
    train,
    *,
    epochs: int,
    evaluate: dict,
    batch_size: int,
    seeds: list[int],
    verbose: bool = True,
    labels: list[str] | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Train the freshly built, compiled ``models`` (one per run) together; see :mod:`cnnlab.stacked`.

    ``seeds[r]`` drives run r's batch order. The trained weights and batch-norm statistics are
    written back into ``models``. ``labels`` name the runs in the printed lines (default
    ``run r/R``). ``progress`` shows the live progress line (default: with ``verbose``). Returns
    the tidy frame (run, epoch, split, metric, value).
    """
    x, y = train
    runs = len(models)
    trainer = StackedTrainer(models, x, y, batch_size)
    labels = labels or [f"run {r + 1}/{runs}" for r in range(runs)]
    line = Progress(f"{runs} runs stacked", epochs, trainer.steps, enabled=verbose if progress is None else progress)
    generators = [np.random.default_rng(seed) for seed in seeds]
    rows = []
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        order = np.stack([g.permutation(trainer.n) for g in generators]).astype("int32")
        scores = {"train": trainer.train_epoch(order, line, epoch)}
        scores.update({name: trainer.evaluate(xe, ye) for name, (xe, ye) in evaluate.items()})
        for split, (loss, accuracy) in scores.items():
            for r in range(runs):
                rows.append((r, epoch, split, "loss", float(loss[r])))
                rows.append((r, epoch, split, "accuracy", float(accuracy[r])))
    seconds = time.perf_counter() - start
    trainer.network.copy_to(models)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    summary = f"({runs} runs trained together in one graph: {epochs} epochs, {seconds:.1f} s)"
    shown = line.finish(summary)
    if verbose:
        last = frame[(frame.epoch == epochs) & (frame.metric == "accuracy")]
        for r in range(runs):
            scores = ", ".join(f"{row.split} accuracy {row.value:.4f}" for row in last[last.run == r].itertuples())
            print(f"{labels[r]}: {scores}")
        if not shown:
            print(summary)
    return frame
