"""AllTransferClassifier on the development tasks, against scikit-learn peers.

Source: the bundled MNIST subset (default MPDBMClassifier,
StackedAutoencoderClassifier and ConvAutoencoderClassifier, fitted once and
cached). Targets: Fashion-MNIST
pairs Trouser/Dress (1, 3), Sneaker/Ankle boot (7, 9), T-shirt/Dress (0, 3),
Coat/Shirt (4, 6), Bag/Ankle boot (8, 9) and the 4-class task {0, 1, 7, 8},
trained on ``n`` images per class drawn from the Fashion-MNIST training split
and tested on the test split of those classes (the full set from Debian's
``dataset-fashion-mnist``: ``apt-get install dataset-fashion-mnist``; the
bundled subset otherwise). Reports mean ± std accuracy over tasks x draws.
``--task-set held-out`` runs six other pairs instead, to check a choice made
on the development tasks.

``--source-data fashion-other`` replaces the digits, per task, by Fashion-MNIST
training images of the classes outside the task (``--source-size`` of them):
a source of the target's own modality that has never seen its classes, to
measure how much a closer source is worth. ``--source-data fashion`` is the
closest source there is: ``--source-size`` Fashion-MNIST training images of
every class, none of which a draw of this benchmark can pick.

``--quick`` is a smoke run that also serves as a regression check of the
whole path (source fits included): small sources fitted afresh (never read
from the disk cache, so a code change shows), two tasks of the bundled
subset, n = 10, one draw.

Run: ``python benchmarks/bench_alltransfer.py [--n 10 50 100] [--sources sae]``
"""

import json
import math
import time
import warnings

import numpy as np
from common import parser as make_parser
from common import task_set
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.svm import SVC, LinearSVC

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    MPDBMClassifier,
    SourceData,
    StackedAutoencoderClassifier,
    get_cache_dir,
)
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer.datasets import load_mnist, make_target_task
from skalltransfer.datasets._tasks import load_target


def rbf_svc(n_per_class):
    cv = StratifiedKFold(min(3, n_per_class), shuffle=True, random_state=0)
    return GridSearchCV(SVC(), {"C": [0.1, 1, 10, 100]}, cv=cv)


PEERS = {
    "LinearSVC": lambda seed, n: LinearSVC(random_state=seed),
    "LogisticRegression": lambda seed, n: LogisticRegression(max_iter=1000),
    "RBF SVC (C by inner CV)": lambda seed, n: rbf_svc(n),
    "MLPClassifier": lambda seed, n: MLPClassifier(max_iter=500, random_state=seed),
}


def transfer_methods(source, max_iter):
    """The AllTransfer variants compared for one source: every depth T, a new
    hidden layer under a new head, random units, the mean and modified mean
    relations and the paper's recipe."""
    L = len(source.coefs_)

    def make(**kw):
        return lambda seed, n: AllTransferClassifier(
            source, random_state=seed, **{"max_iter": max_iter, **kw}
        )

    methods = {"T=all (default)": make()}
    for T in range(L):
        methods[f"T={T}"] = make(n_transferred_layers=T)
    methods[f"T={L - 1} + new layer"] = make(
        n_transferred_layers=L - 1, extra_hidden_layer=source.coefs_[-2].shape[1]
    )
    methods["random selection"] = make(selection="random")
    methods["mean relation"] = make(relation="mean")
    methods["mean-modified relation"] = make(relation="mean-modified")
    # The default ("auto") shifts a conv source's target images by ±1 pixel.
    if isinstance(source, ConvAutoencoderClassifier):
        methods["no target shifts (shift_augmentation=0)"] = make(shift_augmentation=0)
    else:
        methods["target shifts ±1 (shift_augmentation=1)"] = make(shift_augmentation=1)
    methods["paper recipe (peak, output_scale=1)"] = make(
        selection="peak", output_scale=1.0
    )
    return methods


def epochs_for(n_samples, updates, batch_size=32):
    """Epochs that give about ``updates`` minibatch updates (capped at 100)."""
    if updates is None:
        return 100
    return int(min(100, max(3, math.ceil(updates / math.ceil(n_samples / batch_size)))))


# Small sources of the --quick run: seconds to fit, so they are fitted afresh.
QUICK_SOURCES = {
    "sae": StackedAutoencoderClassifier(
        (100, 100), pretrain_max_iter=3, max_iter=10, random_state=0
    ),
    "mpdbm": MPDBMClassifier((100, 100), max_iter=5, random_state=0),
    "mpdbm-mp": MPDBMClassifier(
        (100, 100), max_iter=5, discriminative_max_iter=0, random_state=0
    ),
    "conv": ConvAutoencoderClassifier(
        ((8, 5), (16, 5)),
        hidden_layer_sizes=(64,),
        pretrain_max_iter=1,
        max_iter=3,
        random_state=0,
    ),  # fmt: skip
}


def fit_sources(source_names, data, memory, quick=False):
    """The named default sources fitted on ``data`` (cached by fingerprint);
    with ``quick``, the small :data:`QUICK_SOURCES`, fitted afresh."""
    specs = {
        "sae": StackedAutoencoderClassifier(random_state=0),
        "mpdbm": MPDBMClassifier(random_state=0),
        # The paper's MP-DBM: multi-prediction training only, whatever the
        # training accuracy (on the bundled digits "auto" gives this model).
        "mpdbm-mp": MPDBMClassifier(random_state=0, discriminative_max_iter=0),
        "conv": ConvAutoencoderClassifier(random_state=0),
    }
    if quick:
        specs, memory = QUICK_SOURCES, None
    sources = {}
    for name in source_names:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if quick:
                sources[name] = clone(specs[name]).fit(data.X, data.y)
            else:
                sources[name], _ = fit_source_cached(specs[name], data, memory)
        print(f"source {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return sources


def other_fashion_classes(X_train, y_train, task, size):
    """Source data from the Fashion-MNIST classes outside ``task``: a source
    of the target's own modality that has never seen the target's classes.
    ``size`` images drawn without replacement (all of them when 0)."""
    rows = np.flatnonzero(~np.isin(y_train, task))
    if size:
        rows = np.random.default_rng(0).choice(rows, size, replace=False)
    return SourceData(X_train[rows], y_train[rows])


def fashion_all_classes(X_train, y_train, size, draws=10, n_values=(10, 50, 100)):
    """Source data from Fashion-MNIST itself, every class included: ``size``
    training images outside every target set of this benchmark (draws
    ``0 .. draws - 1`` at each of ``n_values``, development and held-out
    tasks), so no target image is ever a source image. The rows do not
    depend on a run's own ``--n`` or ``--draws``: one source, cached once."""
    index = np.arange(len(y_train))
    used = set()
    for task in task_set("development") + task_set("held-out"):
        for n in n_values:
            for draw in range(draws):
                rows, _ = make_target_task(index, y_train, task, n, random_state=draw)
                used.update(rows.tolist())
    rows = np.setdiff1d(index, np.fromiter(used, dtype=index.dtype))
    if size > len(rows):
        raise ValueError(
            f"Only {len(rows)} Fashion-MNIST training images are outside the "
            f"benchmark's target draws, fewer than --source-size {size}: pass "
            "a smaller --source-size (0 takes all of them)."
        )
    if size:
        rows = np.random.default_rng(0).choice(rows, size, replace=False)
    return SourceData(X_train[rows], y_train[rows])


def main(
    n_values, draws, task_ids, source_names, mpdbm_updates, target, out,
    source_data="mnist", source_size=5000, quick=False, only=None,
    tasks_from="development",
):  # fmt: skip
    memory = get_cache_dir()
    X_train, y_train, X_test, y_test = load_target(target)
    tasks = [task_set(tasks_from)[i] for i in task_ids]
    # Sources are fitted (or read from the cache) once per task, not per n.
    if source_data in ("mnist", "fashion"):
        data = (
            SourceData(*load_mnist())
            if source_data == "mnist"
            else fashion_all_classes(X_train, y_train, source_size)
        )
        shared = fit_sources(source_names, data, memory, quick=quick)
        task_sources = dict.fromkeys(tasks, shared)
    else:
        task_sources = {
            task: fit_sources(
                source_names,
                other_fashion_classes(X_train, y_train, task, source_size),
                memory,
            )
            for task in tasks
        }

    scores = {}
    for n in n_values:
        for task in tasks:
            mask = np.isin(y_test, task)
            X_eval, y_eval = X_test[mask], np.searchsorted(task, y_test[mask])
            for draw in range(draws):
                X, y = make_target_task(X_train, y_train, task, n, random_state=draw)
                methods = {f"peer: {k}": v for k, v in PEERS.items()}
                for name, source in task_sources[task].items():
                    updates = mpdbm_updates if name.startswith("mpdbm") else None
                    variants = transfer_methods(source, epochs_for(len(X), updates))
                    methods.update(
                        {
                            f"{name}: {k}": v
                            for k, v in variants.items()
                            if only is None or k in only
                        }
                    )
                for method, factory in methods.items():
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        clf = factory(draw, n).fit(X, y)
                    accuracy = float(np.mean(clf.predict(X_eval) == y_eval))
                    record = scores.setdefault(f"{n}|{method}", [])
                    record.append(
                        {
                            "task": list(task),
                            "draw": draw,
                            "accuracy": accuracy,
                            "seconds": time.perf_counter() - start,
                        }
                    )
            print(f"n={n} task={task} done", flush=True)
        print_table(scores, n)
    with open(out, "w") as f:
        json.dump(scores, f, indent=1)
    print(f"raw scores written to {out}")


def print_table(scores, n):
    rows = [(k.split("|", 1)[1], v) for k, v in scores.items() if k.startswith(f"{n}|")]
    print(f"\n### n = {n} images per class\n")
    print("| method | accuracy (%) | per task | fit (s) |")
    print("|---|---|---|---|")
    for method, records in rows:
        acc = 100 * np.array([r["accuracy"] for r in records])
        per_task = {}
        for r in records:
            per_task.setdefault(tuple(r["task"]), []).append(100 * r["accuracy"])
        tasks = " ".join(f"{np.mean(v):.1f}" for v in per_task.values())
        seconds = np.mean([r["seconds"] for r in records])
        print(
            f"| {method} | {acc.mean():.2f} ± {acc.std():.2f} | {tasks} | "
            f"{seconds:.2f} |"
        )
    print(flush=True)


if __name__ == "__main__":
    parser = make_parser(
        __doc__, quick_help="smoke/regression run: small fresh sources, n=10, "
        "tasks 0 and 1 of the bundled subset, one draw",
    )  # fmt: skip
    parser.add_argument("--n", nargs="+", type=int, default=[10, 50, 100, 1000])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--tasks", nargs="+", type=int, default=list(range(6)),
        help="indices into the six tasks of --task-set",
    )  # fmt: skip
    parser.add_argument(
        "--task-set", choices=("development", "held-out"), default="development",
        help="the six development tasks, or six other Fashion-MNIST pairs",
    )  # fmt: skip
    parser.add_argument("--sources", nargs="+", default=["sae", "mpdbm", "conv"])
    parser.add_argument(
        "--methods", nargs="+", default=None,
        help="only these transfer variants (e.g. 'T=all (default)' 'T=3')",
    )  # fmt: skip
    parser.add_argument(
        "--mpdbm-updates", type=int, default=1000,
        help="fine-tuning budget (minibatch updates) of MP-DBM transfers",
    )  # fmt: skip
    parser.add_argument("--target", choices=("full", "subset"), default="full")
    parser.add_argument(
        "--source-data", choices=("mnist", "fashion-other", "fashion"),
        default="mnist",
        help="the bundled MNIST digits; per task the Fashion-MNIST training "
        "images of the classes outside the task (a closer source); or "
        "Fashion-MNIST training images of every class that no target draw "
        "uses (the closest source)",
    )  # fmt: skip
    parser.add_argument(
        "--source-size", type=int, default=5000,
        help="images in a fashion-other or fashion source (0: all of them)",
    )  # fmt: skip
    parser.add_argument("--out", default="bench_alltransfer.json")
    args = parser.parse_args()
    if args.quick:
        args.n, args.draws, args.tasks, args.target = [10], 1, [0, 1], "subset"
    main(
        args.n, args.draws, args.tasks, args.sources, args.mpdbm_updates,
        args.target, args.out, args.source_data, args.source_size, args.quick,
        args.methods, args.task_set,
    )  # fmt: skip
