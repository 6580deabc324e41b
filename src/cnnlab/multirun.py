"""Repeated independent runs: train R freshly initialised models and return every learning curve
as one tidy DataFrame (:mod:`cnnlab.tidy`).

:func:`repeated_runs` chooses how: models that :mod:`cnnlab.stacked` supports are trained together
in one compiled graph, every other model run after run with ``model.fit``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Callable, Mapping

import keras
import numpy as np
import pandas as pd

from . import stacked
from .recorders import EvaluateEachEpoch
from .config import seed_everything
from .tidy import COLUMNS, history_frame

# Batches per call into the compiled training graph when a run is trained with ``fit``. Small
# models spend most of a step in Python overhead; running 50 steps per call gives the same
# numbers several times faster.
STEPS_PER_EXECUTION = 50


def run_seed(seed: int, run: int) -> int:
    """The seed of run ``run`` of an experiment seeded with ``seed`` (independent streams)."""
    return int(np.random.SeedSequence([seed, run]).generate_state(1)[0])


@contextlib.contextmanager
def quiet_retracing():
    """Silence TensorFlow's "triggered tf.function retracing" warning: every fresh model traces
    its own training function, which is expected when many models are built in a loop."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_pair(name: str, data) -> tuple[np.ndarray, np.ndarray]:
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
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if runs < 1 or epochs < 1:
        raise ValueError(f"runs and epochs must be at least 1, got runs={runs}, epochs={epochs}")
    train = check_pair("train", train)
    evaluate = {name: check_pair(f"evaluate[{name!r}]", data) for name, data in (evaluate or {}).items()}
    start = time.perf_counter()
    with quiet_retracing():
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
