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


def epochs_to_reach(curves: pd.DataFrame, target: float) -> pd.Series:
    """For every column of ``curves`` (one curve per run, indexed by epoch), the first epoch at
    which it reaches ``target`` or more; NaN for a curve that never does."""
    reached = curves.ge(target)
    first = reached.idxmax().astype(float)
    return first.where(reached.any())
