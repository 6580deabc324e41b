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
from .config import profile_name, seed_everything
from .progress import Progress
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


class _ShowProgress(keras.callbacks.Callback):
    """Feeds a :class:`~cnnlab.progress.Progress` line from ``fit``'s batch callbacks."""

    def __init__(self, progress: Progress):
        super().__init__()
        self.progress = progress
        self.epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        self.progress.update(self.epoch, batch + 1)


def show_progress(verbose: bool, progress: bool | None = None) -> bool:
    """Whether training shows a live progress line: ``progress`` when given, else with ``verbose``
    and, whatever ``verbose`` says, under the ``full`` profile, whose runs take minutes to hours."""
    return progress if progress is not None else bool(verbose) or profile_name() == "full"


def fit_runs_sequentially(
    build_model, train, *, runs, epochs, evaluate, batch_size, seed, verbose, built=(), labels=None, progress=None
):
    """Train ``runs`` fresh models one after another with ``model.fit``; see :func:`repeated_runs`.

    ``built`` may hold the first models, already built by :func:`build_run` (run 0, 1, ... in
    order); ``labels`` name the runs in the printed lines; ``progress`` as in :func:`show_progress`.
    Returns the tidy frame and the list of trained models.
    """
    live = show_progress(verbose, progress)
    x, y = train
    frames, trained = [], []
    labels = labels or [f"run {run + 1}/{runs}" for run in range(runs)]
    steps = -(-len(x) // batch_size)
    for run in range(runs):
        model = built[run] if run < len(built) else build_run(build_model, seed, run)
        if model.steps_per_execution == 1:
            model.steps_per_execution = STEPS_PER_EXECUTION
        evaluator = EvaluateEachEpoch(evaluate)
        line = Progress(labels[run], epochs, steps, enabled=live)
        start = time.perf_counter()
        history = model.fit(
            x,
            y,
            batch_size=batch_size,
            epochs=epochs,
            shuffle=True,
            verbose=0,
            callbacks=[evaluator, _ShowProgress(line)],
        )
        seconds = time.perf_counter() - start
        frame = history_frame({k: v for k, v in history.history.items() if k in ("loss", "accuracy")}, run)
        extra = pd.DataFrame([(run, *r) for r in evaluator.rows], columns=COLUMNS)
        frames.append(pd.concat([frame, extra], ignore_index=True))
        trained.append(model)
        summary = _run_line(labels[run], frames[-1], seconds)
        if not line.finish(summary) and verbose:
            print(summary)
    return pd.concat(frames, ignore_index=True), trained


def _run_line(label: str, frame: pd.DataFrame, seconds: float) -> str:
    last = frame[(frame.epoch == frame.epoch.max()) & (frame.metric == "accuracy")]
    scores = ", ".join(f"{row.split} accuracy {row.value:.4f}" for row in last.itertuples())
    return f"{label}: {scores} ({seconds:.1f} s)"


METHODS = ("auto", "stacked", "sequential")


def _check(method: str, runs: int, epochs: int, train, evaluate):
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
    if runs < 1 or epochs < 1:
        raise ValueError(f"runs and epochs must be at least 1, got runs={runs}, epochs={epochs}")
    train = check_pair("train", train)
    evaluate = {name: check_pair(f"evaluate[{name!r}]", data) for name, data in (evaluate or {}).items()}
    return train, evaluate


def _why_not_stacked(method: str, first: keras.Model, total_runs: int) -> tuple[str | None, bool]:
    """(why the runs of ``first``'s kind are not stacked, whether that is a fallback: a model the
    engine cannot reproduce rather than a choice of speed or of the caller)."""
    if method == "sequential":
        return "method='sequential' was requested", False
    reason = stacked.unsupported_reason(first)
    if reason is None and method == "auto":
        return stacked.not_preferred_reason(first, total_runs), False
    return reason, reason is not None


def repeated_runs(
    build_model: Callable[[], keras.Model],
    train,
    *,
    runs: int,
    epochs: int,
    evaluate: Mapping[str, tuple] | None = None,
    batch_size: int = 32,
    seed: int = 0,
    verbose: bool = True,
    models: bool = False,
    method: str = "auto",
    progress: bool | None = None,
):
    """Train ``runs`` independently initialised models and return every learning curve.

    ``build_model()`` must return a freshly built, compiled model; it is called once per run
    after seeding with :func:`run_seed`, so run ``r`` has its own initial weights (and its own
    dropout and augmentation seeds), and calling again with the same ``seed`` reproduces every
    number. ``train`` is ``(x, y)``; ``evaluate`` maps a split name (e.g. ``"test"``) to ``(x, y)``
    evaluated after every epoch.

    How the runs are trained is chosen automatically (``method="auto"``): where
    :mod:`cnnlab.stacked` supports the model and measured stacking to be no slower
    (:func:`cnnlab.stacked.preferred`, whose docstring has the rules and numbers), all runs train
    together in one compiled graph, each with its own initial weights, batch order, dropout masks,
    batch-norm statistics and optimizer state; every other model is trained run after run with
    ``model.fit`` (with ``verbose``, a line says why). ``method="stacked"`` forces the stacked path
    (a ``ValueError`` says why a model cannot take it) and ``"sequential"`` the ``fit`` path.

    Returns a tidy DataFrame with columns ``run, epoch, split, metric, value``; split ``"train"``
    holds the running averages over each epoch, as ``fit`` reports them. ``frame.attrs`` holds
    ``"seconds"`` (wall time of the experiment), ``"method"`` (the path taken) and ``"reason"``
    (why the runs were not stacked, or ``None``). With ``models=True`` the result is
    ``(frame, models)``, the trained Keras models in run order.

    Training shows a live progress line in a notebook or terminal (:mod:`cnnlab.progress`; the
    built book keeps its final state, one line) with ``verbose``, and under the ``full`` profile
    even with ``verbose=False``; ``progress=True``/``False`` decides instead.
    """
    frames = compare_runs(
        {None: build_model},
        train,
        runs=runs,
        epochs=epochs,
        evaluate=evaluate,
        batch_size=batch_size,
        seed=seed,
        verbose=verbose,
        models=models,
        method=method,
        progress=progress,
    )
    return frames[None]


def compare_runs(
    builds: Mapping[object, Callable[[], keras.Model]],
    train,
    *,
    runs: int,
    epochs: int,
    evaluate: Mapping[str, tuple] | None = None,
    batch_size: int = 32,
    seed: int = 0,
    verbose: bool = True,
    models: bool = False,
    method: str = "auto",
    progress: bool | None = None,
) -> dict:
    """:func:`repeated_runs` for several settings at once: ``{key: repeated_runs(build, ...)}`` for
    every ``key, build`` in ``builds``, with the same seeds, but trained in one stacked graph when
    the models differ only in their dropout rates (a rate sweep) and are otherwise stacked.

    Every setting's run ``r`` is seeded with :func:`run_seed` ``(seed, r)``, as in
    :func:`repeated_runs`, so settings start from the same initial weights and batch orders
    wherever their builders draw them alike. Returns ``{key: frame}`` (``{key: (frame, models)}``
    with ``models=True``); each frame has the columns and ``attrs`` of :func:`repeated_runs` (when
    the settings trained together, ``attrs["seconds"]`` is the time of the whole comparison). The
    automatic choice counts every setting's runs: three rates of one run each stack like three runs.
    """
    train, evaluate = _check(method, runs, epochs, train, evaluate)
    builds = dict(builds)
    keys = list(builds)
    names = {
        key: [f"run {run + 1}/{runs}" if key is None else f"{key}, run {run + 1}/{runs}" for run in range(runs)]
        for key in keys
    }
    start = time.perf_counter()
    results = {}
    with quiet_retracing():
        first = build_run(builds[keys[0]], seed, 0)
        built = {keys[0]: [first]}  # fit draws from the global random state right after building
        reason, fallback = _why_not_stacked(method, first, len(keys) * runs)
        if reason is None:  # every run's model, to check that they differ only in rates and seeds
            built = {
                key: [build_run(build, seed, run) if run or key != keys[0] else first for run in range(runs)]
                for key, build in builds.items()
            }
            reason = stacked.mismatch_reason([model for key in keys for model in built[key]])
            fallback = reason is not None
            if fallback:
                built = {}  # rebuilt just before each fit, as repeated_runs would
        if method == "stacked" and reason:
            raise ValueError(f"cannot train these runs stacked: {reason}")
        if verbose and fallback:
            print(f"training run after run with model.fit: {reason}")
        if reason is None:
            everything = [model for key in keys for model in built[key]]
            seeds = [run_seed(seed, run) for _ in keys for run in range(runs)]
            frame = stacked.train_stacked(
                everything,
                train,
                epochs=epochs,
                evaluate=evaluate,
                batch_size=batch_size,
                seeds=seeds,
                verbose=verbose,
                labels=[name for key in keys for name in names[key]],
                progress=show_progress(verbose, progress),
            )
            seconds = time.perf_counter() - start
            for i, key in enumerate(keys):
                part = frame[frame.run.between(i * runs, (i + 1) * runs - 1)].assign(
                    run=lambda f, i=i: f.run - i * runs
                )
                results[key] = (part.reset_index(drop=True), built[key], seconds)
        else:
            for key, build in builds.items():
                frame, trained = fit_runs_sequentially(
                    build,
                    train,
                    runs=runs,
                    epochs=epochs,
                    evaluate=evaluate,
                    batch_size=batch_size,
                    seed=seed,
                    verbose=verbose,
                    built=built.get(key, []),
                    labels=names[key],
                    progress=progress,
                )
                results[key] = (frame, trained, time.perf_counter() - start)
                start = time.perf_counter()
    out = {}
    for key, (frame, trained, seconds) in results.items():
        frame.attrs.update(seconds=seconds, method="stacked" if reason is None else "sequential", reason=reason)
        out[key] = (frame, trained) if models else frame
    return out
