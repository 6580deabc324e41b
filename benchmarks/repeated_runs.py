"""Time R independent training runs: the sequential path against the stacked engine.

    python benchmarks/repeated_runs.py                      # every case, R = 3 and 5, 2 repeats
    python benchmarks/repeated_runs.py --cases a2 mlp --runs 3 --repeats 1

Both paths go through ``multirun.repeated_runs`` with the same data, epochs and per-epoch test
evaluation: ``method="sequential"`` (``model.fit`` run after run, 50 steps per execution) and
``method="stacked"`` (every run in one compiled graph). The two runs of a pair are measured back
to back (their order alternates between repeats), and each reports wall seconds and the CPU
seconds of this process (``resource.getrusage``, all threads): on a shared machine wall time
depends on the neighbours, CPU time much less. Cases:

* ``a2``: Assignment 2's MNIST convnet (``models.mnist_convnet``, dropout 0.25/0.5), Adadelta
  (learning rate 1.0, rho 0.9), batch 50;
* ``a3base`` / ``a3h1``: Assignment 3's base model (``models.gap_cnn()``, SGD 0.01 with momentum
  0.9: the notebook's plain SGD at 9e-4 stays at chance for an epoch, which would compare nothing)
  and H1 (width 32, Adam 1e-3), logits, batch 32, CIFAR-10 (Assignment 3 trains them with a
  hand-written loop; this measures the engine on that architecture);
* ``a4``: Assignment 4's dropout network (``models.cifar10_dropout_cnn(0.5)``), SGD 0.01 momentum
  0.9, batch 32, CIFAR-10;
* ``a4better``: Assignment 4's better model (``models.cifar10_better_cnn()``: augmentation, batch
  normalisation, dropout, global average pooling), Adam 1e-3, batch 32, CIFAR-10;
* ``a4past``: Assignment 4's past improved model (``models.cifar10_past_improved_cnn()``: batch
  normalisation, LeakyReLU, spatial dropout), SGD 0.01 momentum 0.9, batch 32, CIFAR-10;
* ``mlp``: Assignment 1's Q2 perceptron (784-32-10, ReLU output, squared error, SGD 0.1, batch 32),
  ten runs on all 60,000 MNIST images; also timed as a plain ``fit`` loop without
  ``steps_per_execution``, the way one would first write it.

Prints one Markdown table row per pair and the median speed-ups per case at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from cnnlab import config, data, models, multirun, tidy  # noqa: E402


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(fn):
    wall, cpu = time.perf_counter(), cpu_seconds()
    accuracies = fn()
    return time.perf_counter() - wall, cpu_seconds() - cpu, np.asarray(accuracies)


def through_repeated_runs(build, train, test, *, runs, epochs, batch_size, method):
    frame = multirun.repeated_runs(build, train, evaluate={"test": test}, runs=runs, epochs=epochs,
                                   batch_size=batch_size, verbose=False, method=method)
    assert frame.attrs["method"] == method
    return tidy.final(frame)["test"].to_numpy()


def plain_fit_loop(build, train, test, *, runs, epochs, batch_size):
    """R runs with model.fit as one would first write it (one step per call, Keras's validation)."""
    accuracies = []
    for run in range(runs):
        config.seed_everything(multirun.run_seed(0, run))
        history = build().fit(*train, epochs=epochs, batch_size=batch_size, validation_data=test, verbose=0)
        accuracies.append(history.history["val_accuracy"][-1])
    return accuracies


def compiled(model, optimizer, logits=False, loss="sparse_categorical_crossentropy"):
    def build():
        net = model()
        net.compile(optimizer=optimizer(), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True)
                    if logits else loss, metrics=["accuracy"])
        return net
    return build


def cases(args):
    """name -> (description, build, train, test, batch size, epochs, fixed runs or None)."""
    (x, y), (xt, yt) = data.load("mnist")
    mnist = data.sample(args.a2_images, data.scale_pixels(x)[..., None], y, seed=0)
    mnist_test = data.sample(args.test_images, data.scale_pixels(xt)[..., None], yt, seed=0)
    eye = np.eye(10, dtype="float32")
    (cx, cy), (cxt, cyt) = data.load("cifar10")
    cifar_test = data.sample(args.test_images, data.scale_pixels(cxt), cyt.ravel(), seed=0)
    cifar = {n: data.sample(n, data.scale_pixels(cx), cy.ravel(), seed=0)
             for n in {args.a3_images, args.a4_images}}
    return {
        "a2": ("A2 MNIST convnet, dropout 0.25/0.5, Adadelta, batch 50",
               compiled(models.mnist_convnet, lambda: keras.optimizers.Adadelta(1.0, rho=0.9)),
               mnist, mnist_test, 50, args.epochs, None),
        "a3base": ("A3 base gap_cnn (16-32, 2x2), SGD 0.01 momentum 0.9, batch 32",
                   compiled(models.gap_cnn, lambda: keras.optimizers.SGD(0.01, momentum=0.9), logits=True),
                   cifar[args.a3_images], cifar_test, 32, args.epochs, None),
        "a3h1": ("A3 H1 gap_cnn (32-64, 2x2), Adam 1e-3, batch 32",
                 compiled(lambda: models.gap_cnn(width=32), lambda: keras.optimizers.Adam(1e-3), logits=True),
                 cifar[args.a3_images], cifar_test, 32, args.epochs, None),
        "a4": ("A4 dropout CNN p=0.5, SGD 0.01 momentum 0.9, batch 32",
               compiled(lambda: models.cifar10_dropout_cnn(0.5), lambda: keras.optimizers.SGD(0.01, momentum=0.9)),
               cifar[args.a4_images], cifar_test, 32, args.epochs, None),
        "a4better": ("A4 better CNN (augmentation, batch norm, dropout), Adam 1e-3, batch 32",
                     compiled(models.cifar10_better_cnn, lambda: keras.optimizers.Adam(1e-3)),
                     cifar[args.a4_images], cifar_test, 32, args.epochs, None),
        "a4past": ("A4 past improved CNN (batch norm, LeakyReLU, spatial dropout), SGD 0.01 momentum 0.9, batch 32",
                   compiled(models.cifar10_past_improved_cnn, lambda: keras.optimizers.SGD(0.01, momentum=0.9)),
                   cifar[args.a4_images], cifar_test, 32, args.epochs, None),
        "mlp": ("A1 Q2 784-32-10 MLP, MSE, SGD 0.1, batch 32",
                compiled(lambda: models.mlp(hidden=[32], output_activation="relu"),
                         lambda: keras.optimizers.SGD(0.1), loss="mean_squared_error"),
                (data.scale_pixels(x), eye[y]), (data.scale_pixels(xt), eye[yt]), 32, args.mlp_epochs, 10),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=["a2", "a3base", "a3h1", "a4", "a4better", "a4past", "mlp"])
    parser.add_argument("--runs", nargs="+", type=int, default=[3, 5])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mlp-epochs", type=int, default=1)
    parser.add_argument("--a2-images", type=int, default=6_000)
    parser.add_argument("--a3-images", type=int, default=20_000)
    parser.add_argument("--a4-images", type=int, default=2_000)
    parser.add_argument("--test-images", type=int, default=1_000)
    parser.add_argument("--plain-fit", action="store_true", help="also time the MLP as a plain fit loop")
    args = parser.parse_args()
    print(config.device_report(), flush=True)
    table = cases(args)
    print("| case | R | images x epochs | sequential wall / CPU s | stacked wall / CPU s | speed-up wall / CPU "
          "| sequential images/s | stacked images/s | test accuracy sequential | test accuracy stacked |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |", flush=True)
    summary = {}
    for name in args.cases:
        description, build, train, test, batch_size, epochs, fixed_runs = table[name]
        for runs in ([fixed_runs] if fixed_runs else args.runs):
            kwargs = dict(runs=runs, epochs=epochs, batch_size=batch_size)
            for repeat in range(args.repeats):
                paths = {m: (lambda m=m: through_repeated_runs(build, train, test, method=m, **kwargs))
                         for m in ("sequential", "stacked")}
                order = ["sequential", "stacked"] if repeat % 2 == 0 else ["stacked", "sequential"]
                results = {m: measure(paths[m]) for m in order}
                (sw, sc, sa), (tw, tc, ta) = results["sequential"], results["stacked"]
                passes = runs * epochs * len(train[0])
                summary.setdefault((name, runs), []).append((sw / tw, sc / tc))
                print(f"| {description} | {runs} | {len(train[0]):,} x {epochs} | {sw:.1f} / {sc:.1f} | "
                      f"{tw:.1f} / {tc:.1f} | {sw / tw:.2f}x / {sc / tc:.2f}x | {passes / sw:.0f} | {passes / tw:.0f} | "
                      f"{sa.mean():.3f} ± {sa.std():.3f} | {ta.mean():.3f} ± {ta.std():.3f} |", flush=True)
            if name == "mlp" and args.plain_fit:
                pw, pc, pa = measure(lambda: plain_fit_loop(build, train, test, **kwargs))
                print(f"| {description}: plain fit loop | {runs} | | {pw:.1f} / {pc:.1f} | | | | | "
                      f"{pa.mean():.3f} ± {pa.std():.3f} | |", flush=True)
    print("\nmedian speed-up (wall, CPU):")
    for (name, runs), ratios in summary.items():
        print(f"  {name} R={runs}: {statistics.median(r[0] for r in ratios):.2f}x, "
              f"{statistics.median(r[1] for r in ratios):.2f}x", flush=True)


if __name__ == "__main__":
    main()
