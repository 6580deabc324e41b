"""The machinery of the exercise checks (cnnlab.checks.core and cnnlab.checks.expect)."""

import json

import keras
import numpy as np
import pytest

from cnnlab.checks import CheckFailed, Wrong, check, exercise, expect, find


@exercise("t0-square", needs=("square",))
def _square(ns):
    square = ns["square"]
    if square(3) != 9:
        raise Wrong(f"square(3) is {square(3)}, expected 9", "multiply the number by itself")
    return "square(3) is 9"


def test_a_right_answer_passes_and_says_what_was_checked(capsys):
    verified = check("t0-square", {"square": lambda x: x * x})
    assert verified == "square(3) is 9" and capsys.readouterr().out == "✔ t0-square: square(3) is 9\n"


def test_a_notebook_shows_the_line_once():
    from IPython.core.formatters import DisplayFormatter

    verified = check("t0-square", {"square": lambda x: x * x})
    assert DisplayFormatter().format(verified) == ({}, {})  # not displayed again as the cell's value
    assert DisplayFormatter().format("square(3) is 9")[0]  # a plain string would be


def test_a_wrong_answer_fails_with_its_hint():
    with pytest.raises(CheckFailed, match=r"✘ t0-square: square\(3\) is 6.*\n  Hint: multiply"):
        check("t0-square", {"square": lambda x: x + x})


def test_a_missing_name_fails_with_the_name():
    with pytest.raises(CheckFailed, match="`square` not defined yet"):
        check("t0-square", {})


def test_an_answer_that_raises_fails_its_check_not_the_checker():
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        check("t0-square", {"square": lambda x: x / 0})


def test_in_a_notebook_only_the_message_is_shown():
    with pytest.raises(CheckFailed) as failed:
        check("t0-square", {})
    assert failed.value._render_traceback_() == [str(failed.value)]


def test_the_log_records_every_outcome(tmp_path, monkeypatch):
    log = tmp_path / "checks.jsonl"
    monkeypatch.setenv("CNNLAB_CHECK_LOG", str(log))
    check("t0-square", {"square": lambda x: x * x})
    with pytest.raises(CheckFailed):
        check("t0-square", {})
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(x["label"], x["passed"], x["points"]) for x in lines] == [("t0-square", True, 1), ("t0-square", False, 1)]


def test_an_unknown_label_names_the_known_ones():
    with pytest.raises(KeyError, match="no check for exercise 'a9-nothing'"):
        find("a9-nothing")


def test_the_caller_namespace_is_used_outside_ipython(capsys):
    global square
    square = lambda x: x * x  # noqa: E731
    try:
        check("t0-square")
    finally:
        del square
    assert "✔" in capsys.readouterr().out


def small_model():
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                             keras.layers.Dense(10, activation="relu")])


def test_layers_are_described_as_an_exercise_states_them():
    model = keras.Sequential([keras.Input((32, 32, 3)), keras.layers.Conv2D(16, 2, padding="same", activation="relu"),
                              keras.layers.MaxPooling2D(2), keras.layers.Conv2D(8, 1, use_bias=False, strides=2),
                              keras.layers.Dropout(0.25), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(10)])
    assert expect.layers(model) == ["Conv2D(16, 2×2, relu, same)", "MaxPooling2D(2×2)",
                                    "Conv2D(8, 1×1, linear, valid, stride 2×2, no bias)", "Dropout(0.25)",
                                    "GlobalAveragePooling2D", "Dense(10, linear)"]


def test_same_layers_names_the_first_difference():
    expect.same_layers(small_model(), ["Flatten", "Dense(32, relu)", "Dense(10, relu)"])
    with pytest.raises(Wrong, match=r"layer 2 of `model` is Dense\(32, relu\), expected Dense\(64, relu\)"):
        expect.same_layers(small_model(), ["Flatten", "Dense(64, relu)", "Dense(10, relu)"])
    with pytest.raises(Wrong, match="has 3 layers, expected 2"):
        expect.same_layers(small_model(), ["Flatten", "Dense(32, relu)"])


def test_compile_settings_are_checked():
    model = small_model()
    with pytest.raises(Wrong, match="not compiled"):
        expect.compiled(model, optimizer="sgd")
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["accuracy"])
    expect.compiled(model, optimizer="SGD", loss="mean_squared_error", metrics=["accuracy"], learning_rate=0.1)
    with pytest.raises(Wrong, match="learning_rate = 0.1.*expected 0.01"):
        expect.compiled(model, learning_rate=0.01)
    with pytest.raises(Wrong, match="uses the SGD optimizer, expected adam"):
        expect.compiled(model, optimizer="adam")
    with pytest.raises(Wrong, match="loss mean_squared_error, expected sparse_categorical_crossentropy"):
        expect.compiled(model, loss="sparse_categorical_crossentropy")


def test_close_and_at_least(monkeypatch):
    expect.close([1.0, 2.0], np.array([1.0, 2.0 + 1e-9]))
    with pytest.raises(Wrong, match=r"at \(1,\) it is 2.5 instead of 2"):
        expect.close([1.0, 2.5], [1.0, 2.0], what="the output")
    with pytest.raises(Wrong, match="shape"):
        expect.close([1.0], [1.0, 2.0])
    with pytest.raises(Wrong, match=r"at \(0,\) it is nan instead of 1"):  # an all-NaN answer
        expect.close([np.nan, np.nan], [1.0, 2.0])
    with pytest.raises(Wrong, match=r"at \(1,\) it is nan instead of 2"):
        expect.close([1.0, np.nan], [1.0, 2.0])
    monkeypatch.setenv("CNNLAB_PROFILE", "smoke")
    expect.at_least(0.2, {"smoke": 0.1, "cpu": 0.8, "full": 0.9}, "test accuracy")
    monkeypatch.setenv("CNNLAB_PROFILE", "cpu")
    with pytest.raises(Wrong, match="test accuracy is 0.2, expected at least 0.8"):
        expect.at_least(0.2, {"smoke": 0.1, "cpu": 0.8, "full": 0.9}, "test accuracy")
