"""Keras callbacks that record what the notebooks plot: evaluation after every epoch, evaluation
every few batches (with an early stop at an accuracy), and a training log every N steps.
"""

from __future__ import annotations

import time
from typing import Mapping

import keras
import numpy as np
import pandas as pd

from .tidy import history_frame


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
