"""Do transferability scores predict which source transfers best?

Candidates: source models (MP-DBM, SAE and convolutional, two architectures
each, fitted once on the bundled MNIST digits and cached) x T in {all, L-1}.
On each development task (six Fashion-MNIST tasks, n images per class, a few
draws), every candidate is scored (LEEP, NCE, LogME) on the target training
set and fine-tuned with AllTransferClassifier's defaults; the score of a
candidate is compared with its test accuracy. ``--task-set held-out`` runs
six other Fashion-MNIST pairs instead, never used to develop the scores.

Reported per n: Kendall's tau-b between each score and the accuracy over
the candidates of a task (scores and accuracies averaged over draws),
averaged over tasks; on how many tasks the top-scored candidate is within
1 point of the truly best; the same two measures between one draw's
accuracies and the mean of the other draws' (how much of the ranking is draw
noise); and, per score, the time of scoring every candidate against the time
of fine-tuning every candidate (each timed on its own, in the same process).

LEEP and NCE read the source's output and so score both depths of a source
alike; LogME reads the features the transferred network builds on: the
output probabilities for T = all, the top hidden layer for T = L - 1; k-NN
reads every hidden layer (its default) for both.

Run: ``python benchmarks/bench_transferability.py [--n 10 50] [--draws 3]
[--task-set development|held-out]``
"""

import json
import time
import warnings

import numpy as np
from common import markdown_table, task_set
from common import parser as make_parser
from scipy.stats import kendalltau
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import (
    AllTransferClassifier,
    ConvAutoencoderClassifier,
    MPDBMClassifier,
    SourceData,
    StackedAutoencoderClassifier,
    get_cache_dir,
    transferability,
)
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer.datasets import load_mnist, make_target_task
from skalltransfer.datasets._tasks import load_target
from skalltransfer.metrics._transferability import METHODS

SOURCES = {
    "sae (500, 500)": StackedAutoencoderClassifier(random_state=0),
    "sae (100,)": StackedAutoencoderClassifier((100,), random_state=0),
    "mpdbm (500, 500)": MPDBMClassifier(random_state=0),
    "mpdbm (100, 100)": MPDBMClassifier((100, 100), random_state=0),
    "conv (32, 64)": ConvAutoencoderClassifier(random_state=0),
    "conv (16, 32)": ConvAutoencoderClassifier(((16, 5), (32, 5)), random_state=0),
}
QUICK_SOURCES = {
    "sae (100,)": StackedAutoencoderClassifier(
        (100,), pretrain_max_iter=2, max_iter=10, random_state=0
    ),
    "sae (50, 50)": StackedAutoencoderClassifier(
        (50, 50), pretrain_max_iter=2, max_iter=10, random_state=0
    ),
}


def fit_sources(specs):
    memory = get_cache_dir()
    data = SourceData(*load_mnist())
    fitted = {}
    for name, spec in specs.items():
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fitted[name], _ = fit_source_cached(spec, data, memory)
        print(f"source {name}: {time.perf_counter() - start:.0f} s", flush=True)
    return fitted


def candidates(sources):
    """``{(source name, T): (source, T, LogME layer)}``."""
    out = {}
    for name, source in sources.items():
        L = len(source.coefs_)
        out[(name, "all")] = (source, "all", L)
        out[(name, f"{L - 1}")] = (source, L - 1, L - 1)
    return out


def run(n_values, draws, tasks, sources, target, max_iter):
    X_train, y_train, X_test, y_test = load_target(target)
    cands = candidates(sources)
    records = []
    for n in n_values:
        for task in tasks:
            mask = np.isin(y_test, task)
            X_eval, y_eval = X_test[mask], np.searchsorted(task, y_test[mask])
            for draw in range(draws):
                X, y = make_target_task(X_train, y_train, task, n, random_state=draw)
                for (name, depth), (source, T, layer) in cands.items():
                    row = {"n": n, "task": list(task), "draw": draw}
                    row.update(source=name, T=depth)
                    for method in METHODS:
                        kw = {"layer": layer} if method == "logme" else {}
                        start = time.perf_counter()
                        row[method] = transferability(source, X, y, method=method, **kw)
                        row[f"{method}_seconds"] = time.perf_counter() - start
                    start = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        clf = AllTransferClassifier(
                            source,
                            n_transferred_layers=T,
                            random_state=draw,
                            **({} if max_iter is None else {"max_iter": max_iter}),
                        ).fit(X, y)
                    row["fit_seconds"] = time.perf_counter() - start
                    row["accuracy"] = float(np.mean(clf.predict(X_eval) == y_eval))
                    records.append(row)
            print(f"n={n} task={task} done", flush=True)
    return records


def between_draw_agreement(rows, tasks):
    """How well one draw's fine-tuned accuracies rank the candidates the way
    the mean of the other draws does: per task, Kendall's tau-b and whether
    that draw's best candidate is within 1 point of the others' best, each
    averaged over the held-out draws. It measures how much of the ranking is
    draw noise: a score computed from one draw's images can hardly agree
    with the accuracies much better than another draw's accuracies do.
    None with fewer than two draws."""
    draws = sorted({r["draw"] for r in rows})
    if len(draws) < 2:
        return None
    taus, hits = [], 0.0
    for task in tasks:
        acc = {}
        for r in rows:
            if tuple(r["task"]) == task:
                acc.setdefault((r["source"], r["T"]), {})[r["draw"]] = r["accuracy"]
        keys = sorted(acc)
        task_taus = []
        for held in draws:
            own = np.array([acc[k][held] for k in keys])
            rest = np.array(
                [np.mean([acc[k][d] for d in draws if d != held]) for k in keys]
            )
            task_taus.append(kendalltau(own, rest).statistic)
            hits += (rest[np.argmax(own)] >= rest.max() - 0.01) / len(draws)
        taus.append(float(np.mean(task_taus)))
    return taus, hits


def summarise(records, n_values):
    for n in n_values:
        rows = [r for r in records if r["n"] == n]
        tasks = sorted({tuple(r["task"]) for r in rows})
        table = []
        for method in METHODS:
            taus, hits = [], 0
            for task in tasks:
                per = {}
                for r in rows:
                    if tuple(r["task"]) == task:
                        key = (r["source"], r["T"])
                        per.setdefault(key, []).append((r[method], r["accuracy"]))
                score = np.array([np.mean([s for s, _ in v]) for v in per.values()])
                accuracy = np.array([np.mean([a for _, a in v]) for v in per.values()])
                taus.append(kendalltau(score, accuracy).statistic)
                hits += accuracy[np.argmax(score)] >= accuracy.max() - 0.01
            table.append(
                [
                    method,
                    f"{np.mean(taus):+.2f}",
                    " ".join(f"{t:+.2f}" for t in taus),
                    f"{hits}/{len(tasks)}",
                ]
            )
        agreement = between_draw_agreement(rows, tasks)
        if agreement is not None:
            taus, hits = agreement
            table.append(
                [
                    "(one draw's accuracy vs the other draws')",
                    f"{np.mean(taus):+.2f}",
                    " ".join(f"{t:+.2f}" for t in taus),
                    f"{hits:.1f}/{len(tasks)}",
                ]
            )
        markdown_table(
            ["score", "mean Kendall tau", "per task", "top-1 within 1 point"],
            table,
            title=f"n = {n} images per class",
        )
        acc = {}
        for r in rows:
            acc.setdefault((r["source"], r["T"]), []).append(100 * r["accuracy"])
        markdown_table(
            ["candidate", "accuracy (%)", "LEEP", "LogME"],
            [
                [
                    f"{s}, T={t}",
                    f"{np.mean(v):.2f}",
                    f"{np.mean([r['leep'] for r in rows if (r['source'], r['T']) == (s, t)]):.3f}",  # noqa: E501
                    f"{np.mean([r['logme'] for r in rows if (r['source'], r['T']) == (s, t)]):.3f}",  # noqa: E501
                ]
                for (s, t), v in acc.items()
            ],
            title=f"n = {n}: candidates (mean over tasks and draws)",
        )
        fit_s = sum(r["fit_seconds"] for r in rows)
        timing = []
        for method in METHODS:
            score_s = sum(r[f"{method}_seconds"] for r in rows)
            timing.append(
                [method, f"{score_s:.1f}", f"{fit_s:.1f}", f"{fit_s / score_s:.0f}x"]
            )
        markdown_table(
            [
                "score",
                "scoring every candidate (s)",
                "fine-tuning every candidate (s)",
                "fine-tuning / scoring",
            ],
            timing,
            title=f"n = {n}: time",
        )


if __name__ == "__main__":
    parser = make_parser(
        __doc__, quick_help="two small SAE sources, two tasks, n=10, one draw"
    )
    parser.add_argument("--n", nargs="+", type=int, default=[10, 50])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", type=int, default=list(range(6)))
    parser.add_argument(
        "--task-set", choices=("development", "held-out"), default="development"
    )
    parser.add_argument("--target", choices=("full", "subset"), default="full")
    parser.add_argument("--out", default="bench_transferability.json")
    args = parser.parse_args()
    specs, max_iter = SOURCES, None
    if args.quick:
        specs, max_iter = QUICK_SOURCES, 20
        args.n, args.draws, args.tasks, args.target = [10], 1, [0, 1], "subset"
    tasks = [task_set(args.task_set)[i] for i in args.tasks]
    records = run(args.n, args.draws, tasks, fit_sources(specs), args.target, max_iter)
    with open(args.out, "w") as f:
        json.dump(records, f, indent=1)
    summarise(records, args.n)
    print(f"raw records written to {args.out}")
