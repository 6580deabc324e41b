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
