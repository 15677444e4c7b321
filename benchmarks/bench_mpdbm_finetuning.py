"""How an MP-DBM source is fine-tuned, measured on the development tasks.

For each fine-tuning variant (``--variants``), each of the six Fashion-MNIST
development tasks of ``bench_alltransfer.py``, each draw and each ``n``
(images per class), ``AllTransferClassifier`` is fitted on the default
MP-DBM source of the bundled MNIST digits (the same source, budget and
draws as ``bench_alltransfer.py``) and scored on the task's test images.
With ``--curves`` it also records, every ``--every`` epochs, the training
loss and the accuracy on ``--eval-size`` test images: the figures of the
user guide's "Fine-tuning an MP-DBM" page come from those records
(``python benchmarks/plot_mpdbm_finetuning.py``).

The source is the paper's MP-DBM, trained by multi-prediction only
(``bench_alltransfer.py``'s ``"mpdbm-mp"``, ``discriminative_max_iter=0``):
the variants include the paper's multi-prediction fine-tuning, which needs
such a source, and the user guide's records were measured with it.

Variants are named ``key=value`` lists joined by ``,`` (values are JSON or
plain strings) of ``AllTransferClassifier`` parameters; ``source.<name>``
sets a parameter of a copy of the source that keeps the default source's
weights (so the fine-tuned network inherits it through its config: mean-field
iterations, multi-inference, label weight, mask probabilities), as if those
weights had been fitted with it; ``seed_offset=K`` fits with
``random_state = draw + K`` instead of ``draw`` (same images: the spread of
a fit over its own seed); ``default`` is the defaults. ``--paired-against
VARIANT`` prints each variant's paired differences with ``VARIANT`` on the
same (task, draw). Example::

    python benchmarks/bench_mpdbm_finetuning.py --n 10 100 \\
        --variants default finetune_objective=multi_prediction

    python benchmarks/bench_mpdbm_finetuning.py --variants \\
        n_transferred_layers=0 n_transferred_layers=0,seed_offset=1000 default \\
        --paired-against n_transferred_layers=0

Run: ``python benchmarks/bench_mpdbm_finetuning.py [--curves] [--quick]``
"""

import json
import time
import warnings

import numpy as np
from bench_alltransfer import epochs_for, fit_sources
from common import parser as make_parser
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skalltransfer import AllTransferClassifier, SourceData, get_cache_dir
from skalltransfer._core._families import _mpdbm as _mpdbm_family
from skalltransfer._core._training import training_progress
from skalltransfer.datasets import load_mnist, make_target_task
from skalltransfer.datasets._tasks import DEVELOPMENT_TASKS, load_target

SOURCE = "mpdbm-mp"


def parse_variant(spec):
    """``"a=1,b=x"`` -> ({"a": 1, "b": "x"}, {source params})."""
    params, source_params = {}, {}
    if spec == "default":
        return params, source_params
    for item in spec.split(","):
        key, _, value = item.partition("=")
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
        if key.startswith("family."):
            # An experiment on a constant of the MP-DBM family module.
            source_params.setdefault("family", {})[key[len("family.") :]] = value
        elif key.startswith("source."):
            source_params[key[len("source.") :]] = value
        else:
            params[key] = value
    return params, source_params


def fit_one(source, X, y, X_eval, y_eval, params, seed, max_iter, curves, every):
    """Fit one transfer; its accuracy, time and (with ``curves``) curves."""
    clf = AllTransferClassifier(
        source, random_state=seed, **{"max_iter": max_iter, **params}
    )
    record = {"loss": [], "epochs": [], "accuracy_curve": []}

    def progress(epoch, loss):
        record["loss"].append(float(loss))
        if curves and (epoch % every == every - 1 or epoch == 0):
            # The estimator predicts through the network being trained.
            record["epochs"].append(epoch + 1)
            record["accuracy_curve"].append(
                float(np.mean(clf.predict(X_eval) == y_eval))
            )

    start = time.perf_counter()
    with warnings.catch_warnings(), training_progress(progress):
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    record["seconds"] = time.perf_counter() - start
    return clf, record


def loss_shares(source, X, y, seed=0, n_masks=20):
    """Where the multi-prediction loss of the target set comes from at the
    start of fine-tuning: the label term's share of the loss and of the
    gradient norm of each weight layer, averaged over ``n_masks`` mask draws.
    """
    from skalltransfer._kernels._masks import sample_multiprediction_batch
    from skalltransfer._kernels._mean_field import mp_loss_grad
    from skalltransfer._kernels._rng import new_state

    clf = AllTransferClassifier(
        source, finetune_objective="multi_prediction", max_iter=0, random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    net = clf.network_
    cfg = net.config
    codes = np.searchsorted(clf.classes_, y)
    T = clf._plan_.target_table(len(clf.classes_), X.dtype)[codes]
    state = new_state(np.random.RandomState(seed))
    v_init = (0.5 * np.tanh(0.5 * net.visible_intercept) + 0.5).astype(X.dtype)
    loss_share, grad_share = [], []
    for _ in range(n_masks):
        Xb, Mv, V0 = (np.empty_like(X) for _ in range(3))
        My = np.empty(len(X), dtype=X.dtype)
        sample_multiprediction_batch(
            X, cfg["binarize"], cfg["drop_prob"], cfg["label_drop_prob"], v_init,
            state, Xb, Mv, My, V0,
        )  # fmt: skip
        parts = []
        for lam in (cfg["label_weight"], 0.0):
            parts.append(
                mp_loss_grad(
                    net.coefs,
                    net.intercepts,
                    net.visible_intercept,
                    Xb,
                    T,
                    Mv,
                    My,
                    V0,
                    cfg["n_mean_field_iter"],
                    label_weight=lam,
                )  # fmt: skip
            )
        (total, g_all, *_), (pixels, g_pix, *_) = parts
        loss_share.append((total - pixels) / total)
        grad_share.append(
            [np.linalg.norm(a - p) / np.linalg.norm(a) for a, p in zip(g_all, g_pix)]
        )
    return float(np.mean(loss_share)), np.mean(grad_share, axis=0).tolist()


def print_loss_shares(n_values, task_ids):
    """:func:`loss_shares` of the default MP-DBM source, draw 0."""
    X_train, y_train, _, _ = load_target("full")
    source = fit_sources([SOURCE], SourceData(*load_mnist()), get_cache_dir())
    print("| task | n | label share of the loss | of the gradient norm, per layer |")
    print("|---|---|---|---|")
    for i in task_ids:
        for n in n_values:
            task = DEVELOPMENT_TASKS[i]
            X, y = make_target_task(X_train, y_train, task, n, random_state=0)
            share, grads = loss_shares(source[SOURCE], X, y, n_masks=5)
            cells = " ".join(f"{g:.2f}" for g in grads)
            print(f"| {task} | {n} | {share:.3f} | {cells} |", flush=True)


def timing(repeat=3, n=100, task_id=0):
    """Fit time of the default MP-DBM transfer at ``n`` images per class
    against the SAE's, interleaved in
    this process on the same data: best and median of ``repeat`` fits each,
    and the ratio of the bests (the source fits are cached and not timed;
    a first untimed fit of each warms Numba and the caches up)."""
    from threadpoolctl import threadpool_info

    memory = get_cache_dir()
    X_train, y_train, _, _ = load_target("full")
    sources = fit_sources([SOURCE, "sae"], SourceData(*load_mnist()), memory)
    X, y = make_target_task(
        X_train, y_train, DEVELOPMENT_TASKS[task_id], n, random_state=0
    )
    budget = epochs_for(len(X), 1000)
    makers = {
        "MP-DBM, defaults": lambda: AllTransferClassifier(
            sources[SOURCE], max_iter=budget, random_state=0
        ),
        "SAE, defaults": lambda: AllTransferClassifier(
            sources["sae"], max_iter=100, random_state=0
        ),
    }
    times = {name: [] for name in makers}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for make in makers.values():
            make().fit(X, y)
        for _ in range(repeat):
            for name, make in makers.items():
                start = time.perf_counter()
                make().fit(X, y)
                times[name].append(time.perf_counter() - start)
    threads = sorted(
        {p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"}
    )
    print(f"\n{len(X)} images ({n} per class), BLAS threads {threads}\n")
    print("| fine-tuning | best (s) | median (s) | best / SAE best |")
    print("|---|---|---|---|")
    sae = min(times["SAE, defaults"])
    for name, values in times.items():
        print(
            f"| {name} | {min(values):.2f} | {np.median(values):.2f} | "
            f"{min(values) / sae:.2f} |"
        )


def main(
    n_values, draws, task_ids, variants, out, curves, every, eval_size, quick,
    paired_against=None,
):  # fmt: skip
    memory = get_cache_dir()
    X_train, y_train, X_test, y_test = load_target("subset" if quick else "full")
    source = fit_sources([SOURCE], SourceData(*load_mnist()), memory, quick=quick)[
        SOURCE
    ]
    tasks = [DEVELOPMENT_TASKS[i] for i in task_ids]
    results = []
    for spec in variants:
        params, source_params = parse_variant(spec)
        seed_offset = params.pop("seed_offset", 0)
        constants = source_params.pop("family", {})
        saved = {name: getattr(_mpdbm_family, name) for name in constants}
        for name, value in constants.items():
            setattr(_mpdbm_family, name, value)
        src = clone(source).set_params(**source_params) if source_params else source
        if source_params:  # the default source's weights, other settings
            for key, value in vars(source).items():
                if key.endswith("_"):
                    setattr(src, key, value)
            src._record_fitted_params()
        for n in n_values:
            for task in tasks:
                mask = np.isin(y_test, task)
                X_all, y_all = X_test[mask], np.searchsorted(task, y_test[mask])
                rows = np.random.RandomState(0).permutation(len(X_all))
                X_curve, y_curve = X_all[rows[:eval_size]], y_all[rows[:eval_size]]
                for draw in range(draws):
                    X, y = make_target_task(
                        X_train, y_train, task, n, random_state=draw
                    )
                    clf, record = fit_one(
                        src, X, y, X_curve, y_curve, params, draw + seed_offset,
                        epochs_for(len(X), 1000), curves, every,
                    )  # fmt: skip
                    accuracy = float(np.mean(clf.predict(X_all) == y_all))
                    results.append(
                        {
                            "variant": spec,
                            "n": n,
                            "task": list(task),
                            "draw": draw,
                            "accuracy": accuracy,
                            "n_iter": clf.n_iter_,
                            **record,
                        }
                    )
            summarise(results, spec, n)
            with open(out, "w") as f:
                json.dump(results, f)
        for name, value in saved.items():
            setattr(_mpdbm_family, name, value)
    print(f"raw results written to {out}")
    if paired_against is not None:
        print_paired(results, paired_against)


def print_paired(results, reference):
    """Each variant minus ``reference`` on the same (task, draw), per n: the
    mean difference, how many (task, draw) are under it, and the worst."""
    table = {}
    for r in results:
        cells = table.setdefault((r["variant"], r["n"]), {})
        cells[tuple(r["task"]), r["draw"]] = r["accuracy"]
    print(f"\n### Paired against {reference} (points)\n")
    print("| variant | n | mean difference | (task, draw) under | worst |")
    print("|---|---|---|---|---|")
    for (spec, n), cells in table.items():
        ref = table.get((reference, n))
        if spec == reference or ref is None:
            continue
        diff = 100 * np.array([cells[k] - ref[k] for k in cells])
        print(
            f"| {spec} | {n} | {diff.mean():+.2f} | {int((diff < 0).sum())} of "
            f"{len(diff)} | {diff.min():+.2f} |"
        )


def summarise(results, spec, n):
    rows = [r for r in results if r["variant"] == spec and r["n"] == n]
    acc = 100 * np.array([r["accuracy"] for r in rows])
    per_task = {}
    for r in rows:
        per_task.setdefault(tuple(r["task"]), []).append(100 * r["accuracy"])
    tasks = " ".join(f"{np.mean(v):.1f}" for v in per_task.values())
    worst = min(rows, key=lambda r: r["accuracy"])
    seconds = np.mean([r["seconds"] for r in rows])
    print(
        f"| {spec} | {n} | {acc.mean():.2f} ± {acc.std():.2f} | {tasks} | "
        f"{100 * worst['accuracy']:.1f} {tuple(worst['task'])} d{worst['draw']} | "
        f"{seconds:.2f} |",
        flush=True,
    )


if __name__ == "__main__":
    parser = make_parser(__doc__, quick_help="small fresh source, bundled subset")
    parser.add_argument("--n", nargs="+", type=int, default=[10, 50, 100])
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", type=int, default=list(range(6)))
    parser.add_argument("--variants", nargs="+", default=["default"])
    parser.add_argument("--curves", action="store_true")
    parser.add_argument("--every", type=int, default=5)
    parser.add_argument("--eval-size", type=int, default=500)
    parser.add_argument("--out", default="bench_mpdbm_finetuning.json")
    parser.add_argument(
        "--paired-against", default=None, metavar="VARIANT",
        help="also print every variant's paired differences with VARIANT",
    )  # fmt: skip
    parser.add_argument(
        "--loss-shares", action="store_true",
        help="only print the label term's share of the multi-prediction loss "
        "and gradients at the start of fine-tuning (draw 0)",
    )  # fmt: skip
    parser.add_argument(
        "--timing", action="store_true",
        help="only time the fine-tuning at 100 images per class against the SAE's",
    )  # fmt: skip
    args = parser.parse_args()
    if args.timing:
        timing()
        raise SystemExit
    if args.loss_shares:
        print_loss_shares(args.n, args.tasks)
        raise SystemExit
    if args.quick:
        args.n, args.draws, args.tasks = [10], 1, [0, 1]
    main(
        args.n, args.draws, args.tasks, args.variants, args.out, args.curves,
        args.every, args.eval_size, args.quick, args.paired_against,
    )  # fmt: skip
