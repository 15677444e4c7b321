"""Active fine-tuning: learning curves of the query strategies of skalltransfer.active.

Source: the default StackedAutoencoderClassifier(random_state=0) fitted (once,
cached) on the bundled MNIST subset. Targets: binary Fashion-MNIST
development tasks (default Coat/Shirt (4, 6), T-shirt/Dress (0, 3),
Trouser/Dress (1, 3)). For every task and seed, a pool of ``--pool``
unlabelled training images (half of each class) is drawn, ``--initial``
labels (half per class, the same for every strategy of that seed) start the
loop, and ``ActiveTransferLearner(AllTransferClassifier(source,
max_iter=...), strategy, retrain="continual")`` queries ``--batch-size``
labels per round from the oracle (the pool's true labels) for ``--rounds``
rounds. Test accuracy on the task's test images is recorded after every
round (``history_``). Strategies: RandomSampling, EntropySampling,
AIFTSampling and MMDCoreSetSampling (``X_source`` = the MNIST source images).
For reference, AllTransferClassifier is also fitted on the whole labelled
pool.

Prints mean accuracy at several label counts (over tasks x seeds), the
paired difference to random sampling, per-task summaries, and saves a plot
of the curves (mean ± std over seeds) to ``--plot``; raw curves to ``--out``.

Run: ``python benchmarks/bench_active.py [--quick] [--seeds 10] [--n-jobs 2]
[--plot benchmarks/active_learning_curves.png]`` (defaults: 3 tasks x 10
seeds x 4 strategies, 10 -> 200 labels; about 10 minutes on one busy core;
``OMP_NUM_THREADS=1`` recommended).
"""

import json
import os
import time
import warnings

import matplotlib
import numpy as np
from common import markdown_table, paired_cell
from common import parser as common_parser
from joblib import Parallel, delayed
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    SourceData,
    StackedAutoencoderClassifier,
    get_cache_dir,
)
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer.active import (
    ActiveTransferLearner,
    AIFTSampling,
    EntropySampling,
    MMDCoreSetSampling,
    RandomSampling,
)
from skalltransfer.datasets import load_mnist, make_target_task
from skalltransfer.datasets._mnist import FASHION_MNIST_CLASSES
from skalltransfer.datasets._tasks import (
    DEVELOPMENT_TASKS,
    load_target,
)

MISSING = -1


def make_strategy(name, X_source):
    """A fresh strategy; unseeded ones are seeded by the learner."""
    return {
        "random": lambda: RandomSampling(),
        "entropy": lambda: EntropySampling(),
        "aift": lambda: AIFTSampling(),
        "mmd_coreset": lambda: MMDCoreSetSampling(X_source=X_source),
    }[name]()


STRATEGY_LABELS = {
    "random": "RandomSampling",
    "entropy": "EntropySampling",
    "aift": "AIFTSampling",
    "mmd_coreset": "MMDCoreSetSampling",
}


def draw_pool(X_train, y_train, task, pool_size, n_initial, seed):
    """A balanced pool of the task's training images and its initial labels."""
    X, y = make_target_task(
        X_train, y_train, task, pool_size // len(task), random_state=1000 + seed
    )
    rng = np.random.RandomState(seed)
    per_class = max(1, n_initial // len(task))
    initial = np.concatenate(
        [
            rng.choice(np.flatnonzero(y == c), per_class, replace=False)
            for c in range(len(task))
        ]
    )
    y_start = np.full(len(y), MISSING)
    y_start[initial] = y[initial]
    return X, y, y_start


def run_curve(source, strategy, X, y, y_start, X_val, y_val, settings, seed):
    """One active-learning run; returns the fitted learner."""
    estimator = AllTransferClassifier(
        source, max_iter=settings["max_iter"], random_state=seed
    )
    learner = ActiveTransferLearner(
        estimator,
        strategy,
        batch_size=settings["batch_size"],
        n_rounds=settings["rounds"],
        initial_size=0,
        retrain="continual",
        missing_label=MISSING,
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        learner.fit(X, y_start, oracle=y, X_val=X_val, y_val=y_val)
    return learner


def run_job(source, X_source, name, task, seed, data, settings):
    """Every curve of one (task, seed): all strategies on the same pool, plus
    the whole-pool reference."""
    X, y, y_start, X_val, y_val = data
    records = []
    for strategy in settings["strategies"]:
        start = time.perf_counter()
        learner = run_curve(
            source,
            make_strategy(strategy, X_source),
            X,
            y,
            y_start,
            X_val,
            y_val,
            settings,
            seed,
        )
        history = learner.history_
        counts = np.bincount(y[learner.labeled_indices_], minlength=len(task))
        records.append(
            {
                "task": list(task),
                "task_name": name,
                "seed": seed,
                "strategy": strategy,
                "n_labels": history["n_labels"],
                "accuracy": history["score"],
                "fit_time": float(np.sum(history["fit_time"])),
                "query_time": float(np.sum(history["query_time"])),
                "minority_share": float(counts.min() / counts.sum()),
                "seconds": time.perf_counter() - start,
            }
        )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = AllTransferClassifier(
            source, max_iter=settings["max_iter"], random_state=seed
        ).fit(X, y)
    records.append(
        {
            "task": list(task),
            "task_name": name,
            "seed": seed,
            "strategy": "full_pool",
            "n_labels": [len(y)],
            "accuracy": [float(full.score(X_val, y_val))],
            "seconds": time.perf_counter() - start,
        }
    )
    return records


# -- reporting ------------------------------------------------------------------
def curves(records, strategy, task=None):
    """(n_labels, accuracies of shape (n_runs, n_points)) of one strategy."""
    rows = [
        r
        for r in records
        if r["strategy"] == strategy and (task is None or r["task"] == list(task))
    ]
    return np.asarray(rows[0]["n_labels"]), np.array([r["accuracy"] for r in rows])


def reference(records, task=None):
    acc = [
        r["accuracy"][0]
        for r in records
        if r["strategy"] == "full_pool" and (task is None or r["task"] == list(task))
    ]
    return 100 * np.mean(acc), 100 * np.std(acc)


def report_counts(n_labels, wanted):
    present = [c for c in wanted if c in set(n_labels.tolist())]
    if n_labels[-1] not in present:
        present.append(int(n_labels[-1]))
    return present


def print_tables(records, settings, tasks, names):
    strategies = settings["strategies"]
    n_labels, _ = curves(records, strategies[0])
    counts = report_counts(n_labels, [10, 20, 30, 50, 100, 150, 200])
    cols = [int(np.flatnonzero(n_labels == c)[0]) for c in counts]
    n_runs = len(curves(records, strategies[0])[1])
    curve_headers = ["strategy", *(f"{c} labels" for c in counts), "ALC"]

    rows = []
    for s in strategies:
        acc = 100 * curves(records, s)[1]
        cells = [f"{acc[:, j].mean():.1f} ± {acc[:, j].std():.1f}" for j in cols]
        rows.append([STRATEGY_LABELS[s], *cells, f"{acc.mean():.1f}"])
    markdown_table(
        curve_headers,
        rows,
        f"Test accuracy (%) against labels queried, mean ± std over "
        f"{len(tasks)} tasks x {settings['seeds']} seeds ({n_runs} runs)",
    )
    mean, std = reference(records)
    print(
        f"ALC: mean accuracy over all {len(n_labels)} points of the curve. "
        f"Reference, all {settings['pool']} pool images labelled: "
        f"{mean:.1f} ± {std:.1f}."
    )

    if "random" in strategies:
        base = curves(records, "random")[1]
        rows = []
        for s in strategies:
            if s == "random":
                continue
            diff = 100 * (curves(records, s)[1] - base)
            cells = [paired_cell(diff[:, j]) for j in cols]
            rows.append([STRATEGY_LABELS[s], *cells, paired_cell(diff.mean(axis=1))])
        markdown_table(
            curve_headers,
            rows,
            "Paired difference to RandomSampling (accuracy points; same pool, "
            "initial labels and seed): mean ± standard error [runs better / worse]",
        )

    rows = []
    for s in strategies:
        cells = []
        for t in tasks:
            acc = 100 * curves(records, s, t)[1]
            cells.append(
                f"{acc[:, cols[1]].mean():.1f} / {acc[:, cols[-1]].mean():.1f} "
                f"/ {acc.mean():.1f}"
            )
        rows.append([STRATEGY_LABELS[s], *cells])
    rows.append(
        [f"all {settings['pool']} labelled"]
        + [f"{reference(records, t)[0]:.1f}" for t in tasks]
    )
    markdown_table(
        ["strategy", *(names[tuple(t)] for t in tasks)],
        rows,
        f"Per task: accuracy (%) at {counts[1]} and {counts[-1]} labels, and ALC",
    )

    rows = []
    for s in strategies:
        runs = [r for r in records if r["strategy"] == s]
        share = 100 * np.array([r["minority_share"] for r in runs])
        rows.append(
            [
                STRATEGY_LABELS[s],
                f"{np.mean([r['fit_time'] for r in runs]):.1f}",
                f"{np.mean([r['query_time'] for r in runs]):.1f}",
                f"{share.mean():.1f} [{share.min():.1f}]",
            ]
        )
    markdown_table(
        ["strategy", "fit (s)", "query (s)", "minority share (%)"],
        rows,
        "Seconds per run (all fits / all queries) and the minority class's "
        "share of the final labelled set, mean [min] over runs",
    )


def plot_curves(records, settings, tasks, names, path):
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [*tasks, None] if len(tasks) > 1 else list(tasks)
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(5 * ncols, 3.8 * nrows + 0.5), squeeze=False
    )
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, task in zip(axes.flat, panels):
        for s in settings["strategies"]:
            n_labels, acc = curves(records, s, task)
            if task is None:
                # Mean over tasks first, then spread over seeds.
                per_task = [curves(records, s, t)[1] for t in tasks]
                acc = np.mean(per_task, axis=0)
            mean, std = 100 * acc.mean(axis=0), 100 * acc.std(axis=0)
            (line,) = ax.plot(n_labels, mean, label=STRATEGY_LABELS[s], lw=1.5)
            ax.fill_between(
                n_labels, mean - std, mean + std, color=line.get_color(), alpha=0.15
            )
        ref, _ = reference(records, task)
        ax.axhline(
            ref,
            color="k",
            ls="--",
            lw=1,
            label=f"all {settings['pool']} pool labels",
        )
        ax.set_title("mean over tasks" if task is None else names[tuple(task)])
        ax.set_xlabel(f"labels ({settings['initial']} initial + queried)")
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    axes.flat[len(panels) - 1].legend(loc="lower right", fontsize=8)
    fig.suptitle(
        "Active fine-tuning of AllTransferClassifier, MNIST SAE source -> "
        f"Fashion-MNIST\nmean ± std over {settings['seeds']} seeds",
        fontsize=10,
    )
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(task_ids, settings, target, n_jobs, plot, out):
    start = time.perf_counter()
    Xs, ys = load_mnist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source, _ = fit_source_cached(
            StackedAutoencoderClassifier(random_state=0),
            SourceData(Xs, ys),
            get_cache_dir(),
        )
    print(f"source: {time.perf_counter() - start:.0f} s", flush=True)
    X_train, y_train, X_test, y_test = load_target(target)
    tasks = [DEVELOPMENT_TASKS[i] for i in task_ids]
    names = {t: " vs ".join(FASHION_MNIST_CLASSES[c] for c in t) for t in tasks}
    jobs = []
    for task in tasks:
        mask = np.isin(y_test, task)
        X_val, y_val = X_test[mask], np.searchsorted(task, y_test[mask])
        for seed in range(settings["seeds"]):
            X, y, y_start = draw_pool(
                X_train, y_train, task, settings["pool"], settings["initial"], seed
            )
            data = (X, y, y_start, X_val, y_val)
            jobs.append(
                delayed(run_job)(source, Xs, names[task], task, seed, data, settings)
            )
    print(
        f"{len(jobs)} (task, seed) jobs x {len(settings['strategies'])} strategies; "
        f"pool {settings['pool']}, {settings['initial']} initial labels, "
        f"{settings['rounds']} rounds of {settings['batch_size']}, "
        f"max_iter={settings['max_iter']}, {len(X_val)} test images per task",
        flush=True,
    )
    results = Parallel(n_jobs=n_jobs, verbose=5 if n_jobs != 1 else 0)(jobs)
    records = [r for job in results for r in job]
    print_tables(records, settings, tasks, names)
    plot_curves(records, settings, tasks, names, plot)
    with open(out, "w") as f:
        json.dump({"settings": settings, "records": records}, f, indent=1)
    print(f"plot: {plot}; raw curves: {out}")
    print(f"total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = common_parser(
        __doc__, quick_help="smoke run: one task, 2 seeds, pool 200, 3 rounds, 5 epochs"
    )
    parser.add_argument(
        "--tasks", nargs="+", type=int, default=[3, 2, 0],
        help="indices into the development tasks (binary ones: 0-4)",
    )  # fmt: skip
    parser.add_argument(
        "--strategies", nargs="+", choices=list(STRATEGY_LABELS),
        default=list(STRATEGY_LABELS),
    )  # fmt: skip
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--initial", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=19)
    parser.add_argument(
        "--max-iter", type=int, default=50,
        help="fine-tuning epochs per round (continual: from the previous model)",
    )  # fmt: skip
    parser.add_argument("--target", choices=("full", "subset"), default="full")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--plot", default="benchmarks/active_learning_curves.png")
    parser.add_argument("--out", default="bench_active.json")
    args = parser.parse_args()
    if args.quick:
        args.tasks, args.seeds, args.pool = args.tasks[:1], 2, 200
        args.rounds, args.max_iter = 3, 5
    settings = {
        "strategies": args.strategies,
        "seeds": args.seeds,
        "pool": args.pool,
        "initial": args.initial,
        "batch_size": args.batch_size,
        "rounds": args.rounds,
        "max_iter": args.max_iter,
    }
    main(args.tasks, settings, args.target, args.n_jobs, args.plot, args.out)
