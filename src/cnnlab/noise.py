"""Is a difference beyond noise? The one place the workbook decides whether one setting beat another.

Two kinds of noise, as the experiment allows:

* several runs of each setting: the **spread over runs**; the noise of a mean is its standard
  error, ``std / sqrt(runs)`` (sample standard deviation);
* one number measured on ``n`` examples (a test accuracy, say): the **standard error of an
  accuracy**, ``sqrt(p (1 - p) / n)``, the binomial sampling noise of the examples drawn.

When a side has both (several runs, each an accuracy on ``n`` examples), the larger of the two is
used, so identical runs never make a difference look exact. The difference of two independent
results has standard error ``sqrt(se_a**2 + se_b**2)``; it is called *beyond noise* when it exceeds
:data:`Z` = 2 such standard errors (about a 95% two-sided interval). Anything smaller is reported
as within noise, whatever its sign.

:func:`compare` returns a :class:`Comparison`; :meth:`Comparison.says` picks the words a sentence
needs and :meth:`Comparison.glue` hands them to the book's prose. :func:`rank` picks the best of
several settings and says whether it beats the runner-up beyond noise. :func:`against_reference`
sets our runs beside one run reported elsewhere (which carries the seed noise of one run), and
:func:`groups` asks whether groups of single runs (permutations, each with the same seeds) differ
beyond the noise of the runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

#: Standard errors a difference must exceed to count as beyond noise.
Z = 2.0


def accuracy_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy ``accuracy`` measured on ``n`` examples: ``sqrt(p(1-p)/n)``."""
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"an accuracy is a share between 0 and 1, got {accuracy}: pass accuracies, "
                         f"not percentages, with n")
    if n is None or n < 1:
        raise ValueError(f"n (the number of examples the accuracy was measured on) must be at least 1, got {n}")
    return math.sqrt(accuracy * (1.0 - accuracy) / n)


@dataclass(frozen=True)
class Side:
    """One side of a comparison: its mean, its standard error and what the error comes from."""

    mean: float
    se: float
    runs: int
    basis: str  # "runs", "examples" or "runs and examples"


def side(values, n: int | None = None) -> Side:
    """Mean and standard error of one result: per-run values (two or more), or one accuracy on
    ``n`` examples, or both."""
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"expected one number or a sequence of per-run numbers, got shape {values.shape}")
    if np.isnan(values).any():
        raise ValueError("a result is NaN: a run diverged or was never measured")
    mean = float(values.mean())
    spread = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    binomial = accuracy_se(mean, n) if n is not None else None
    if spread is None and binomial is None:
        raise ValueError("one number has no noise estimate: give the per-run values of two or more runs, "
                         "or n, the number of examples an accuracy was measured on")
    if spread is not None and binomial is not None:
        return Side(mean, max(spread, binomial), len(values), "runs and examples")
    if spread is not None:
        return Side(mean, spread, len(values), "runs")
    return Side(mean, binomial, len(values), "examples")


@dataclass(frozen=True)
class Comparison:
    """Result ``a`` against result ``b``: ``difference = a - b`` and its standard error ``se``."""

    a: Side
    b: Side

    @property
    def difference(self) -> float:
        return self.a.mean - self.b.mean

    @property
    def se(self) -> float:
        return math.sqrt(self.a.se ** 2 + self.b.se ** 2)

    @property
    def margin(self) -> float:
        """The size a difference must exceed to be beyond noise: ``Z`` standard errors."""
        return Z * self.se

    @property
    def beyond(self) -> bool:
        """True when the difference exceeds ``Z`` standard errors."""
        return abs(self.difference) > self.margin

    def says(self, higher: str = "higher", lower: str = "lower", same: str = "within noise of") -> str:
        """``higher`` or ``lower`` when ``a`` differs from ``b`` beyond noise, else ``same``."""
        if not self.beyond:
            return same
        return higher if self.difference > 0 else lower

    def summary(self, digits: int = 3) -> str:
        """One line for a table or a log: both values, the difference and the noise margin."""
        verdict = "beyond noise" if self.beyond else "within noise"
        return (f"{self.a.mean:.{digits}f} vs {self.b.mean:.{digits}f}: difference "
                f"{self.difference:+.{digits}f}, {verdict} (noise margin ±{self.margin:.{digits}f})")

    def glue(self, key: str, higher: str = "higher", lower: str = "lower", same: str = "within noise of") -> str:
        """Glue the verdict words as ``key``, the difference as ``key_diff``, the margin as
        ``key_margin`` and ``"beyond"``/``"within"`` as ``key_noise``; return the words."""
        from .report import glue

        words = self.says(higher, lower, same)
        glue(key, words)
        glue(f"{key}_diff", self.difference)
        glue(f"{key}_margin", self.margin)
        glue(f"{key}_noise", "beyond" if self.beyond else "within")
        return words


def compare(a, b, *, n: int | None = None, n_b: int | None = None) -> Comparison:
    """Compare result ``a`` with result ``b`` (``a - b``).

    Each is one number or the per-run values of one setting. ``n`` is the number of examples an
    accuracy was measured on (for ``a``, and for ``b`` too unless ``n_b`` is given); it is needed
    when a side is a single number, and it sets a floor under the spread of identical runs. A
    reference figure from elsewhere (one run on the full test set) is a single number with its own
    ``n_b``.
    """
    return Comparison(side(a, n), side(b, n if n_b is None else n_b))


def rank(results: Mapping[str, Sequence[float] | float], *, n: int | None = None) -> tuple[str, Comparison]:
    """The setting with the highest mean result and its :class:`Comparison` with the runner-up.

    ``results`` maps a setting's name to its per-run values (or one number, with ``n``). The
    comparison's :attr:`~Comparison.beyond` says whether the winner is really better or merely
    first.
    """
    if len(results) < 2:
        raise ValueError(f"need at least two settings to rank, got {list(results)}")
    sides = {name: side(values, n) for name, values in results.items()}
    order = sorted(sides, key=lambda name: sides[name].mean, reverse=True)
    return order[0], Comparison(sides[order[0]], sides[order[1]])


def against(values, reference: float, *, n: int | None = None) -> Comparison:
    """Compare a result with an exact value that carries no noise of its own: the chance level of
    a classifier (``1 / classes``, 0.1 for ten balanced classes), a target, a threshold. Only
    ``values`` (per-run values, or one accuracy on ``n`` examples) contributes noise."""
    return Comparison(side(values, n), Side(float(reference), 0.0, 1, "exact"))


@dataclass(frozen=True)
class PairedComparison(Comparison):
    """A :class:`Comparison` of two results measured in pairs: its standard error is that of the
    mean per-pair difference, not that of two independent means."""

    paired_se: float = 0.0

    @property
    def se(self) -> float:
        return self.paired_se


def paired(a, b) -> PairedComparison:
    """Compare two results measured in pairs (``a - b``): the same runs measured twice (run ``r``'s
    test loss and its training loss), or two methods on the same items (the squared errors of two
    predictors on the same test ratings, the 0/1 correctness of two classifiers on the same images).

    What a pair shares (a lucky run, an easy image) cancels in the difference, so the noise is the
    spread of the per-pair differences, ``std(a - b) / sqrt(pairs)``, usually smaller than that of
    two independent results. Each side keeps its own standard error for reference.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape or len(a) < 2:
        raise ValueError(f"a paired comparison needs two equally long sequences (the same length, at least "
                         f"two pairs), got shapes {a.shape} and {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("a result is NaN: a run diverged or a prediction is missing")
    pairs = len(a)
    se = float((a - b).std(ddof=1) / math.sqrt(pairs))
    return PairedComparison(Side(float(a.mean()), float(a.std(ddof=1) / math.sqrt(pairs)), pairs, "pairs"),
                            Side(float(b.mean()), float(b.std(ddof=1) / math.sqrt(pairs)), pairs, "pairs"), se)


def describe_runs(frame, reference=None, *, n: int | None = None, dead=None, epochs=(1, "last"),
               split: str = "test", metric: str = "accuracy",
               words: tuple[str, str, str] = ("higher than", "lower than", "within noise of")) -> dict:
    """The numbers and verdicts a sentence about one experiment of several runs quotes.

    ``frame`` is a tidy table of runs (:mod:`cnnlab.tidy`). The result holds
    :func:`cnnlab.tidy.run_summary` (``first``, ``last``, ``worst``, ``best``, ``runs``, and
    ``dead_runs`` when ``dead`` gives a count per run) and, when a ``reference`` table of runs is
    given, for each epoch ``e`` of ``epochs`` the comparison of the per-run values after that epoch
    with the reference's: ``vs_<e>`` (one of ``words``: higher, lower, same), ``vs_<e>_diff`` and
    ``vs_<e>_margin``. ``n`` is the number of examples each accuracy was measured on.
    """
    from .tidy import per_run, run_summary

    found = run_summary(frame, split, metric, dead=dead).to_dict()
    if reference is not None:
        for epoch in epochs:
            versus = compare(per_run(frame, epoch, split, metric), per_run(reference, epoch, split, metric), n=n)
            found[f"vs_{epoch}"] = versus.says(*words)
            found[f"vs_{epoch}_diff"] = versus.difference
            found[f"vs_{epoch}_margin"] = versus.margin
    return found


def against_reference(values, figure: float, *, n: int, n_reference: int) -> Comparison:
    """Our per-run results (``a``) against a figure reported elsewhere for one run of the same
    experiment (``b``).

    That figure is a single run, so besides the sampling noise of its ``n_reference`` test
    examples it carries the seed noise of one run, which our runs measure: its standard error is
    the larger of the two (the standard deviation of our runs, not the standard error of their
    mean). Comparing it as an exact number would call a lucky or unlucky reference run a real
    difference.
    """
    values = np.atleast_1d(np.asarray(values, dtype=float))
    if len(values) < 2:
        raise ValueError("a reference run is compared with the spread of our runs: give two or more runs")
    ours, theirs = side(values, n), side(figure, n_reference)
    one_run = float(values.std(ddof=1))
    return Comparison(ours, Side(theirs.mean, max(theirs.se, one_run), 1, "one run of the spread of ours, examples"))


#: The p-value that corresponds to :data:`Z` standard errors (two-sided, normal): about 0.046.
ALPHA = math.erfc(Z / math.sqrt(2))


@dataclass(frozen=True)
class Groups:
    """Single runs in groups (e.g. seeds within permutations): how much a run varies inside a group
    and how much the group itself moves a run, both as standard deviations of one run.

    ``within`` is the pooled standard deviation of the runs of a group; ``between`` the standard
    deviation of the group effect on a single run (the variance component
    ``(MS_between - MS_within) / size``, 0 when negative). ``p`` is the one-way ANOVA's p-value
    for "the groups differ"; they differ beyond noise when ``p`` is below :data:`ALPHA`.
    """

    within: float
    between: float
    f: float
    p: float
    size: int

    @property
    def beyond(self) -> bool:
        return self.p < ALPHA

    def says(self, differ: str = "differ beyond the noise of the runs",
             same: str = "do not differ beyond the noise of the runs") -> str:
        return differ if self.beyond else same


def groups(values_by_group: Mapping[str, Sequence[float]]) -> Groups:
    """Compare single runs grouped by one factor (a one-way ANOVA, ``scipy.stats.f_oneway``).

    Every group needs the same number (two or more) of runs, e.g. the same seeds for every
    permutation. Like is compared with like: both spreads in :class:`Groups` are spreads of single
    runs, and the test asks whether the group means vary more than the runs' own noise makes means
    of ``size`` runs vary.
    """
    from scipy.stats import f_oneway

    arrays = [np.asarray(v, dtype=float) for v in values_by_group.values()]
    sizes = {len(a) for a in arrays}
    if len(arrays) < 2 or len(sizes) != 1 or min(sizes) < 2:
        raise ValueError(f"need two or more groups of the same size (two or more runs each), got sizes "
                         f"{[len(a) for a in arrays]}: give every group the same seeds")
    if any(np.isnan(a).any() for a in arrays):
        raise ValueError("a result is NaN: a run diverged or was never measured")
    size = sizes.pop()
    within_var = float(np.mean([a.var(ddof=1) for a in arrays]))
    between_var = float(np.var([a.mean() for a in arrays], ddof=1)) - within_var / size
    result = f_oneway(*arrays)
    f, p = float(result.statistic), float(result.pvalue)
    if np.isnan(p):  # no spread at all inside the groups: any difference between them is exact
        f, p = (math.inf, 0.0) if between_var > 0 else (0.0, 1.0)
    return Groups(math.sqrt(within_var), math.sqrt(max(between_var, 0.0)), f, p, size)


def race(curves, threshold: float, *, n: int) -> tuple[str | None, dict[str, Comparison]]:
    """Several settings' accuracy curves (a DataFrame: one column per setting, indexed by step, NaN
    once a setting has stopped), each measured on ``n`` examples: the setting whose curve reached
    ``threshold`` first, and every other setting's accuracy at that step compared with the first's
    (``a`` is the other setting, ``b`` the first; a setting with no value at that step is left out).
    ``(None, {})`` when no curve reached it.
    """
    reached = {name: curve.index[curve >= threshold].min() for name, curve in curves.items()
               if (curve >= threshold).any()}
    if not reached:
        return None, {}
    first = min(reached, key=reached.get)
    at = curves.loc[reached[first]]
    return first, {name: compare(at[name], at[first], n=n) for name in curves.columns
                   if name != first and not np.isnan(at[name])}
