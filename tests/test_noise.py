"""cnnlab.noise: the one verdict on whether a difference is beyond noise."""

import math

import numpy as np
import pytest

from cnnlab import noise


def test_standard_error_of_an_accuracy():
    # on 1,000 validation images an accuracy near 0.7 is uncertain by about 1.4 points
    assert noise.accuracy_se(0.7, 1000) == pytest.approx(0.01449, abs=1e-5)
    assert noise.accuracy_se(1.0, 50) == 0.0
    with pytest.raises(ValueError, match="not percentages"):
        noise.accuracy_se(98.7, 10_000)
    with pytest.raises(ValueError, match="number of examples"):
        noise.accuracy_se(0.5, 0)


def test_runs_use_the_standard_error_of_the_mean():
    a, b = [0.90, 0.92, 0.91], [0.80, 0.81, 0.79]
    c = noise.compare(a, b)
    expected = math.sqrt(np.var(a, ddof=1) / 3 + np.var(b, ddof=1) / 3)
    assert c.difference == pytest.approx(0.11)
    assert c.se == pytest.approx(expected)
    assert c.beyond and c.says("better", "worse") == "better"
    assert noise.compare(b, a).says("better", "worse") == "worse"


def test_a_small_gap_is_within_noise_whatever_its_sign():
    c = noise.compare([0.900, 0.920, 0.880], [0.905, 0.915, 0.890])
    assert not c.beyond
    assert c.says("better", "worse", "no different from") == "no different from"
    assert "within noise" in c.summary()


def test_single_accuracies_need_n_and_use_the_binomial_error():
    with pytest.raises(ValueError, match="no noise estimate"):
        noise.compare(0.91, 0.90)
    c = noise.compare(0.91, 0.90, n=10_000)
    assert c.se == pytest.approx(math.sqrt(0.91 * 0.09 / 1e4 + 0.9 * 0.1 / 1e4))
    assert c.beyond  # 0.01 > 2 * 0.0041
    assert not noise.compare(0.91, 0.90, n=1_000).beyond  # the same gap on a tenth of the images
    # 1.5 standard errors: first at one standard error, not at the two the verdict asks for
    c = noise.compare(0.91, 0.90, n=4_000)
    assert 1.4 < c.difference / c.se < 1.6 and not c.beyond


def test_identical_runs_do_not_make_a_difference_exact():
    same = [0.95, 0.95, 0.95]
    assert noise.compare(same, [0.94] * 3).beyond  # no spread at all: any gap would count
    assert not noise.compare(same, [0.94] * 3, n=1_000).beyond  # the examples still carry noise


def test_a_reference_figure_has_its_own_n():
    c = noise.compare([0.9888, 0.9870, 0.9913], 0.9877, n=10_000, n_b=10_000)
    assert c.b.basis == "examples" and c.a.basis == "runs and examples"
    assert not c.beyond


def test_rank_names_the_winner_and_whether_it_beats_the_runner_up():
    best, c = noise.rank({"p=0.2": [0.50, 0.51], "p=0.5": [0.505, 0.5], "p=0.8": [0.30, 0.31]})
    assert best == "p=0.2" and not c.beyond
    best, c = noise.rank({"SGD": 0.21, "Adam": 0.46}, n=6_000)
    assert best == "Adam" and c.beyond
    with pytest.raises(ValueError, match="at least two"):
        noise.rank({"only": [0.5, 0.6]})


def test_nan_results_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        noise.compare([0.5, float("nan")], [0.4, 0.5])


def test_glue_returns_and_stores_the_words(monkeypatch):
    stored = {}
    monkeypatch.setattr("cnnlab.report._myst_glue", lambda k, v, display=False: stored.__setitem__(k, v))
    words = noise.compare([0.8, 0.82], [0.5, 0.52]).glue("q", "beat", "lost to", "tied with")
    assert words == "beat" and stored["q"] == "beat" and stored["q_noise"] == "beyond"
    assert stored["q_diff"] == pytest.approx(0.3) and stored["q_margin"] > 0


def test_against_an_exact_value_counts_only_the_measured_side():
    c = noise.against(0.103, 0.1, n=10_000)  # an untrained network against chance
    assert c.se == pytest.approx(math.sqrt(0.103 * 0.897 / 1e4)) and c.b.basis == "exact"
    assert not c.beyond and c.says() == "within noise of"
    assert noise.against([0.35, 0.36, 0.34], 0.1).says("above", "below") == "above"
    with pytest.raises(ValueError, match="no noise estimate"):
        noise.against(0.35, 0.1)


def test_paired_runs_use_the_spread_of_the_differences():
    train = [0.30, 0.20, 0.40, 0.25]  # runs differ a lot ...
    test = [0.32, 0.23, 0.41, 0.27]  # ... but each run's test loss is above its training loss
    c = noise.paired(test, train)
    assert c.difference == pytest.approx(0.02)
    assert c.se == pytest.approx(np.std([0.02, 0.03, 0.01, 0.02], ddof=1) / 2)
    assert c.beyond and c.says() == "higher"
    assert not noise.compare(test, train).beyond  # unpaired, the spread between runs hides it
    with pytest.raises(ValueError, match="two equally long"):
        noise.paired([0.1, 0.2], [0.1, 0.2, 0.3])


def test_an_experiment_is_summarised_and_compared_epoch_by_epoch():
    import pandas as pd

    def table(curves):
        return pd.DataFrame([(run, epoch, "test", "accuracy", value) for run, curve in enumerate(curves)
                             for epoch, value in enumerate(curve, start=1)],
                            columns=["run", "epoch", "split", "metric", "value"])

    slow = table([[0.50, 0.90], [0.52, 0.91], [0.48, 0.89]])
    fast = table([[0.80, 0.90], [0.82, 0.91], [0.81, 0.89]])
    found = noise.describe_runs(slow, fast, n=10_000, dead=[0, 1, 0])
    assert found["first"] == pytest.approx(0.50) and found["last"] == pytest.approx(0.90)
    assert (found["worst"], found["best"], found["runs"], found["dead_runs"]) == (0.89, 0.91, 3, 1)
    assert found["vs_1"] == "lower than" and found["vs_1_diff"] == pytest.approx(-0.31)
    assert found["vs_last"] == "within noise of" and found["vs_last_diff"] == pytest.approx(0.0)
    assert found["vs_1_margin"] == pytest.approx(noise.compare([0.5, 0.52, 0.48], [0.8, 0.82, 0.81], n=10_000).margin)
    assert "vs_1" not in noise.describe_runs(slow)


def test_paired_items_use_the_noise_of_the_differences():
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 1.0, 400)  # what the items share: large, and it cancels
    a, b = shared + 0.05 + rng.normal(0, 0.05, 400), shared + rng.normal(0, 0.05, 400)
    c = noise.paired(a, b)
    assert c.difference == pytest.approx(a.mean() - b.mean())
    assert c.se == pytest.approx(np.std(a - b, ddof=1) / 20)
    assert c.beyond and c.says() == "higher"
    # the same numbers as independent results: the shared part swamps the gap
    assert not noise.compare(a, b).beyond
    with pytest.raises(ValueError, match="same length"):
        noise.paired(a, b[:-1])


def test_against_a_fixed_number_uses_only_the_noise_of_the_result():
    c = noise.against(0.125, 0.1, n=10_000)
    assert c.se == pytest.approx(noise.accuracy_se(0.125, 10_000))
    assert c.beyond and c.says("above", "below", "at") == "above"
    assert noise.against([0.11, 0.09, 0.10], 0.1).says("above", "below", "at") == "at"


def test_a_reference_run_carries_the_seed_noise_of_one_run():
    ours = [0.9820, 0.9800, 0.9835, 0.9805]  # sd 0.0016, standard error of the mean 0.0008
    c = noise.against_reference(ours, 0.9877, n=10_000, n_reference=10_000)
    assert c.b.se == pytest.approx(np.std(ours, ddof=1))  # one run's spread, above the binomial 0.0011
    # our mean: its test set's noise (0.0014) is above the runs' standard error of the mean
    assert c.a.se == pytest.approx(noise.accuracy_se(np.mean(ours), 10_000))
    assert c.se == pytest.approx(math.sqrt(c.a.se**2 + np.var(ours, ddof=1)))
    assert c.beyond and c.says() == "lower"  # -0.62 points against a margin of 0.42
    # treated as an exact figure with only its test set's noise, a closer reference would count
    close = noise.against_reference(ours, 0.9855, n=10_000, n_reference=10_000)
    assert not close.beyond and noise.compare(ours, 0.9855, n=10_000, n_b=10_000).beyond
    with pytest.raises(ValueError, match="two or more runs"):
        noise.against_reference([0.98], 0.9877, n=10_000, n_reference=10_000)


def test_groups_compare_like_with_like():
    # three permutations x three seeds: the permutations move a run far more than the seeds do
    apart = {"p0": [97.0, 97.2, 96.9], "p1": [95.0, 95.3, 95.1], "p2": [96.0, 96.1, 95.8]}
    g = noise.groups(apart)
    assert g.beyond and g.says("differ", "same") == "differ" and g.size == 3
    within = math.sqrt(np.mean([np.var(v, ddof=1) for v in apart.values()]))
    assert g.within == pytest.approx(within)
    means = [np.mean(v) for v in apart.values()]
    assert g.between == pytest.approx(math.sqrt(np.var(means, ddof=1) - within**2 / 3))
    # the same spread of seeds around equal means: the permutations do not differ
    alike = {"p0": [96.0, 96.4, 95.8], "p1": [96.3, 95.9, 96.1], "p2": [95.9, 96.2, 96.0]}
    g = noise.groups(alike)
    assert not g.beyond and g.between == 0.0 and g.within > 0
    # the old mistake: the spread of 3-seed means set against the spread of single runs
    assert np.std([np.mean(v) for v in alike.values()], ddof=1) < g.within


def test_groups_refuse_what_they_cannot_compare():
    with pytest.raises(ValueError, match="same size"):
        noise.groups({"p0": [0.9, 0.91], "p1": [0.9]})
    with pytest.raises(ValueError, match="two or more groups"):
        noise.groups({"p0": [0.9, 0.91]})
    with pytest.raises(ValueError, match="NaN"):
        noise.groups({"p0": [0.9, float("nan")], "p1": [0.9, 0.91]})
    exact = noise.groups({"p0": [0.9, 0.9], "p1": [0.8, 0.8]})
    assert exact.beyond and exact.within == 0.0


def test_race_compares_everyone_with_the_first_to_reach_the_threshold():
    import pandas as pd

    curves = pd.DataFrame({"none": [0.10, 0.80, 0.95, None], "reference": [0.10, 0.78, 0.90, 0.96],
                           "high": [0.10, 0.60, 0.80, 0.85]}, index=[0, 10, 20, 30])
    first, others = noise.race(curves, 0.95, n=1_000)
    assert first == "none" and set(others) == {"reference", "high"}
    assert others["reference"].a.mean == 0.90 and others["reference"].b.mean == 0.95
    assert others["high"].says("ahead", "behind", "level") == "behind"  # 0.80 against 0.95 on 1,000
    assert others["reference"].says("ahead", "behind", "level") == "behind"  # 0.90: 5 points, margin 2.4
    assert noise.race(curves, 0.99, n=1_000) == (None, {})
    first, others = noise.race(curves, 0.96, n=1_000)  # reached at step 30, where "none" has stopped
    assert first == "reference" and set(others) == {"high"}
