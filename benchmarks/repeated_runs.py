"""Time R independent training runs: a plain sequential ``fit`` loop against the stacked path.

    python benchmarks/repeated_runs.py            # needs CNNLAB_DATA (or internet) for the data

Two cases, in one process, each with the same data, epochs and per-epoch test evaluation for
every method:

* the Q9 CIFAR-10 convnet of assignment 1: 3 runs on a subset;
* the Q2 setting of assignment 1: 10 runs of the 784-32-10 perceptron (ReLU output, squared
  error, SGD 0.1, batch 32) on all 60,000 MNIST images.

For each case it times
  1. ``fit loop``: build, compile and ``model.fit`` each run in turn, as one would write it;
  2. ``fit loop, steps_per_execution``: the same with 50 steps per call into the compiled graph
     (what ``repeated_runs`` does when it trains runs one after another);
  3. ``stacked``: ``multirun.repeated_runs(..., method="stacked")``, all runs in one graph;
and prints one line per case, ending in the speed-up of 3 over 1. The MLP case is printed last.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnlab import config, data, models, training  # noqa: E402


def fit_loop(build, train, test, *, runs, epochs, batch_size, steps_per_execution=None):
    """R runs one after another with model.fit; returns (seconds, final test accuracies)."""
    start = time.perf_counter()
    accuracies = []
    for run in range(runs):
        config.seed_everything(multirun.run_seed(0, run))
        model = build()
        if steps_per_execution:
            model.steps_per_execution = steps_per_execution
        history = model.fit(*train, epochs=epochs, batch_size=batch_size, validation_data=test, verbose=0)
        accuracies.append(history.history["val_accuracy"][-1])
    return time.perf_counter() - start, np.array(accuracies)


def stacked(build, train, test, *, runs, epochs, batch_size):
    start = time.perf_counter()
    frame = multirun.repeated_runs(build, train, evaluate={"test": test}, runs=runs, epochs=epochs,
                                   batch_size=batch_size, verbose=False, method="stacked")
    return time.perf_counter() - start, tidy.final(frame)["test"].to_numpy()


def case(name, build, train, test, *, runs, epochs, batch_size=32):
    kwargs = dict(runs=runs, epochs=epochs, batch_size=batch_size)
    plain, acc_plain = fit_loop(build, train, test, **kwargs)
    spe, acc_spe = fit_loop(build, train, test, steps_per_execution=multirun.STEPS_PER_EXECUTION, **kwargs)
    together, acc_together = stacked(build, train, test, **kwargs)
    print(f"{name}: {runs} runs x {epochs} epochs on {len(train[0]):,} images | "
          f"test accuracy fit {acc_plain.mean():.3f}±{acc_plain.std():.3f}, stacked "
          f"{acc_together.mean():.3f}±{acc_together.std():.3f} | fit loop {plain:.1f} s | "
          f"fit loop, steps_per_execution={multirun.STEPS_PER_EXECUTION}: {spe:.1f} s "
          f"({plain / spe:.1f}x) | stacked {together:.1f} s | speedup: {plain / together:.1f}x", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlp-epochs", type=int, default=3)
    parser.add_argument("--cnn-epochs", type=int, default=2)
    parser.add_argument("--cnn-images", type=int, default=5_000)
    args = parser.parse_args()
    print(config.device_report(), flush=True)

    (x, y), (xt, yt) = data.load("cifar10")
    x, y = data.sample(args.cnn_images, data.scale_pixels(x), y.ravel(), seed=0)
    xt, yt = data.sample(1_000, data.scale_pixels(xt), yt.ravel(), seed=0)

    def cnn():
        model = models.small_cifar_cnn()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    case("Q9 CIFAR-10 convnet", cnn, (x, y), (xt, yt), runs=3, epochs=args.cnn_epochs)

    (x, y), (xt, yt) = data.load("mnist")
    x, xt = data.scale_pixels(x), data.scale_pixels(xt)
    eye = np.eye(10, dtype="float32")

    def mlp():
        model = models.mlp(hidden=[32], output_activation="relu")
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mean_squared_error", metrics=["accuracy"])
        return model

    case("Q2 MNIST 784-32-10 MLP", mlp, (x, eye[y]), (xt, eye[yt]), runs=10, epochs=args.mlp_epochs)


if __name__ == "__main__":
    main()
