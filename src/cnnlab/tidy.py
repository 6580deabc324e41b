"""Tidy result tables: every learning curve in the workbook is a DataFrame with the columns
``run, epoch, split, metric, value`` (one row per number), which :mod:`cnnlab.plots` draws and
pandas summarises. This module makes such tables from Keras histories and reads them back.
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["run", "epoch", "split", "metric", "value"]


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


def final(frame: pd.DataFrame, metric: str = "accuracy") -> pd.DataFrame:
    """The last epoch of every run: one row per run, one column per split."""
    rows = frame[(frame.metric == metric) & (frame.epoch == frame.epoch.max())]
    return rows.pivot(index="run", columns="split", values="value")


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


def run_summary(frame: pd.DataFrame, split: str = "test", metric: str = "accuracy", dead=None) -> pd.Series:
    """What several runs reached on ``split``: the mean over runs after the first and after the last
    epoch, and the last epoch's value of the worst and of the best run (keys ``first``, ``last``,
    ``worst``, ``best``), and the number of runs (``runs``).

    ``dead``, one count per run (of dead units, say), adds ``dead_runs``: how many runs have at
    least one."""
    rows = frame[(frame.split == split) & (frame.metric == metric)]
    if rows.empty:
        raise ValueError(f"no {metric} on split {split!r} in the frame (splits: {sorted(frame.split.unique())})")
    curves = rows.pivot(index="epoch", columns="run", values="value")
    summary = {"first": curves.iloc[0].mean(), "last": curves.iloc[-1].mean(), "worst": curves.iloc[-1].min(),
               "best": curves.iloc[-1].max(), "runs": curves.shape[1]}
    if dead is not None:
        if len(dead) != curves.shape[1]:
            raise ValueError(f"got {len(dead)} dead-unit counts for {curves.shape[1]} runs")
        summary["dead_runs"] = sum(int(count) > 0 for count in dead)
    return pd.Series(summary, name=f"{split} {metric}", dtype=object)


def per_run(frame: pd.DataFrame, epoch: int | str = "last", split: str = "test",
            metric: str = "accuracy") -> pd.Series:
    """Each run's value of ``metric`` on ``split`` after ``epoch`` (a number from 1, or ``"last"``),
    indexed by run: the per-run values :func:`cnnlab.noise.compare` takes."""
    rows = frame[(frame.split == split) & (frame.metric == metric)]
    if rows.empty:
        raise ValueError(f"no {metric} on split {split!r} in the frame (splits: {sorted(frame.split.unique())})")
    at = rows.epoch.max() if epoch == "last" else epoch
    if at not in set(rows.epoch):
        raise ValueError(f"no epoch {epoch!r} in the frame: epochs run from 1 to {rows.epoch.max()}")
    return rows[rows.epoch == at].set_index("run").value.rename(f"{split} {metric}, epoch {at}")


def overfitting(frame: pd.DataFrame, train: str = "train", validation: str = "validation") -> pd.DataFrame:
    """How far each run of a tidy frame overfits: one row per run.

    Columns: ``best epoch`` (of the lowest validation loss; the earliest on ties), ``lowest
    validation loss``, ``final validation loss``, ``rise after best`` (final minus lowest
    validation loss), ``loss gap`` (validation minus ``train`` loss at the last epoch), ``accuracy
    gap`` (``train`` minus validation accuracy at the last epoch) and ``final validation
    accuracy``. ``train`` names the split measured on training images; measure it the way the
    validation set is measured (in inference mode), not with Keras's running averages.
    """
    rows = {}
    for run, runs in frame.groupby("run", sort=True):
        curves = runs.pivot_table(index="epoch", columns=["split", "metric"], values="value")
        missing = [(s, m) for s in (train, validation) for m in ("loss", "accuracy") if (s, m) not in curves]
        if missing:
            raise ValueError(f"run {run!r} lacks {missing}: evaluate both splits' loss and accuracy every epoch")
        val_loss, last = curves[validation, "loss"], curves.index.max()
        rows[run] = {"best epoch": int(val_loss.idxmin()), "lowest validation loss": val_loss.min(),
                     "final validation loss": val_loss[last], "rise after best": val_loss[last] - val_loss.min(),
                     "loss gap": val_loss[last] - curves.loc[last, (train, "loss")],
                     "accuracy gap": curves.loc[last, (train, "accuracy")] - curves.loc[last, (validation, "accuracy")],
                     "final validation accuracy": curves.loc[last, (validation, "accuracy")]}
    return pd.DataFrame(rows).T.astype({"best epoch": int}).rename_axis("run")


def summary(frames, metric: str = "accuracy", validation: str = "validation") -> pd.DataFrame:
    """One row per named run of a ``{name: tidy frame}`` mapping (one run per frame): the last
    epoch's training and validation ``metric``, the best validation value and the (earliest) epoch
    it was reached. The training value is what ``fit`` reports, the mean over the epoch."""
    rows = {}
    for name, frame in frames.items():
        if frame["run"].nunique() != 1:
            raise ValueError(f"{name!r} holds {frame['run'].nunique()} runs; summary() takes one run per name")
        curve = frame[frame.metric == metric].pivot(index="epoch", columns="split", values="value")
        if validation not in curve.columns or "train" not in curve.columns:
            raise ValueError(f"{name!r} has no train and {validation} {metric}: train with validation data")
        rows[name] = {f"train {metric}": curve["train"].iloc[-1], f"{validation} {metric}": curve[validation].iloc[-1],
                      f"best {validation} {metric}": curve[validation].max(),
                      "best epoch": int(curve[validation].idxmax())}
    return pd.DataFrame.from_dict(rows, orient="index").astype({"best epoch": int})


def epochs_to_reach(curves: pd.DataFrame, target: float) -> pd.Series:
    """For every column of ``curves`` (one curve per run, indexed by epoch), the first epoch at
    which it reaches ``target`` or more; NaN for a curve that never does."""
    reached = curves.ge(target)
    first = reached.idxmax().astype(float)
    return first.where(reached.any())
