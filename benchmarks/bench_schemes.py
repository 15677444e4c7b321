"""The ways to reuse a trained network, and truncation, on the development tasks.

Part 1, Fashion-MNIST targets. Source: the default
StackedAutoencoderClassifier(random_state=0) fitted (once, cached) on the
bundled MNIST subset. Targets: the six development tasks of
``bench_alltransfer.py`` (Fashion-MNIST pairs and the 4-class task
{0, 1, 7, 8}), ``n`` training images per class drawn from the training split,
tested on the test split of those classes (the full set when Debian's
``dataset-fashion-mnist`` is installed, the bundled subset otherwise).
Methods:

- structure reuse: the source architecture trained from scratch (T=0);
- feature extraction: frozen hidden layer 1 or 2 + logistic regression;
- fine-tuning under a new head: T=1 or T=2 source layers transferred;
- whole-layer transfer: ``AllTransferClassifier`` defaults (T=all);
- ``TruncatedTransferClassifier``: depth by inner CV ("auto"), or fixed 1;
- peer: LinearSVC on raw pixels.

Direct use of the source is impossible there (Fashion labels are not
digits), so part 2 evaluates it on a *similar* task: a source fitted on 4,000
MNIST images (stratified split, ``random_state=0``), target tasks {3, 8} and
{1, 7} drawn from the 1,000 held-out images (about 100 per digit), ``n`` per
class for training and the remaining held-out images of those classes for
testing;
DirectTransferClassifier against AllTransferClassifier and LinearSVC.

Reports accuracy, and on binary tasks AUROC and AUPRC (class 1 of each task
positive; scores from ``predict_proba`` or ``decision_function``), mean ± std
over tasks x draws, as markdown tables; raw results go to ``--out`` (JSON).

Run: ``python benchmarks/bench_schemes.py [--quick] [--n 10 50 100]
[--tasks 0 1 2 3 4 5] [--draws 3] [--out bench_schemes.json]``
(about 3 minutes on one busy core; ``OMP_NUM_THREADS=1`` recommended).
"""

import json
import time
import warnings

import numpy as np
from common import markdown_table, paired_cell
from common import parser as common_parser
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from skalltransfer import (
    AllTransferClassifier,
    DirectTransferClassifier,
    SourceData,
    SourceFeatures,
    StackedAutoencoderClassifier,
    TruncatedTransferClassifier,
    get_cache_dir,
)
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer.datasets import load_mnist, make_target_task
from skalltransfer.datasets._tasks import DEVELOPMENT_TASKS, load_target

DIGIT_TASKS = ((3, 8), (1, 7))
PEER = "peer: LinearSVC (raw pixels)"


def fashion_methods(source, max_iter):
    """``name -> factory(seed)`` of the Fashion-MNIST comparison."""

    def transfer(cls, **kw):
        return lambda seed: cls(source, random_state=seed, max_iter=max_iter, **kw)

    def features(layer):
        return lambda seed: make_pipeline(
            SourceFeatures(source, layer=layer), LogisticRegression(max_iter=1000)
        )

    return {
        "structure reuse (T=0, from scratch)": transfer(
            AllTransferClassifier, n_transferred_layers=0
        ),
        "feature extraction: layer 1 + LR": features(1),
        "feature extraction: layer 2 + LR": features(2),
        "fine-tuning, new head: T=1": transfer(
            AllTransferClassifier, n_transferred_layers=1
        ),
        "fine-tuning, new head: T=2": transfer(
            AllTransferClassifier, n_transferred_layers=2
        ),
        "whole-layer: AllTransferClassifier defaults": transfer(AllTransferClassifier),
        'TruncatedTransferClassifier("auto")': transfer(TruncatedTransferClassifier),
        "TruncatedTransferClassifier(1)": transfer(
            TruncatedTransferClassifier, truncation=1
        ),
        PEER: lambda seed: LinearSVC(random_state=seed),
    }


def digit_methods(source, task, max_iter):
    """``name -> factory(seed)`` of the direct-use comparison on digits."""
    label_map = dict(enumerate(task))  # target code -> source digit
    return {
        "direct use: DirectTransferClassifier": lambda seed: DirectTransferClassifier(
            source, label_map=label_map
        ),
        "whole-layer: AllTransferClassifier defaults": lambda seed: (
            AllTransferClassifier(source, random_state=seed, max_iter=max_iter)
        ),
        PEER: lambda seed: LinearSVC(random_state=seed),
    }


def positive_scores(clf, X):
    """Scores of class 1 for the ranking metrics."""
    if hasattr(clf, "predict_proba"):
        return clf.predict_proba(X)[:, 1]
    return clf.decision_function(X)


def evaluate(clf, X, y):
    """Accuracy, and AUROC / AUPRC on binary tasks (None otherwise)."""
    result = {"accuracy": float(np.mean(clf.predict(X) == y))}
    if len(np.unique(y)) == 2:
        scores = positive_scores(clf, X)
        result["auroc"] = float(roc_auc_score(y, scores))
        result["auprc"] = float(average_precision_score(y, scores))
    else:
        result["auroc"] = result["auprc"] = None
    return result


def run_methods(methods, X, y, X_eval, y_eval, draw, task, records, n):
    """Fit every method on ``(X, y)``, score it, append to ``records``."""
    for method, factory in methods.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = factory(draw).fit(X, y)
        seconds = time.perf_counter() - start
        record = {
            "n": n,
            "method": method,
            "task": list(task),
            "draw": draw,
            "seconds": seconds,
            **evaluate(clf, X_eval, y_eval),
        }
        if hasattr(clf, "truncation_"):
            record["truncation"] = int(clf.truncation_)
        if getattr(clf, "selected_units_", None) is not None:
            record["selected_units"] = [int(u) for u in clf.selected_units_]
        records.append(record)


# -- part 1: Fashion-MNIST ----------------------------------------------------
def fashion_part(n_values, draws, task_ids, max_iter, target, memory):
    Xs, ys = load_mnist()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source, _ = fit_source_cached(
            StackedAutoencoderClassifier(random_state=0), SourceData(Xs, ys), memory
        )
    print(f"source (5,000 MNIST images): {time.perf_counter() - start:.0f} s")
    X_train, y_train, X_test, y_test = load_target(target)
    print(f"target: Fashion-MNIST, {len(X_train)} train / {len(X_test)} test images")
    tasks = [DEVELOPMENT_TASKS[i] for i in task_ids]
    methods = fashion_methods(source, max_iter)
    records = []
    for n in n_values:
        start = time.perf_counter()
        for task in tasks:
            mask = np.isin(y_test, task)
            X_eval, y_eval = X_test[mask], np.searchsorted(task, y_test[mask])
            for draw in range(draws):
                X, y = make_target_task(X_train, y_train, task, n, random_state=draw)
                run_methods(methods, X, y, X_eval, y_eval, draw, task, records, n)
        print(f"n={n}: {time.perf_counter() - start:.0f} s", flush=True)
    return records


# -- part 2: direct use on a similar (digit) task --------------------------------
def draw_digit_task(X, y, task, n, draw):
    """``n`` training images per class of ``task`` from ``(X, y)``; the rest
    of those classes is the test set. Labels become 0 .. len(task) - 1."""
    rng = np.random.RandomState(draw)
    train, test = [], []
    for digit in task:
        idx = np.flatnonzero(y == digit)
        chosen = np.zeros(idx.size, bool)
        chosen[rng.choice(idx.size, n, replace=False)] = True
        train.append(idx[chosen])
        test.append(idx[~chosen])
    train, test = np.concatenate(train), np.concatenate(test)
    codes = np.searchsorted(task, y)  # the tasks are sorted
    return X[train], codes[train], X[test], codes[test]


def digit_part(n_values, draws, max_iter, memory):
    X, y = load_mnist()
    X_src, X_pool, y_src, y_pool = train_test_split(
        X, y, train_size=4000, stratify=y, random_state=0
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        source, _ = fit_source_cached(
            StackedAutoencoderClassifier(random_state=0),
            SourceData(X_src, y_src),
            memory,
        )
    print(
        f"source (4,000 MNIST images): {time.perf_counter() - start:.0f} s; "
        f"accuracy on the 1,000 held out: {source.score(X_pool, y_pool):.3f}"
    )
    records = []
    for n in n_values:
        for task in DIGIT_TASKS:
            methods = digit_methods(source, task, max_iter)
            for draw in range(draws):
                Xt, yt, Xe, ye = draw_digit_task(X_pool, y_pool, task, n, draw)
                run_methods(methods, Xt, yt, Xe, ye, draw, task, records, n)
        print(f"digits n={n} done", flush=True)
    return records


# -- reporting ------------------------------------------------------------------
def mean_std(values, scale=100.0):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    a = scale * np.asarray(values)
    return f"{a.mean():.1f} ± {a.std():.1f}"


def print_tables(records, title, n_values):
    methods = list(dict.fromkeys(r["method"] for r in records))
    for n in n_values:
        rows = [r for r in records if r["n"] == n]
        if not rows:
            continue
        tasks = list(dict.fromkeys(tuple(r["task"]) for r in rows))
        table = []
        for method in methods:
            mine = [r for r in rows if r["method"] == method]
            per_task = " ".join(
                f"{100 * np.mean([r['accuracy'] for r in mine if r['task'] == t]):.1f}"
                for t in map(list, tasks)
            )
            table.append(
                [
                    method,
                    mean_std([r["accuracy"] for r in mine]),
                    mean_std([r["auroc"] for r in mine]),
                    mean_std([r["auprc"] for r in mine]),
                    per_task,
                    f"{np.mean([r['seconds'] for r in mine]):.2f}",
                ]
            )
        task_names = " ".join("/".join(map(str, t)) for t in tasks)
        markdown_table(
            ["method", "accuracy (%)", "AUROC (%)", "AUPRC (%)",
             f"accuracy per task {task_names}", "fit (s)"],
            table,
            f"{title}, n = {n} per class (mean ± std over tasks x draws; "
            "AUROC and AUPRC over the binary tasks only)",
        )  # fmt: skip
        depths = [
            r["truncation"] for r in rows if "auto" in r["method"] and "truncation" in r
        ]
        if depths:
            counts = np.bincount(depths)
            picks = ", ".join(f"k={k}: {c}" for k, c in enumerate(counts) if c)
            print(f'TruncatedTransferClassifier("auto") chose {picks}.')
    present = [n for n in n_values if any(r["n"] == n for r in records)]

    def accuracy(method, n):
        return [r["accuracy"] for r in records if r["n"] == n and r["method"] == method]

    table = [[m, *(mean_std(accuracy(m, n)) for n in present)] for m in methods]
    markdown_table(
        ["method", *(f"n={n}" for n in present)],
        table,
        f"{title}: accuracy (%) against n per class",
    )
    print_paired(records, methods, present, title)


def print_paired(records, methods, n_values, title, peer=PEER):
    """Accuracy minus the peer's on the same (task, draw): the task-to-task
    spread, which dominates the std above, cancels."""
    if peer not in methods:
        return
    peer_accuracy = {
        (r["n"], tuple(r["task"]), r["draw"]): r["accuracy"]
        for r in records
        if r["method"] == peer
    }
    table = []
    for method in methods:
        if method == peer:
            continue
        cells = []
        for n in n_values:
            diff = [
                100 * (r["accuracy"] - peer_accuracy[n, tuple(r["task"]), r["draw"]])
                for r in records
                if r["n"] == n and r["method"] == method
            ]
            cells.append(paired_cell(diff))
        table.append([method, *cells])
    markdown_table(
        ["method", *(f"n={n}" for n in n_values)],
        table,
        f"{title}: accuracy difference to {peer.removeprefix('peer: ')}, "
        "paired by (task, draw): mean ± standard error [better / worse]",
    )


def main(n_values, draws, task_ids, digit_n, max_iter, target, out, skip_digits):
    memory = get_cache_dir()
    start = time.perf_counter()
    fashion = fashion_part(n_values, draws, task_ids, max_iter, target, memory)
    print_tables(fashion, "Fashion-MNIST (MNIST source)", n_values)
    digits = []
    if not skip_digits:
        digits = digit_part(digit_n, draws, max_iter, memory)
        print_tables(digits, "Similar task: held-out MNIST digits", digit_n)
        units = [
            (tuple(r["task"]), r["selected_units"])
            for r in digits
            if r["method"].startswith("whole-layer") and "selected_units" in r
        ]
        hits = sum(list(t) == u for t, u in units)
        print(
            f"AllTransferClassifier selected the target digits' own units in "
            f"{hits} of {len(units)} fits."
        )
    with open(out, "w") as f:
        json.dump({"fashion": fashion, "digits": digits}, f, indent=1)
    print(f"raw results written to {out}; total {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    parser = common_parser(
        __doc__, quick_help="smoke run: n=10, one draw, tasks 0 and 5, 10 epochs"
    )
    parser.add_argument("--n", nargs="+", type=int, default=[10, 50, 100])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument(
        "--tasks", nargs="+", type=int, default=list(range(6)),
        help="indices into the six development tasks",
    )  # fmt: skip
    parser.add_argument(
        "--digit-n", nargs="+", type=int, default=[10, 50],
        help="images per class of the direct-use (digit) part",
    )  # fmt: skip
    parser.add_argument(
        "--max-iter", type=int, default=100,
        help="fine-tuning epochs of the network methods (the estimators' default)",
    )  # fmt: skip
    parser.add_argument("--target", choices=("full", "subset"), default="full")
    parser.add_argument("--out", default="bench_schemes.json")
    parser.add_argument("--skip-digits", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.draws, args.tasks = [10], 1, [0, 5]
        args.digit_n, args.max_iter = [10], 10
    main(
        args.n, args.draws, args.tasks, args.digit_n, args.max_iter,
        args.target, args.out, args.skip_digits,
    )  # fmt: skip
