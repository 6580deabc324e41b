"""The checks of Assignment 3's exercises (cnnlab.checks.a3): each passes on a right answer, fails
on the stub (the names missing) and fails, with a useful message, on realistic wrong answers."""

from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from cnnlab import config, handloop, models, reference, tidy
from cnnlab.checks import check
from checking import fails, smoke  # noqa: F401 - smoke is an autouse fixture

rng = np.random.default_rng(0)



def history(val_accuracy, **columns):
    """A Keras-style history dict with the given validation accuracies per epoch."""
    n = len(val_accuracy)
    return {"loss": columns.get("loss", [2.3] * n), "accuracy": [0.1] * n, "val_loss": [2.3] * n,
            "val_accuracy": list(val_accuracy)}


def labelled_by(model, x):
    """Labels that ``model`` gets all right: its own predictions."""
    return np.asarray(model.predict(x, verbose=0)).argmax(axis=1)


# --- building -------------------------------------------------------------------------------------

def test_iterations():
    ns = {"S": SimpleNamespace(batch_size=32, epochs=30), "x_train": np.zeros((1_000, 1))}
    assert "32 iterations per epoch" in check("a3-iterations", {**ns, "iterations_per_epoch": 32,
                                                                 "iterations_total": 960})
    fails("a3-iterations", ns, "`iterations_per_epoch`, `iterations_total` not defined")
    # 1,000 // 32 = 31 forgets the last, smaller batch
    fails("a3-iterations", {**ns, "iterations_per_epoch": 31, "iterations_total": 930},
          "`iterations_per_epoch` is 31, expected 32")
    fails("a3-iterations", {**ns, "iterations_per_epoch": 32, "iterations_total": 62},
          "`iterations_total` is 62, expected 960")


def conv_base(padding="same", last=None, input_shape=(32, 32, 3)):
    return keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(16, 2, padding=padding, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 2, padding=padding, activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        last or keras.layers.Dense(10),
    ])


def test_base_model():
    assert "2,618 parameters" in check("a3-base-model", {"base": conv_base()})
    assert "2,618" in check("a3-base-model", {"base": models.gap_cnn()})
    fails("a3-base-model", {}, "`base` not defined")
    fails("a3-base-model", {"base": conv_base(padding="valid")},
          r"layer 1 of `base` is Conv2D\(16, 2×2, relu, valid\), expected Conv2D\(16, 2×2, relu, same\)")
    fails("a3-base-model", {"base": conv_base(last=keras.layers.Dense(10, activation="softmax"))},
          r"layer 5 of `base` is Dense\(10, softmax\), expected Dense\(10, linear\)")
    fails("a3-base-model", {"base": conv_base(input_shape=(28, 28, 1))}, r"inputs of shape \(28, 28, 1\)")


def conv_one_row_short(images, kernel, stride=1):
    """Off by one: loops to H_out - 1."""
    return reference.conv2d(images, kernel, stride=stride)[:, :-1]


def conv_ignoring_stride(images, kernel, stride=1):
    """Windows start at row i instead of i * stride (the output has the right size)."""
    out = reference.conv2d(images, kernel)
    h = (images.shape[1] - kernel.shape[0]) // stride + 1
    w = (images.shape[2] - kernel.shape[1]) // stride + 1
    return out[:, :h, :w]


def test_manual_convolution_is_compared_with_keras():
    assert "equals keras.layers.Conv2D" in check("a3-manual-conv", {"conv2d": reference.conv2d})
    fails("a3-manual-conv", {}, "`conv2d` not defined")
    fails("a3-manual-conv", {"conv2d": conv_one_row_short}, r"with a 1×1 kernel, 3 → 2 channels has shape \(2, 6, 6, 2\), expected \(2, 7, 6, 2\)")
    fails("a3-manual-conv", {"conv2d": conv_ignoring_stride},
          r"conv2d\(images, kernel, stride=2\) with a 3×3 kernel.*differs from the reference computation")


def test_global_average_pooling():
    maps = rng.normal(size=(1, 32, 32, 2)).astype("float32")
    assert "shape (1, 2)" in check("a3-gap", {"feature_maps": maps, "pooled": maps.mean(axis=(1, 2))})
    fails("a3-gap", {"feature_maps": maps}, "`pooled` not defined")
    fails("a3-gap", {"feature_maps": maps, "pooled": maps.mean(axis=(0, 1))},
          r"`pooled` has shape \(32, 2\), expected \(1, 2\)")
    fails("a3-gap", {"feature_maps": maps[:, :16], "pooled": maps[:, :16].mean(axis=(1, 2))},
          "the shape of `feature_maps`")


def test_manual_dense_layer_is_compared_with_keras():
    assert "keras.layers.Dense" in check("a3-manual-dense", {"dense": lambda x, w, b: x @ w + b})
    fails("a3-manual-dense", {}, "`dense` not defined")
    fails("a3-manual-dense", {"dense": lambda x, w, b: x @ w}, "differs from the reference computation")
    fails("a3-manual-dense", {"dense": lambda x, w, b: w @ x + b}, "raised ValueError")


# --- training-tuning ------------------------------------------------------------------------------

MACHINERY = {"mean_cross_entropy": handloop.mean_cross_entropy, "predict": handloop.predict,
             "make_train_step": handloop.make_train_step}


def test_machinery_agrees_with_keras_and_an_independent_gradient():
    assert "one SGD step" in check("a3-machinery", dict(MACHINERY))
    fails("a3-machinery", {}, "`mean_cross_entropy`, `predict`, `make_train_step` not defined")

    def summed(logits, labels):
        labels = tf.cast(labels, tf.int32)
        return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))

    fails("a3-machinery", {**MACHINERY, "mean_cross_entropy": summed},
          r"mean_cross_entropy\(logits, labels\) differs")
    fails("a3-machinery", {**MACHINERY, "predict": lambda model, x: model(x)}, r"predict\(model, x\) differs")

    def twice_the_step(model, learning_rate):
        return handloop.make_train_step(model, learning_rate=2 * learning_rate)

    fails("a3-machinery", {**MACHINERY, "make_train_step": twice_the_step},
          r"weight tensor 0 .* after one step at learning rate 0.1 differs")

    def no_count(model, learning_rate):
        step = handloop.make_train_step(model, learning_rate=learning_rate)
        return lambda x, y: step(x, y)[0]

    fails("a3-machinery", {**MACHINERY, "make_train_step": no_count}, "should return the batch's mean loss")


@pytest.fixture(scope="module")
def trained_base():
    config.seed_everything(0)
    base = models.gap_cnn()
    x_val = rng.uniform(size=(40, 32, 32, 3)).astype("float32")
    return base, x_val, labelled_by(base, x_val)


def test_base_training_is_checked_against_the_model(trained_base):
    base, x_val, y_val = trained_base
    ns = {"S": SimpleNamespace(epochs=2), "train_by_hand": handloop.train_by_hand, "base": base, "x_val": x_val,
          "y_val": y_val}
    assert "2 epochs" in check("a3-base-training", {**ns, "base_history": history([0.5, 1.0])})
    frame = tidy.history_frame(history([0.5, 1.0]), run="base")  # a tidy frame works as well
    assert "recorded as the model scores" in check("a3-base-training", {**ns, "base_history": frame})
    fails("a3-base-training", {k: v for k, v in ns.items() if k != "base"}, "`base`, `base_history` not defined")
    fails("a3-base-training", {**ns, "base_history": history([0.5, 0.6])},
          r"`base` scores 1.0000 on the validation images, but its history says 0.6000")
    fails("a3-base-training", {**ns, "base_history": history([50.0, 100.0])}, "not shares between 0 and 1")
    fails("a3-base-training", {**ns, "base_history": history([0.5, 0.8, 1.0])},
          "the number of epochs in the history of `base` is 3, expected 2")


def builder(hidden_activation="relu", pool_between=True):
    """A configurable builder like the exercise's, with one switch for each realistic mistake."""
    def build(conv_layers, dense_layers, width, kernel_size=2, dense_units=None, input_shape=(32, 32, 3)):
        stack = [keras.Input(input_shape)]
        for i in range(conv_layers):
            if i and pool_between:
                stack.append(keras.layers.MaxPooling2D(2))
            stack.append(keras.layers.Conv2D(width * 2 ** i, kernel_size, padding="same", activation="relu"))
        stack.append(keras.layers.GlobalAveragePooling2D())
        units = dense_units or width * 2 ** (conv_layers - 1)
        stack += [keras.layers.Dense(units, activation=hidden_activation) for _ in range(dense_layers - 1)]
        return keras.Sequential(stack + [keras.layers.Dense(10)])
    return build


H_SETTINGS = SimpleNamespace(h1=dict(learning_rate=1e-3, conv_layers=2, dense_layers=1, width=32),
                             h2=dict(learning_rate=1e-4, conv_layers=3, dense_layers=2, width=64, dense_units=128))


def test_builder_makes_base_h1_and_h2():
    assert "199,242" in check("a3-q2-5", {"S": H_SETTINGS, "build_cnn": builder()})
    assert "199,242" in check("a3-q2-5", {"S": H_SETTINGS, "build_cnn": models.gap_cnn})
    fails("a3-q2-5", {"S": H_SETTINGS}, "`build_cnn` not defined")
    fails("a3-q2-5", {"S": H_SETTINGS, "build_cnn": builder(hidden_activation=None)},
          r"layer 7 of `H2` is Dense\(128, linear\), expected Dense\(128, relu\)")
    fails("a3-q2-5", {"S": H_SETTINGS, "build_cnn": builder(pool_between=False)},
          r"layer 2 of `build_cnn\(conv_layers=2, dense_layers=1, width=16\)` is Conv2D")


def test_the_chosen_model_is_tested_once(trained_base):
    base, x_test, y_test = trained_base
    ns = {"chosen": "H1", "chosen_model": base, "x_test": x_test, "y_test": y_test}
    assert "tested once: 1.000" in check("a3-q2-7", {**ns, "test_accuracy": 1.0})
    fails("a3-q2-7", ns, "`test_accuracy` not defined")
    fails("a3-q2-7", {**ns, "test_accuracy": 0.25}, r"scores 1.0000 on the test images, but `test_accuracy` is 0.2500")
    fails("a3-q2-7", {**ns, "chosen": "H3", "test_accuracy": 1.0}, "`chosen` is one of")


# --- new-dataset ----------------------------------------------------------------------------------

def test_fashion_data():
    raw = {part: rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
           for part, n in (("train", 10), ("val", 5), ("test", 7))}
    scaled = {part: (x / 255.0)[..., np.newaxis].astype("float32") for part, x in raw.items()}
    ns = {"S": SimpleNamespace(train_images=10, validation_images=5, test_images=7),
          "x_train": scaled["train"], "x_val": scaled["val"], "x_test": scaled["test"],
          "raw_train": raw["train"].astype("float32"), "raw_val": raw["val"].astype("float32")}
    assert "raw pixels" in check("a3-fashion-data", ns)
    fails("a3-fashion-data", {"S": ns["S"]}, "`x_train`, `x_val`, `x_test`, `raw_train`, `raw_val` not defined")
    fails("a3-fashion-data", {**ns, "x_train": scaled["train"][..., 0]},
          r"the shape of `x_train` is \(10, 28, 28\), expected \(10, 28, 28, 1\)")
    fails("a3-fashion-data", {**ns, "x_val": raw["val"][..., np.newaxis].astype("float32")},
          "`x_val` holds values from")
    fails("a3-fashion-data", {**ns, "raw_val": raw["val"][::-1].astype("float32")}, r"`raw_val` / 255")


def test_fashion_base_both_ways():
    config.seed_everything(0)
    base = models.gap_cnn(input_shape=(28, 28, 1))
    raw_base = models.gap_cnn(input_shape=(28, 28, 1))
    raw_base.set_weights(base.get_weights())  # zero biases: raw pixels give the same predictions
    x_val = rng.uniform(size=(30, 28, 28, 1)).astype("float32")
    y_val = labelled_by(base, x_val)
    ns = {"S": SimpleNamespace(epochs=2), "base": base, "raw_base": raw_base, "x_val": x_val, "y_val": y_val,
          "raw_val": (x_val * 255).astype("float32"), "base_history": history([0.5, 1.0]),
          "raw_history": history([0.5, 1.0])}
    assert "raw pixels: 2 epochs" in check("a3-fashion-base", ns)
    fails("a3-fashion-base", {k: v for k, v in ns.items() if k != "raw_history"}, "`raw_history` not defined")
    config.seed_everything(1)
    other = models.gap_cnn(input_shape=(28, 28, 1))  # not the model the history belongs to
    fails("a3-fashion-base", {**ns, "raw_base": other}, "`raw_base` scores .* but its history says 1.0000")
    fails("a3-fashion-base", {**ns, "base": models.gap_cnn()}, r"`base` takes inputs of shape \(32, 32, 3\)")


def test_fashion_tuning_tests_the_chosen_model():
    config.seed_everything(0)
    model = models.gap_cnn(input_shape=(28, 28, 1), conv_layers=3, kernel_size=3)
    x_test = rng.uniform(size=(20, 28, 28, 1)).astype("float32")
    ns = {"chosen": "3 conv", "chosen_model": model, "x_test": x_test, "y_test": labelled_by(model, x_test)}
    assert "3 conv, tested once: 1.000" in check("a3-fashion-tuning", {**ns, "test_accuracy": 1.0})
    fails("a3-fashion-tuning", ns, "`test_accuracy` not defined")
    fails("a3-fashion-tuning", {**ns, "test_accuracy": 0.9}, "but `test_accuracy` is 0.9000")
    fails("a3-fashion-tuning", {**ns, "chosen_model": models.gap_cnn(), "test_accuracy": 1.0},
          r"`chosen_model` takes inputs of shape \(32, 32, 3\)")


# --- optimizers -----------------------------------------------------------------------------------

OPTIMIZERS = {
    "SGD": ("SGD", {}),
    "momentum 0.7": ("SGD", {"momentum": 0.7}),
    "Nesterov 0.9": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "Adam": ("Adam", {}),
    "Adam β1 0.7, β2 0.888": ("Adam", {"beta_1": 0.7, "beta_2": 0.888}),
}
OPT_SETTINGS = SimpleNamespace(optimizers=OPTIMIZERS, learning_rate=1e-3, epochs=2)


def test_first_adam_step_without_bias_correction():
    right = {"Adam": 0.1 / np.sqrt(0.001), "Adam β1 0.7, β2 0.888": 0.3 / np.sqrt(0.112)}
    assert "(1 − β1)/√(1 − β2)" in check("a3-update-rules", {"S": OPT_SETTINGS, "first_step": right})
    fails("a3-update-rules", {"S": OPT_SETTINGS}, "`first_step` not defined")
    fails("a3-update-rules", {"S": OPT_SETTINGS, "first_step": {"Adam": 1.0, "Adam β1 0.7, β2 0.888": 1.0}},
          r"first_step\['Adam'\] differs")  # the corrected step, not the uncorrected one
    fails("a3-update-rules", {"S": OPT_SETTINGS, "first_step": {"Adam": right["Adam"]}}, "the names in `first_step`")


def keras_optimizers(**changes):
    built = {}
    for name, (kind, options) in OPTIMIZERS.items():
        options = {"learning_rate": 1e-3, **options, **changes.get(name, {})}
        built[name] = getattr(keras.optimizers, kind)(**options)
    return built


def tidy_runs(curves: dict) -> pd.DataFrame:
    return pd.concat([tidy.history_frame(history(val), run=name) for name, val in curves.items()],
                     ignore_index=True)


@pytest.fixture(scope="module")
def h1():
    config.seed_everything(0)
    return models.gap_cnn(width=32)


def test_optimizer_comparison_settings(h1):
    frame = tidy_runs({name: [0.2, 0.3] for name in OPTIMIZERS})
    ns = {"S": OPT_SETTINGS, "optimizers": keras_optimizers(), "history": frame,
          "trained": {name: h1 for name in OPTIMIZERS}}
    assert "5 optimizers" in check("a3-optimizer-comparison", ns)
    fails("a3-optimizer-comparison", {"S": OPT_SETTINGS}, "`optimizers`, `history`, `trained` not defined")
    fails("a3-optimizer-comparison", {**ns, "optimizers": keras_optimizers(**{"momentum 0.7": {"momentum": 0.9}})},
          r"optimizers\['momentum 0.7'\] has momentum = 0.9, expected 0.7")
    fails("a3-optimizer-comparison", {**ns, "optimizers": keras_optimizers(**{"Adam β1 0.7, β2 0.888": {
        "beta_2": 0.999}})}, r"has beta_2 = 0.999, expected 0.888")
    fails("a3-optimizer-comparison", {**ns, "trained": {name: models.gap_cnn() for name in OPTIMIZERS}},
          r"trained\['SGD'\] \(H1\)` has 2,618 parameters, expected 9,322")


def test_epochs_to_reach_is_read_off_the_curves():
    frame = tidy_runs({"SGD": [0.1, 0.2, 0.3], "momentum 0.9": [0.2, 0.35, 0.3]})
    right = pd.Series({"SGD": 3.0, "momentum 0.9": 2.0})
    assert "plain SGD's best" in check("a3-momentum-claim", {"history": frame, "epochs_to_reach": right})
    fails("a3-momentum-claim", {"history": frame}, "`epochs_to_reach` not defined")
    fails("a3-momentum-claim", {"history": frame, "epochs_to_reach": right - 1},  # counted from epoch 0
          r"epochs_to_reach\['SGD'\] is 2, but its validation accuracy first reaches")


def test_the_tested_optimizer_model_is_the_trained_one(h1):
    x_test = rng.uniform(size=(20, 32, 32, 3)).astype("float32")
    frame = tidy_runs({"SGD": [0.1, 0.2], "Adam": [0.3, 0.4]})
    config.seed_everything(3)
    other = models.gap_cnn(width=32)
    trained = {"SGD": other, "Adam": h1}
    ns = {"history": frame, "trained": trained, "chosen": "Adam", "chosen_model": h1, "x_test": x_test,
          "y_test": labelled_by(h1, x_test), "test_accuracy": 1.0}
    assert "the trained model itself" in check("a3-optimizer-test", ns)
    fails("a3-optimizer-test", {k: v for k, v in ns.items() if k != "chosen"}, "`chosen` not defined")
    fails("a3-optimizer-test", {**ns, "chosen": "SGD", "chosen_model": other}, "'Adam' reached 0.4000")
    config.seed_everything(0)
    fails("a3-optimizer-test", {**ns, "chosen_model": models.gap_cnn(width=32)},
          "`chosen_model` is not the model trained with the chosen optimizer")
