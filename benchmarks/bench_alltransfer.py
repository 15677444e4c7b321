"""AllTransferClassifier against scikit-learn and PyTorch peers on Fashion-MNIST.

Source: the bundled MNIST subset (default MPDBMClassifier,
StackedAutoencoderClassifier and ConvAutoencoderClassifier, fitted once and
cached). Targets: Fashion-MNIST
pairs Trouser/Dress (1, 3), Sneaker/Ankle boot (7, 9), T-shirt/Dress (0, 3),
Coat/Shirt (4, 6), Bag/Ankle boot (8, 9), the 4-class task {0, 1, 7, 8} and
the 8-class task {0, 1, 3, 4, 6, 7, 8, 9},
trained on ``n`` images per class drawn from the Fashion-MNIST training split
and tested on the test split of those classes (the full set from Debian's
``dataset-fashion-mnist``: ``apt-get install dataset-fashion-mnist``; the
bundled subset otherwise). Reports mean ± std accuracy over tasks x draws,
ten draws at n = 10 (``--draws-at-10``) and ``--draws`` (3) at the other
sizes. ``--task-set held-out`` runs six other pairs and the 8-class task
{0, 2, 3, 4, 5, 6, 7, 9} instead, to check a choice made on the development
tasks.

The peers: scikit-learn models on raw pixels (``LinearSVC``,
``LogisticRegression``, an RBF ``SVC`` with ``C`` by inner cross-validation,
``MLPClassifier``) and, when PyTorch is installed (a benchmark-only extra;
the CPU build is enough: ``pip install torch --index-url
https://download.pytorch.org/whl/cpu``), the three a deep-learning
practitioner would use, with the architecture of the default conv source
(``torch_peers.py``): the network trained from scratch, the network
pretrained on the same 5,000 digits and fine-tuned whole under a new output
layer, and a logistic regression on its dense features. Each table ends
with the best single peer at that size (the PyTorch peers included) and the
margins of every source's default transfer over it and over its own T = 0.
``--no-torch`` leaves the
PyTorch peers out; without PyTorch they are left out, and the run says so.

``--source-data fashion-other`` replaces the digits, per task, by Fashion-MNIST
training images of the classes outside the task (``--source-size`` of them):
a source of the target's own modality that has never seen its classes, to
measure how much a closer source is worth. ``--source-data fashion`` is the
closest source there is: ``--source-size`` Fashion-MNIST training images of
every class, none of which a draw of this benchmark can pick.

``--quick`` is a smoke run that also serves as a regression check of the
whole path (source fits included): small sources fitted afresh (never read
from the disk cache, so a code change shows; the PyTorch network pretrained
for one epoch and fine-tuned for 20 updates), two tasks of the bundled
subset, n = 10, one draw.

The raw scores (``--out``) are rewritten after every task, so an interrupted
run keeps what it measured; ``--report FILE [FILE ...]`` prints the tables of
one or several such files (merged) without running anything.

Run: ``python benchmarks/bench_alltransfer.py [--n 10 50 100] [--sources sae]``
"""

import json
import math
import time
import warnings

import numpy as np
import torch_peers
from common import markdown_table, task_set
from common import parser as make_parser
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
    relations and the paper's recipe; for a conv source also the fine-tuning
    recipes tried against the PyTorch peers."""
    L = len(source.coefs_)

    budget = {} if max_iter is None else {"max_iter": max_iter}

    def make(**kw):
        return lambda seed, n: AllTransferClassifier(
            source, random_state=seed, **{**budget, **kw}
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
    # The default ("auto") shifts a conv source's target images by ±1 pixel
    # and fine-tunes for at least 400 minibatch updates, all of them; the
    # other recipes tried against the PyTorch peers.
    if isinstance(source, ConvAutoencoderClassifier):
        methods["no target shifts (shift_augmentation=0)"] = make(shift_augmentation=0)
        methods["target shifts ±2 (shift_augmentation=2)"] = make(shift_augmentation=2)
        plateau = dict(max_iter=100, n_iter_no_change=10)
        methods["100 epochs, stop on a plateau"] = make(**plateau)
        methods["T=0, 100 epochs, stop on a plateau"] = make(
            n_transferred_layers=0, **plateau
        )
        methods["±2 shifts, 100 epochs, stop on a plateau"] = make(
            shift_augmentation=2, **plateau
        )
    else:
        methods["target shifts ±1 (shift_augmentation=1)"] = make(shift_augmentation=1)
    methods["paper recipe (peak, output_scale=1)"] = make(
        selection="peak", output_scale=1.0
    )
    return methods


def epochs_for(n_samples, updates, batch_size=32):
    """Epochs that give about ``updates`` minibatch updates (capped at 100);
    None (the estimator's own budget) when ``updates`` is None."""
    if updates is None:
        return None
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


def peers(torch=True, torch_updates=torch_peers.UPDATES, quick=False, sklearn=True):
    """The peers compared, ``name -> factory(seed, n_per_class)``: the
    scikit-learn ones (unless ``sklearn`` is false), then the PyTorch ones
    when ``torch`` and PyTorch is installed (a message says when it is
    not)."""
    chosen = dict(PEERS) if sklearn else {}
    if torch and torch_peers.available():
        chosen.update(torch_peers.peers(torch_updates, quick=quick))
    elif torch:
        print(
            "PyTorch is not installed: the PyTorch peers (scratch, fine-tune, "
            "probe) are skipped (pip install torch; the CPU build is enough).",
            flush=True,
        )
    return chosen


def draws_at(n, draws, draws_at_10):
    """Draws of a size: ``draws_at_10`` at n = 10, ``draws`` otherwise."""
    return draws_at_10 if n == 10 and draws_at_10 else draws


def main(
    n_values, draws, task_ids, source_names, mpdbm_updates, target, out,
    source_data="mnist", source_size=5000, quick=False, only=None,
    tasks_from="development", draws_at_10=None, torch=True,
    torch_updates=torch_peers.UPDATES, sklearn_peers=True, first_draw=0,
):  # fmt: skip
    memory = get_cache_dir()
    X_train, y_train, X_test, y_test = load_target(target)
    if task_ids is None:
        task_ids = range(len(task_set(tasks_from)))
    tasks = [task_set(tasks_from)[i] for i in task_ids]
    peer_factories = peers(torch, torch_updates, quick, sklearn_peers)
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
    run_start = time.perf_counter()
    for n in n_values:
        for task in tasks:
            mask = np.isin(y_test, task)
            X_eval, y_eval = X_test[mask], np.searchsorted(task, y_test[mask])
            for draw in range(first_draw, draws_at(n, draws, draws_at_10)):
                X, y = make_target_task(X_train, y_train, task, n, random_state=draw)
                methods = {f"peer: {k}": v for k, v in peer_factories.items()}
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
            # Rewritten after every task: an interrupted run keeps its scores.
            with open(out, "w") as f:
                json.dump(scores, f, indent=1)
            print(
                f"n={n} task={task} done ({time.perf_counter() - run_start:.0f} s "
                "into the run)",
                flush=True,
            )
        print_table(scores, n)
    print_summary(scores)
    print(f"raw scores written to {out}")


def task_name(task):
    return "{" + ", ".join(str(c) for c in task) + "}"


def task_means(records):
    """Mean accuracy (%) of each task over its draws, in the records' order."""
    per_task = {}
    for r in records:
        per_task.setdefault(tuple(r["task"]), []).append(100 * r["accuracy"])
    return {task: float(np.mean(v)) for task, v in per_task.items()}


def rows_at(scores, n):
    """``method -> records`` of size ``n``, in the order they were run."""
    return {k.split("|", 1)[1]: v for k, v in scores.items() if k.startswith(f"{n}|")}


def best_peer(rows):
    """``(name, records)`` of the peer with the best mean accuracy among
    ``rows`` (None when there is none)."""
    candidates = [
        (np.mean([r["accuracy"] for r in v]), k)
        for k, v in rows.items()
        if k.startswith("peer: ")
    ]
    if not candidates:
        return None
    name = max(candidates)[1]
    return name, rows[name]


def paired_difference(records, ref_records):
    """Differences (points) of ``records`` over ``ref_records`` on each
    (task, draw) both ran: the pairs behind a margin's standard error."""
    ref = {(tuple(r["task"]), r["draw"]): r["accuracy"] for r in ref_records}
    return np.array(
        [
            100 * (r["accuracy"] - ref[key])
            for r in records
            if (key := (tuple(r["task"]), r["draw"])) in ref
        ]
    )


def standard_error(values):
    """Standard error of the mean of ``values`` (NaN below two values)."""
    if len(values) < 2:
        return float("nan")
    return float(np.std(values, ddof=1) / np.sqrt(len(values)))


def margins(rows):
    """For each source whose default transfer ran: the mean and per-task
    differences (points) of that default over the best single peer and over
    the source's own T = 0, and of that T = 0 over the PyTorch scratch peer,
    as ``label -> (mean, {task: diff}, reference, pairs)`` (``reference``:
    the best peer's name, "T=0" or "PyTorch scratch"; ``pairs``: the
    differences on each (task, draw) both ran)."""
    best = best_peer(rows)
    found = {}
    for method, records in rows.items():
        if not method.endswith(": T=all (default)"):
            continue
        source = method.split(":", 1)[0]
        ours = task_means(records)
        refs = []
        if best is not None:
            refs.append(("best single peer", best[0][6:], best[1]))
        if f"{source}: T=0" in rows:
            refs.append(("its own T=0", "T=0", rows[f"{source}: T=0"]))
        for label, reference, ref_records in refs:
            ref = task_means(ref_records)
            diff = {t: ours[t] - ref[t] for t in ours if t in ref}
            found[f"{source}: default − {label}"] = (
                float(np.mean(list(diff.values()))),
                diff,
                reference,
                paired_difference(records, ref_records),
            )
        # "Transfer against no transfer" is like for like only if the
        # package's own network from scratch is as good as PyTorch's.
        if f"{source}: T=0" in rows and "peer: PyTorch scratch" in rows:
            scratch = task_means(rows[f"{source}: T=0"])
            ref = task_means(rows["peer: PyTorch scratch"])
            diff = {t: scratch[t] - ref[t] for t in scratch if t in ref}
            found[f"{source}: T=0 − PyTorch scratch"] = (
                float(np.mean(list(diff.values()))),
                diff,
                "PyTorch scratch",
                paired_difference(
                    rows[f"{source}: T=0"], rows["peer: PyTorch scratch"]
                ),
            )
    return found


def print_table(scores, n):
    rows = rows_at(scores, n)
    tasks = list(task_means(next(iter(rows.values()))))
    table = []
    for method, records in rows.items():
        acc = 100 * np.array([r["accuracy"] for r in records])
        per_task = task_means(records)
        seconds = np.mean([r["seconds"] for r in records])
        table.append(
            [
                method,
                f"{acc.mean():.2f} ± {acc.std():.2f}",
                " ".join(f"{per_task[t]:.1f}" for t in tasks if t in per_task),
                f"{seconds:.2f}",
            ]
        )
    best = best_peer(rows)
    if best is not None:
        per_task = task_means(best[1])
        acc = 100 * np.array([r["accuracy"] for r in best[1]])
        table.append(
            [
                f"best single peer ({best[0][6:]})",
                f"{acc.mean():.2f}",
                " ".join(f"{per_task[t]:.1f}" for t in tasks if t in per_task),
                "",
            ]
        )
    for label, (mean, diff, _, pairs) in margins(rows).items():
        table.append(
            [
                f"margin: {label}",
                # The draws are shared, so the paired differences' standard
                # error says whether a margin is more than draw noise.
                f"{mean:+.2f} ± {standard_error(pairs):.2f} SE ({len(pairs)} pairs)",
                " ".join(f"{diff[t]:+.1f}" for t in tasks if t in diff),
                "",
            ]
        )
    draws = sorted({r["draw"] for v in rows.values() for r in v})
    markdown_table(
        ["method", "accuracy (%)", "per task " + " ".join(map(task_name, tasks)),
         "fit (s)"],
        table,
        title=f"n = {n} images per class ({len(tasks)} tasks x {len(draws)} draws)",
    )  # fmt: skip


def print_summary(scores):
    """Mean accuracy over tasks per method and size, then one table per size
    with a column per task."""
    sizes = sorted({int(k.split("|", 1)[0]) for k in scores})
    methods = list(dict.fromkeys(k.split("|", 1)[1] for k in scores))
    by_size = {n: rows_at(scores, n) for n in sizes}

    def mean(records):
        return f"{np.mean([100 * r['accuracy'] for r in records]):.1f}"

    table = [
        [m, *(mean(by_size[n][m]) if m in by_size[n] else "" for n in sizes)]
        for m in methods
    ]
    best = {n: best_peer(by_size[n]) for n in sizes}
    table.append(
        [
            "best single peer",
            *(f"{mean(best[n][1])} ({best[n][0][6:]})" if best[n] else ""
              for n in sizes),
        ]
    )  # fmt: skip
    labels = list(dict.fromkeys(k for n in sizes for k in margins(by_size[n])))
    for label in labels:
        cells = []
        for n in sizes:
            found = margins(by_size[n]).get(label)
            cells.append(f"{found[0]:+.2f}" if found else "")
        table.append([f"margin: {label}", *cells])
    markdown_table(
        ["mean over tasks (%)", *(f"n={n}" for n in sizes)],
        table,
        title="Summary: mean accuracy over tasks (tasks x draws)",
    )
    for n in sizes:
        rows = by_size[n]
        tasks = list(task_means(next(iter(rows.values()))))
        per_method = {m: task_means(v) for m, v in rows.items()}
        table = [
            [m, *(f"{per_method[m][t]:.1f}" if t in per_method[m] else ""
                  for t in tasks), mean(rows[m])]
            for m in rows
        ]  # fmt: skip
        for label, (avg, diff, *_) in margins(rows).items():
            table.append(
                [f"margin: {label}",
                 *(f"{diff[t]:+.1f}" if t in diff else "" for t in tasks),
                 f"{avg:+.1f}"]
            )  # fmt: skip
        markdown_table(
            ["method", *map(task_name, tasks), "mean"],
            table,
            title=f"Per task, n = {n} (mean over draws)",
        )


def report(paths):
    """Print the tables of one or several raw score files (merged: a later
    file adds its records to a method and size of an earlier one)."""
    scores = {}
    for path in paths:
        with open(path) as f:
            for key, records in json.load(f).items():
                scores.setdefault(key, []).extend(records)
    for n in sorted({int(k.split("|", 1)[0]) for k in scores}):
        print_table(scores, n)
    print_summary(scores)


if __name__ == "__main__":
    parser = make_parser(
        __doc__, quick_help="smoke/regression run: small fresh sources, n=10, "
        "tasks 0 and 1 of the bundled subset, one draw",
    )  # fmt: skip
    parser.add_argument("--n", nargs="+", type=int, default=[10, 50, 100, 1000])
    parser.add_argument(
        "--draws", type=int, default=3, help="draws per task at every n but 10"
    )
    parser.add_argument(
        "--draws-at-10", type=int, default=10,
        help="draws per task at n = 10, where the draw noise is largest "
        "(draws 0 .. k-1: the first three are those of --draws 3; 0 takes "
        "--draws)",
    )  # fmt: skip
    parser.add_argument(
        "--first-draw", type=int, default=0,
        help="skip the draws below this one: more draws for an earlier run, "
        "merged with it by --report",
    )  # fmt: skip
    parser.add_argument(
        "--tasks", nargs="+", type=int, default=None,
        help="indices into the seven tasks of --task-set (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--task-set", choices=("development", "held-out"), default="development",
        help="the seven development tasks, or six other Fashion-MNIST pairs "
        "and another 8-class task",
    )  # fmt: skip
    parser.add_argument(
        "--no-torch", action="store_true",
        help="leave out the PyTorch peers (scratch, fine-tune, probe)",
    )  # fmt: skip
    parser.add_argument(
        "--no-peers", action="store_true",
        help="leave out every peer (scikit-learn and PyTorch): only this "
        "package's rows, e.g. to merge with a run of the peers by --report",
    )  # fmt: skip
    parser.add_argument(
        "--only-peers", action="store_true",
        help="run the peers only (no source is fitted): the other half of a "
        "--no-peers run, merged by --report",
    )  # fmt: skip
    parser.add_argument(
        "--torch-updates", type=int, default=torch_peers.UPDATES,
        help="minimum minibatch updates (whole epochs) of the PyTorch scratch "
        "and fine-tune peers",
    )  # fmt: skip
    parser.add_argument(
        "--report", nargs="+", metavar="FILE",
        help="print the tables of these raw score files (merged) and exit",
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
    if args.report:
        report(args.report)
        raise SystemExit
    if args.first_draw < 0:
        parser.error("--first-draw must be 0 or more")
    if args.only_peers and args.no_peers:
        parser.error("--only-peers and --no-peers leave nothing to run")
    if args.only_peers:
        args.sources = []
    if args.quick:
        args.n, args.draws, args.tasks, args.target = [10], 1, [0, 1], "subset"
        args.draws_at_10, args.torch_updates = 1, 20
    main(
        args.n, args.draws, args.tasks, args.sources, args.mpdbm_updates,
        args.target, args.out, args.source_data, args.source_size, args.quick,
        args.methods, args.task_set, args.draws_at_10,
        not (args.no_torch or args.no_peers), args.torch_updates,
        not args.no_peers, args.first_draw,
    )  # fmt: skip
