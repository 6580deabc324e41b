"""Words the notebooks' prose quotes about a result, chosen from the numbers (with
:mod:`cnnlab.noise` wherever two results are compared), so that a sentence stays true under every
profile: what a training run's learning curves show, how a single prediction reads.
"""

from __future__ import annotations

import pandas as pd

from . import noise

CURVE_COLUMNS = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy")


def learning_curves(epochs: pd.DataFrame, *, n_train: int, n_validation: int) -> dict:
    """Read the per-epoch curves of one training run (a ``TrainingLog.epochs`` table, or a Keras
    history as a DataFrame with an ``epoch`` column).

    Returns the numbers and words a discussion of the curves quotes:

    * ``val_best``, ``best_epoch``, ``val_last``: the best and the last validation accuracy;
      ``last_vs_best``: the last compared with the best on ``n_validation`` images (``"within
      noise of"`` or ``"below"``);
    * ``plateau_epoch``: the first epoch whose validation accuracy is within noise of the best;
      ``train_rise``: how much the training accuracy (mean over an epoch of ``n_train`` images)
      rose from that epoch to the last; ``train_rise_words``: ``"rose"`` when beyond noise, else
      ``"did not rise beyond noise"``;
    * ``gap_first``, ``gap_last``: training minus validation accuracy after the first and last
      epoch;
    * ``loss_words``: where the validation loss was lowest and how far it ended above that;
    * ``stage``: ``"overfitting"`` (the validation accuracy fell beyond noise from its best),
      ``"past its best"`` (the validation accuracy stayed within noise of its best from the
      plateau epoch on while the training accuracy kept rising beyond noise) or ``"still
      learning"``; ``verdict``: a sentence that says so with the numbers.
    """
    missing = [c for c in CURVE_COLUMNS if c not in epochs.columns]
    if missing:
        raise ValueError(f"the curves need the columns {list(CURVE_COLUMNS)}; missing {missing}: train "
                         "with validation_data and metrics=['accuracy']")
    frame = epochs.set_index("epoch")
    val, train = frame["val_accuracy"], frame["accuracy"]
    best, best_epoch, last_epoch = float(val.max()), int(val.idxmax()), int(frame.index[-1])
    last_vs_best = noise.compare(val.iloc[-1], best, n=n_validation)
    plateau = next(int(e) for e, v in val.items() if not noise.compare(v, best, n=n_validation).beyond)
    rise = noise.compare(train.iloc[-1], train.loc[plateau], n=n_train)
    lowest = int(frame["val_loss"].idxmin())
    loss_rise = float(frame["val_loss"].iloc[-1] - frame["val_loss"].min())
    if lowest == last_epoch:
        loss_words = "was lowest after the last epoch"
    else:
        loss_words = f"was lowest after epoch {lowest} and ended {loss_rise:.3f} above that minimum"
    if last_vs_best.beyond:
        stage = "overfitting"
        verdict = (f"the validation accuracy fell from its best, {best:.3f} after epoch {best_epoch}, to "
                   f"{val.iloc[-1]:.3f}, a drop beyond noise, while the training accuracy changed by "
                   f"{train.iloc[-1] - train.loc[best_epoch]:+.3f}: the network overfits")
    elif plateau < last_epoch and rise.beyond and rise.difference > 0:
        stage = "past its best"
        verdict = (f"from epoch {plateau} on, the validation accuracy stayed within noise of its best "
                   f"({best:.3f}, after epoch {best_epoch}) while the training accuracy rose by another "
                   f"{rise.difference:.3f}: the network fits its training images ever better without getting "
                   "better on new ones, which is overfitting")
    elif best_epoch == last_epoch:
        stage = "still learning"
        verdict = (f"the validation accuracy was highest after the last epoch, {best:.3f}: no sign of "
                   "overfitting yet, and more epochs could help")
    else:
        stage = "still learning"
        verdict = (f"the validation accuracy ended within noise of its best ({best:.3f} after epoch "
                   f"{best_epoch}) and the training accuracy did not rise beyond noise after epoch {plateau}: "
                   "no clear sign of overfitting yet")
    return {
        "val_best": best, "best_epoch": best_epoch, "val_last": float(val.iloc[-1]),
        "last_vs_best": last_vs_best.says("above", "below", "within noise of"), "plateau_epoch": plateau,
        "train_rise": rise.difference,
        "train_rise_words": "rose" if rise.beyond and rise.difference > 0 else "did not rise beyond noise",
        "gap_first": float(train.iloc[0] - val.iloc[0]), "gap_last": float(train.iloc[-1] - val.iloc[-1]),
        "loss_words": loss_words, "stage": stage, "verdict": verdict,
    }


def prediction(probabilities: pd.Series, truth: str) -> str:
    """One prediction in words: ``"0.97 for ship, right, with airplane second at 0.02"``.

    ``probabilities`` holds one image's class probabilities indexed by class name; ``truth`` is
    the name of its true class.
    """
    if truth not in probabilities.index:
        raise ValueError(f"the true class {truth!r} is not among the classes {list(probabilities.index)}")
    if len(probabilities) < 2:
        raise ValueError("a prediction needs at least two classes")
    ranked = probabilities.sort_values(ascending=False)
    verdict = "right" if ranked.index[0] == truth else f"wrong (it is a {truth})"
    return f"{ranked.iloc[0]:.2f} for {ranked.index[0]}, {verdict}, with {ranked.index[1]} second at {ranked.iloc[1]:.2f}"


def confusions(y_true, y_pred, class_names, top: int = 3) -> str:
    """The ``top`` pairs of classes most often mistaken for each other (both directions counted,
    from :func:`sklearn.metrics.confusion_matrix`), in words: ``"cat and dog (41), ..."``."""
    import numpy as np
    from sklearn.metrics import confusion_matrix

    names = list(class_names)
    matrix = confusion_matrix(np.ravel(y_true), np.ravel(y_pred), labels=np.arange(len(names)))
    mixed = np.triu(matrix + matrix.T, k=1)  # pair (i, j), i < j: i taken for j or j for i
    order = np.argsort(mixed, axis=None, kind="stable")[::-1][:top]
    pairs = [np.unravel_index(flat, mixed.shape) for flat in order]
    pairs = [(i, j) for i, j in pairs if mixed[i, j] > 0]
    if not pairs:
        return "no pair of classes (every prediction is right)"
    return ", ".join(f"{names[i]} and {names[j]} ({mixed[i, j]})" for i, j in pairs)
