"""Plots used across the workbook. Every function returns the matplotlib ``Figure`` it drew,
with titled, labelled axes; learning-curve plots read the tidy frames of :mod:`cnnlab.tidy`.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import pandas as pd
import seaborn as sns

METRIC_LABELS = {"accuracy": "accuracy", "loss": "loss"}


def image_grid(images: np.ndarray, titles: Sequence[str] | None = None, ncols: int = 5,
               size: float = 1.7, cmap: str = "gray") -> plt.Figure:
    """Images in a grid, each with an optional title (grey images shown with ``cmap``)."""
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"expected images of shape (N, H, W) or (N, H, W, C), got {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    nrows = int(np.ceil(len(images) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.12), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=9)
    fig.tight_layout()
    return fig


def _axes(ax, figsize=(5, 3.5)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    return ax.figure, ax


def run_curves(frame: pd.DataFrame, metric: str = "accuracy", split: str = "train", ax=None,
               title: str | None = None) -> plt.Figure:
    """One line per run: ``metric`` on ``split`` against the epoch."""
    data = frame[(frame.metric == metric) & (frame.split == split)]
    if data.empty:
        raise ValueError(f"no rows with metric={metric!r} and split={split!r} in the frame "
                         f"(splits: {sorted(frame.split.unique())}, metrics: {sorted(frame.metric.unique())})")
    fig, ax = _axes(ax)
    for run, rows in data.groupby("run"):
        ax.plot(rows.epoch, rows.value, marker=".", lw=1, alpha=0.8, label=f"run {run + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{split} {METRIC_LABELS.get(metric, metric)}")
    ax.set_title(title or f"{split} {metric}, {data.run.nunique()} runs")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    return fig


def runs_grid(frame: pd.DataFrame, metrics: Sequence[str] = ("accuracy",),
              splits: Sequence[str] = ("train", "test"), title: str | None = None,
              sharey: bool = True) -> plt.Figure:
    """:func:`run_curves` for every (metric, split): one row per metric, one column per split."""
    fig, axes = plt.subplots(len(metrics), len(splits), figsize=(4.6 * len(splits), 3.3 * len(metrics)),
                             squeeze=False, sharey="row" if sharey else False)
    for i, metric in enumerate(metrics):
        for j, split in enumerate(splits):
            run_curves(frame, metric, split, ax=axes[i, j], title=f"{split} {metric}")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def learning_curves(frame: pd.DataFrame, metrics: Sequence[str] = ("accuracy", "loss"),
                    title: str | None = None, hue: str = "split") -> plt.Figure:
    """One panel per metric, one line per ``hue`` value (by default train vs validation/test);
    with several runs, the line is the mean and the band the standard deviation."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.8 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        data = frame[frame.metric == metric]
        if data.empty:
            raise ValueError(f"no rows with metric={metric!r} in the frame")
        sns.lineplot(data=data, x="epoch", y="value", hue=hue, marker="o", errorbar="sd", ax=ax)
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def sweep(frame: pd.DataFrame, x: str, y: str = "value", hue: str | None = "split",
          log2: bool = False, xlabel: str | None = None, ylabel: str | None = None,
          title: str | None = None, ax=None) -> plt.Figure:
    """A result against a swept setting: mean over runs with a ±1 standard deviation band."""
    fig, ax = _axes(ax, figsize=(5.5, 3.6))
    sns.lineplot(data=frame, x=x, y=y, hue=hue, marker="o", errorbar="sd", ax=ax)
    if log2:
        ax.set_xscale("log", base=2)
        ticks = sorted(frame[x].unique())
        ax.set_xticks(ticks, [str(t) for t in ticks])
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    return fig



def sweep_curves(frame: pd.DataFrame, by: str, y: str = "mse", log_base: float | None = None,
                 ylabel: str = "MSE", title: str | None = None) -> plt.Figure:
    """A sweep of one setting in two panels: the curves of every value of ``by`` against the
    iteration (one colour per value, one line style per split, log scale), then the final ``y``
    against the setting, one line per split. ``frame`` is tidy: ``iteration``, ``split``, ``y``
    and the column ``by``; ``log_base`` puts the setting on a log axis ticked at its values."""
    values = sorted(frame[by].unique())
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    palette = dict(zip(values, sns.color_palette("viridis", len(values))))
    sns.lineplot(data=frame, x="iteration", y=y, hue=by, style="split", palette=palette, ax=axes[0])
    axes[0].set_yscale("log")
    axes[0].yaxis.set_major_locator(ticker.LogLocator(subs=(1, 2, 5)))  # 0.5, 1, 2, 5 ...
    axes[0].yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    axes[0].yaxis.set_minor_formatter(ticker.NullFormatter())
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel(ylabel)
    axes[0].set_title(f"Curves per {by}")
    axes[0].grid(alpha=0.3)
    sns.move_legend(axes[0], "upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    last = frame[frame.iteration == frame.iteration.max()]
    sweep(last, x=by, y=y, hue="split", ylabel=f"final {ylabel}", title=f"Final {ylabel} against {by}",
          ax=axes[1])
    if log_base:
        axes[1].set_xscale("log", base=log_base)
        axes[1].set_xticks(values, [f"{v:g}" for v in values])
        axes[1].minorticks_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig

def confusion_matrix(y_true, y_pred, class_names: Sequence[str] | None = None,
                     title: str = "Confusion matrix", ax=None) -> plt.Figure:
    """Counts of (true class, predicted class): rows are the true class, columns the prediction."""
    from sklearn.metrics import confusion_matrix as counts

    labels = np.arange(len(class_names)) if class_names is not None else None
    matrix = counts(np.ravel(y_true), np.ravel(y_pred), labels=labels)
    names = class_names if class_names is not None else [str(i) for i in range(len(matrix))]
    fig, ax = _axes(ax, figsize=(6.5, 5.5))
    sns.heatmap(pd.DataFrame(matrix, index=names, columns=names), annot=True, fmt="d", cmap="Blues",
                cbar=False, ax=ax, annot_kws={"fontsize": 8})
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title)
    return fig


def per_class_accuracy(table: pd.DataFrame, title: str = "Accuracy per class", ax=None,
                       chance: float | None = None) -> plt.Figure:
    """Grouped bars: one group per class (the rows of ``table``), one bar per model (its columns).

    ``table`` is e.g. ``pd.DataFrame({"CNN": diagnostics.per_class_accuracy(...), "MLP": ...})``.
    ``chance`` draws a dashed line at that accuracy (0.1 for ten balanced classes).
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError("expected a DataFrame with one row per class and one column per model")
    fig, ax = _axes(ax, figsize=(max(6.0, 0.75 * len(table) + 1.5), 3.6))
    long = table.rename_axis("class").reset_index().melt(id_vars="class", var_name="model",
                                                         value_name="accuracy")
    sns.barplot(data=long, x="class", y="accuracy", hue="model", ax=ax)
    if chance is not None:
        ax.axhline(chance, color="gray", ls="--", lw=1, label="chance")
    ax.set_xlabel("class")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize=8, ncols=min(len(table.columns) + (chance is not None), 4))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def probability_panels(images: np.ndarray, probabilities, class_names: Sequence[str],
                       labels=None, title: str | None = None, size: float = 2.4) -> plt.Figure:
    """One row per image: the image, and beside it a bar chart of its predicted class probabilities.

    ``probabilities`` is ``(N, classes)`` (a DataFrame with class-name columns works too), with
    one name per class in ``class_names`` on the bar axis; the predicted class's bar is
    highlighted and, when the true ``labels`` are given, the true class is named above the image
    and set in bold on the bar axis.
    """
    images = np.asarray(images)
    probabilities = np.asarray(probabilities, dtype=float)
    if images.ndim not in (3, 4):
        raise ValueError(f"expected images of shape (N, H, W) or (N, H, W, C), got {images.shape}")
    if probabilities.shape != (len(images), len(class_names)):
        raise ValueError(f"expected probabilities of shape (N, classes) = ({len(images)}, {len(class_names)}) "
                         f"for {len(images)} images and {len(class_names)} class names, got {probabilities.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"got {len(images)} images but {len(labels)} labels")
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    fig, axes = plt.subplots(len(images), 2, figsize=(2.6 * size, size * len(images)), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 1.6]})
    positions = np.arange(len(class_names))
    for i, (image_ax, bar_ax) in enumerate(axes):
        image_ax.imshow(images[i], cmap="gray" if images.ndim == 3 else None)
        image_ax.set_xticks([])
        image_ax.set_yticks([])
        image_ax.set_title(f"true: {class_names[int(labels[i])]}" if labels is not None else f"image {i + 1}",
                           fontsize=9)
        predicted = int(probabilities[i].argmax())
        colours = ["tab:blue" if c == predicted else "lightgray" for c in positions]
        bar_ax.barh(positions, probabilities[i], color=colours)
        bar_ax.set_yticks(positions, list(class_names), fontsize=8)
        if labels is not None:  # the true class's name in bold
            bar_ax.get_yticklabels()[int(labels[i])].set_fontweight("bold")
        bar_ax.invert_yaxis()
        bar_ax.set_xlim(0, 1)
        bar_ax.set_xlabel("probability")
        bar_ax.set_ylabel("class")
        bar_ax.set_title(f"predicted: {class_names[predicted]} ({probabilities[i, predicted]:.2f})", fontsize=9)
        bar_ax.grid(axis="x", alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def named_curves(frame: pd.DataFrame, metric: str = "accuracy", split: str = "validation",
                 title: str | None = None, legend_title: str = "setting", ax=None) -> plt.Figure:
    """One line per named run (e.g. one per setting or optimizer): ``metric`` on ``split`` against
    the epoch, in the order the runs first appear, with the legend beside the axes."""
    data = frame[(frame.metric == metric) & (frame.split == split)]
    if data.empty:
        raise ValueError(f"no rows with metric={metric!r} and split={split!r} in the frame "
                         f"(splits: {sorted(frame.split.unique())}, metrics: {sorted(frame.metric.unique())})")
    fig, ax = _axes(ax, figsize=(9, 4.2))
    markers = "osD^vP*Xhp"
    for i, (run, rows) in enumerate(data.groupby("run", sort=False)):
        ax.plot(rows.epoch, rows.value, marker=markers[i % len(markers)], ms=4, lw=1.4, alpha=0.85,
                ls="-" if i < 10 else "--", label=str(run))
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{split} {METRIC_LABELS.get(metric, metric)}")
    ax.set_title(title or f"{split} {metric} per epoch")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    ax.legend(title=legend_title, fontsize=8, bbox_to_anchor=(1.02, 1), loc="upper left")
    fig.tight_layout()
    return fig


def training_log(log, metrics: Sequence[str] = ("loss", "accuracy"), title: str | None = None) -> plt.Figure:
    """One panel per metric of a :class:`~cnnlab.recorders.TrainingLog`: the running mean of every
    ``log.every`` training steps (thin line, at the point of training it was recorded), the
    training mean over each epoch and the validation value at the end of each epoch."""
    if log.epochs.empty:
        raise ValueError("the log is empty: pass it to fit(callbacks=[log]) and train first")
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.8), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        if f"val_{metric}" not in log.epochs:
            raise ValueError(f"the log has no val_{metric}: train with validation_data")
        ax.plot(log.steps["epoch"], log.steps[metric], lw=1, alpha=0.6,
                label=f"training, every {log.every} steps")
        ax.plot(log.epochs["epoch"], log.epochs[metric], "o-", label="training, mean over the epoch")
        ax.plot(log.epochs["epoch"], log.epochs[f"val_{metric}"], "s-", label="validation, end of epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
