"""The seed paper's experiment, end to end: ``skalltransfer reproduce``.

Sawada & Kozuka train an MP-DBM (and stacked autoencoders) on MNIST, transfer
them to a small binary target task (lung CT lesions) and report Tables II-V.
No CT data can ship with a package, so the target here is Fashion-MNIST
(bundled subset by default); the tables keep the paper's rows and print the
paper's numbers beside ours for reference, not as a like-for-like target.
"""

import json
import os
import platform
import time
import warnings
from dataclasses import asdict

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score

from skalltransfer._core._progress import progress_bar
from skalltransfer._source_cache._cached_fit import fit_source_cached
from skalltransfer._source_cache._data import SourceData
from skalltransfer.datasets._tasks import load_target
from skalltransfer.reproduce._figures import save_figures
from skalltransfer.reproduce._profiles import PAPER_MPDBM, methods
from skalltransfer.reproduce._report import render_report
from skalltransfer.sources._autoencoder import StackedAutoencoderClassifier
from skalltransfer.sources._conv_autoencoder import ConvAutoencoderClassifier
from skalltransfer.sources._describe import describe_layers
from skalltransfer.sources._mpdbm import MPDBMClassifier


def run_experiment(
    profile, out, *, random_state=0, cache_dir=None, progress=True, log=print
):
    """Train the sources, run every table row, write the report.

    Returns the results dictionary also written to ``results.json``.
    """
    from skalltransfer._source_cache._location import get_cache_dir
    from skalltransfer.datasets import load_mnist, make_target_task

    start = time.perf_counter()
    os.makedirs(os.path.join(out, "figures"), exist_ok=True)
    Xs, ys = load_mnist()
    data = SourceData(Xs, ys)
    X_train, y_train, X_test, y_test = load_target(profile.target)
    memory = get_cache_dir(cache_dir)
    log(f"Source: MNIST subset {Xs.shape}; cache: {memory}")

    sources = {}
    specs = {
        "mpdbm": MPDBMClassifier(
            profile.hidden, random_state=random_state, **PAPER_MPDBM, **profile.mpdbm
        ),
        "mpdbm_narrow": MPDBMClassifier(
            profile.narrow, random_state=random_state, **PAPER_MPDBM, **profile.mpdbm
        ),
        "sae": StackedAutoencoderClassifier(
            profile.hidden, random_state=random_state, **profile.sae
        ),
        "conv": ConvAutoencoderClassifier(random_state=random_state, **profile.conv),
    }
    source_seconds = {}
    for key, spec in specs.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            sources[key], _ = fit_source_cached(spec, data, memory)
        source_seconds[key] = time.perf_counter() - t0
        log(
            f"source {key} {describe_layers(spec)}: "
            f"{source_seconds[key]:.0f} s (0 s means it came from the cache)"
        )

    scores = {}
    figures_fits = {}
    n_methods = len(methods(profile, sources, 10))
    total = len(profile.tasks) * len(profile.n_per_class) * profile.n_draws * n_methods
    with progress_bar(progress, total, "reproduce", "fit") as bar:
        for task in profile.tasks:
            in_task = np.isin(y_test, task)
            X_eval, y_eval = X_test[in_task], np.searchsorted(task, y_test[in_task])
            for n in profile.n_per_class:
                for draw in range(profile.n_draws):
                    seed = random_state + draw
                    X, y = make_target_task(
                        X_train, y_train, task, n, random_state=seed
                    )
                    for name, factory in methods(profile, sources, len(X)).items():
                        clf = factory(seed)
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore", ConvergenceWarning)
                            clf.fit(X, y)
                        acc = accuracy_score(y_eval, clf.predict(X_eval))
                        key = f"{task}|{n}|{name}"
                        scores.setdefault(key, []).append(float(acc))
                        if draw == 0 and task == profile.tasks[0]:
                            figures_fits[(n, name)] = clf
                        if bar is not None:
                            bar.update()

    results = {
        "profile": asdict(profile),
        "random_state": random_state,
        "source_fit_seconds": source_seconds,
        "source_mnist_test_accuracy": _source_accuracy(sources, Xs, ys),
        "scores": scores,
        "elapsed_seconds": time.perf_counter() - start,
        "platform": platform.platform(),
    }
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    figures = save_figures(profile, figures_fits, scores, out, log)
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(render_report(profile, results, figures))
    log(
        f"Wrote {out}/report.md, results.json and {len(figures)} figures "
        f"in {results['elapsed_seconds'] / 60:.1f} min."
    )
    return results


def _source_accuracy(sources, Xs, ys):
    """Training-set accuracy of each source (the bundled subset is all the
    source data; the source benchmark reports held-out accuracy)."""
    return {k: float(s.score(Xs, ys)) for k, s in sources.items()}
