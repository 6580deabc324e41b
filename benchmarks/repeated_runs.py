"""Time R independent training runs: the sequential path against the stacked engine.

    python benchmarks/repeated_runs.py --output benchmarks/stacked_results.md   # the table
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
* ``a4``: Assignment 4's dropout network at the assignment's widths (its notebook's
  ``dropout_network(0.5)``), SGD 0.01 momentum 0.9, batch 32, CIFAR-10;
* ``a4better``: Assignment 4's better model (its notebook's ``better_network(True)``: augmentation, batch
  normalisation, dropout, global average pooling), Adam 1e-3, batch 32, CIFAR-10;
* ``a4past``: Assignment 4's past improved model (its notebook's ``past_network()``: batch
  normalisation, LeakyReLU, spatial dropout), SGD 0.01 momentum 0.9, batch 32, CIFAR-10;
* ``mlp``: Assignment 1's Q2 perceptron (784-32-10, ReLU output, squared error, SGD 0.1, batch 32),
  ten runs on all 60,000 MNIST images; also timed as a plain ``fit`` loop without
  ``steps_per_execution``, the way one would first write it.

The Assignment 4 networks are the functions their notebooks define, read from the MyST sources
(``tests/notebook_source.py``), so the benchmark measures what the book trains.

Each measurement also records the training throughput with the warm-up excluded: both paths
report their progress (every 50 steps for ``fit``, 20 times an epoch for the stacked graph), and
the images trained between a run's first report and its last, over the time between them, leave
out the tracing and compilation of the first call (which ``fit`` pays once per run, the stacked
path once) and the per-epoch evaluation. Prints one Markdown row per pair and a table of medians
over the repeats (``--output`` also writes them to a file, with the date and machine).
"""

from __future__ import annotations

import argparse
import datetime
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import tensorflow as tf  # noqa: E402

from cnnlab import config, data, models, multirun, progress, tidy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from notebook_source import definition  # noqa: E402

A4 = ROOT / "book" / "a4-cifar10-lab"


def a4_network(notebook: str, name: str, *args):
    """A network Assignment 4's notebook writes out, at the assignment's sizes (each case compiles
    it again with the optimizer it names)."""
    return definition(A4 / notebook, name, "full", steps=1)(*args)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RecordedProgress(progress.Progress):
    """A progress line that shows nothing but records (wall, CPU seconds, step) at every report.
    It claims to be live, so the stacked path trains in 20 calls per epoch as it does in a notebook
    (the numbers do not change, tests/test_progress.py) and reports between them."""

    made: list["RecordedProgress"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.marks = []
        RecordedProgress.made.append(self)

    live = True

    def _show(self, text, final=False):
        pass

    def update(self, epoch, step):
        self.marks.append((time.perf_counter(), cpu_seconds(), (epoch - 1) * self.steps + step))


def steady_rate(made, batch_size, n, runs_per_line):
    """Images per wall second and per CPU second between each progress line's first and last
    report (the first call into a training graph, with its tracing, left out); a line reports the
    steps of ``runs_per_line`` runs (all of them on the stacked path, one with ``fit``)."""
    images = wall = cpu = 0.0
    for line in made:
        if len(line.marks) < 2:
            continue
        (w0, c0, s0), (w1, c1, s1) = line.marks[0], line.marks[-1]
        images += (min(s1 * batch_size, n * line.epochs) - s0 * batch_size) * runs_per_line
        wall, cpu = wall + w1 - w0, cpu + c1 - c0
    return (images / wall, images / cpu) if wall else (float("nan"), float("nan"))


def measure(fn, batch_size, n, runs_per_line=1):
    RecordedProgress.made = []
    wall, cpu = time.perf_counter(), cpu_seconds()
    accuracies = fn()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return wall, cpu, np.asarray(accuracies), steady_rate(RecordedProgress.made, batch_size, n, runs_per_line)


def through_repeated_runs(build, train, test, *, runs, epochs, batch_size, method):
    frame = multirun.repeated_runs(
        build,
        train,
        evaluate={"test": test},
        runs=runs,
        epochs=epochs,
        batch_size=batch_size,
        verbose=False,
        method=method,
    )
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
        net.compile(
            optimizer=optimizer(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True) if logits else loss,
            metrics=["accuracy"],
        )
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
    cifar = {n: data.sample(n, data.scale_pixels(cx), cy.ravel(), seed=0) for n in {args.a3_images, args.a4_images}}
    return {
        "a2": (
            "A2 MNIST convnet, dropout 0.25/0.5, Adadelta, batch 50",
            compiled(models.mnist_convnet, lambda: keras.optimizers.Adadelta(1.0, rho=0.9)),
            mnist,
            mnist_test,
            50,
            args.epochs,
            None,
        ),
        "a3base": (
            "A3 base gap_cnn (16-32, 2x2), SGD 0.01 momentum 0.9, batch 32",
            compiled(models.gap_cnn, lambda: keras.optimizers.SGD(0.01, momentum=0.9), logits=True),
            cifar[args.a3_images],
            cifar_test,
            32,
            args.epochs,
            None,
        ),
        "a3h1": (
            "A3 H1 gap_cnn (32-64, 2x2), Adam 1e-3, batch 32",
            compiled(lambda: models.gap_cnn(width=32), lambda: keras.optimizers.Adam(1e-3), logits=True),
            cifar[args.a3_images],
            cifar_test,
            32,
            args.epochs,
            None,
        ),
        "a4": (
            "A4 dropout CNN p=0.5, SGD 0.01 momentum 0.9, batch 32",
            compiled(lambda: a4_network("dropout.md", "dropout_network", 0.5), lambda: keras.optimizers.SGD(0.01, momentum=0.9)),
            cifar[args.a4_images],
            cifar_test,
            32,
            args.epochs,
            None,
        ),
        "a4better": (
            "A4 better CNN (augmentation, batch norm, dropout), Adam 1e-3, batch 32",
            compiled(lambda: a4_network("improved.md", "better_network", True), lambda: keras.optimizers.Adam(1e-3)),
            cifar[args.a4_images],
            cifar_test,
            32,
            args.epochs,
            None,
        ),
        "a4past": (
            "A4 past improved CNN (batch norm, LeakyReLU, spatial dropout), SGD 0.01 momentum 0.9, batch 32",
            compiled(lambda: a4_network("improved.md", "past_network"), lambda: keras.optimizers.SGD(0.01, momentum=0.9)),
            cifar[args.a4_images],
            cifar_test,
            32,
            args.epochs,
            None,
        ),
        "mlp": (
            "A1 Q2 784-32-10 MLP, MSE, SGD 0.1, batch 32",
            compiled(
                lambda: models.mlp(hidden=[32], output_activation="relu"),
                lambda: keras.optimizers.SGD(0.1),
                loss="mean_squared_error",
            ),
            (data.scale_pixels(x), eye[y]),
            (data.scale_pixels(xt), eye[yt]),
            32,
            args.mlp_epochs,
            10,
        ),
    }


ROW_HEADER = (
    "| case | R | images x epochs | sequential wall / CPU s | stacked wall / CPU s | speed-up wall / CPU "
    "| sequential images/s, warm-up excluded (wall / CPU) | stacked images/s (wall / CPU) "
    "| speed-up, warm-up excluded (wall / CPU) | test accuracy sequential | test accuracy stacked |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |"
)
MEDIAN_HEADER = (
    "| case | R | sequential images/s | stacked images/s | speed-up, warm-up excluded (wall / CPU) "
    "| speed-up of the whole call, tracing and evaluation included (wall / CPU) |\n"
    "| --- | ---: | ---: | ---: | ---: | ---: |"
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--cases",
        nargs="+",
        default=["a2", "a3base", "a3h1", "a4", "mlp"],
        help="any of a2 a3base a3h1 a4 a4better a4past mlp",
    )
    parser.add_argument("--runs", nargs="+", type=int, default=[3, 5])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--mlp-epochs", type=int, default=1)
    parser.add_argument("--a2-images", type=int, default=6_000)
    parser.add_argument("--a3-images", type=int, default=9_600)
    parser.add_argument("--a4-images", type=int, default=2_400)
    parser.add_argument("--test-images", type=int, default=500)
    parser.add_argument("--plain-fit", action="store_true", help="also time the MLP as a plain fit loop")
    parser.add_argument("--output", help="write the tables to this Markdown file")
    args = parser.parse_args()
    multirun.Progress = RecordedProgress
    import cnnlab.stacked_train as stacked_train

    stacked_train.Progress = RecordedProgress
    print(config.device_report(), flush=True)
    table = cases(args)
    rows, summary = [], {}
    print(ROW_HEADER, flush=True)
    for name in args.cases:
        description, build, train, test, batch_size, epochs, fixed_runs = table[name]
        n = len(train[0])
        for runs in ([fixed_runs] if fixed_runs else args.runs):
            kwargs = dict(runs=runs, epochs=epochs, batch_size=batch_size)
            for repeat in range(args.repeats):
                paths = {
                    m: (lambda m=m: through_repeated_runs(build, train, test, method=m, **kwargs))
                    for m in ("sequential", "stacked")
                }
                order = ["sequential", "stacked"] if repeat % 2 == 0 else ["stacked", "sequential"]
                results = {m: measure(paths[m], batch_size, n, runs if m == "stacked" else 1) for m in order}
                (sw, sc, sa, (sr, src)), (tw, tc, ta, (tr, trc)) = results["sequential"], results["stacked"]
                summary.setdefault((name, runs), []).append((sw / tw, sc / tc, sr, tr, tr / sr, trc / src))
                rows.append(
                    f"| {description} | {runs} | {n:,} x {epochs} | {sw:.1f} / {sc:.1f} | {tw:.1f} / {tc:.1f} | "
                    f"{sw / tw:.2f}x / {sc / tc:.2f}x | {sr:.0f} / {src:.0f} | {tr:.0f} / {trc:.0f} | "
                    f"{tr / sr:.2f}x / {trc / src:.2f}x | {sa.mean():.3f} ± {sa.std():.3f} | "
                    f"{ta.mean():.3f} ± {ta.std():.3f} |"
                )
                print(rows[-1], flush=True)
            if name == "mlp" and args.plain_fit:
                pw, pc, pa, _ = measure(lambda: plain_fit_loop(build, train, test, **kwargs), batch_size, n)
                rows.append(
                    f"| {description}: plain fit loop | {runs} | | {pw:.1f} / {pc:.1f} | | | | | | "
                    f"{pa.mean():.3f} ± {pa.std():.3f} | |"
                )
                print(rows[-1], flush=True)
    medians = []
    for (name, runs), values in summary.items():
        m = [statistics.median(v[i] for v in values) for i in range(6)]
        medians.append(
            f"| {table[name][0]} | {runs} | {m[2]:.0f} | {m[3]:.0f} | {m[4]:.2f}x / {m[5]:.2f}x | "
            f"{m[0]:.2f}x / {m[1]:.2f}x |"
        )
    print("\nmedians over the repeats:\n" + MEDIAN_HEADER + "\n" + "\n".join(medians), flush=True)
    if args.output:
        with open(args.output, "w") as out:
            out.write(
                f"# Stacked engine against sequential fit\n\n"
                f"Measured {datetime.date.today().isoformat()} with `python benchmarks/repeated_runs.py "
                f"{' '.join(os.sys.argv[1:])}` on {os.cpu_count()} CPU cores (`nproc`: "
                f"{len(os.sched_getaffinity(0))}), TensorFlow {tf.__version__}, Keras {keras.__version__}, "
                f"XLA off; the machine was shared with other jobs. Medians over {args.repeats} repeats "
                f"(the two paths measured back to back, their order alternating). Images/s count training "
                f"images of all runs together, warm-up excluded (see the script's docstring).\n\n"
                + MEDIAN_HEADER
                + "\n"
                + "\n".join(medians)
                + "\n\nEvery measurement:\n\n"
                + ROW_HEADER
                + "\n"
                + "\n".join(rows)
                + "\n"
            )


if __name__ == "__main__":
    main()
