"""Peak memory of prediction, transform and the relation at 10k to 1M rows.

predict_proba and transform process their input in chunks of
``PREDICT_BATCH_SIZE`` rows, and so does the relation computation of
``AllTransferClassifier.fit``, so the memory they need beyond their input and
their output should not grow with the number of rows.

Each measurement runs in a fresh subprocess: it loads a fitted model
(784-500-500-10, fitted here on the bundled MNIST subset), warms it up on a
few rows, builds the input (n x 784 float32, augmented MNIST) chunk by chunk,
then resets the peak resident set size (``/proc/self/clear_refs``) and runs
the operation once. Columns:

- ``peak - input``: peak RSS of the process minus the input array (the issue's
  measure: interpreter, libraries, model, output and working memory);
- ``extra``: peak RSS during the operation minus the RSS just before it;
- ``extra - output``: the working memory of the operation, which should be
  flat in n_samples (the output itself necessarily grows).

The relation row is ``AllTransferClassifier(source, max_iter=0).fit(X, y)``:
validation, the relation of 10 target classes to the source's output units,
unit selection and the fine-tuning set-up, without epochs.

Run: ``python benchmarks/bench_memory.py [--quick] [--sizes 10000 100000]``
"""

import tempfile
import warnings
from pathlib import Path

import numpy as np
from common import (
    MB,
    augment,
    current_rss,
    environment,
    markdown_table,
    mnist,
    parser,
    peak_rss,
    release_free_memory,
    reset_peak_rss,
    run_child,
)

N_FEATURES = 784
OPERATIONS = {
    "SAE predict_proba": ("sae", "predict_proba"),
    "SAE transform": ("sae", "transform"),
    "MP-DBM predict_proba": ("mpdbm", "predict_proba"),
    "MP-DBM transform": ("mpdbm", "transform"),
    "AllTransfer relation (fit, max_iter=0)": ("sae", "relation"),
}


def fit_models(directory):
    """Fit the two source models (weights do not matter here) and pickle them."""
    import joblib
    from sklearn.exceptions import ConvergenceWarning

    from skalltransfer import MPDBMClassifier, StackedAutoencoderClassifier

    X, y = mnist()
    models = {
        "sae": StackedAutoencoderClassifier(
            (500, 500), pretrain_max_iter=0, max_iter=1, random_state=0
        ),
        # Memory does not depend on the number of mean-field iterations;
        # 2 keeps the 1M-row runs short.
        "mpdbm": MPDBMClassifier((500, 500), n_mean_field_iter=2, max_iter=1),
    }
    paths = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for name, model in models.items():
            model.set_params(random_state=0).fit(X, y)
            paths[name] = str(Path(directory) / f"{name}.joblib")
            joblib.dump(model, paths[name])
    return paths


def measure(model_path, operation, n_rows):
    """Child: RSS figures (bytes) around one run of ``operation``."""
    import joblib

    from skalltransfer import AllTransferClassifier

    model = joblib.load(model_path)
    source_X, source_y = mnist()

    def run(X, y):
        if operation == "relation":
            clf = AllTransferClassifier(model, max_iter=0, random_state=0)
            return clf.fit(X, y).relation_
        return getattr(model, operation)(X)

    run(source_X[:500], source_y[:500])  # warm-up: Numba, BLAS buffers
    before_input = current_rss()
    X = np.empty((n_rows, N_FEATURES), dtype=np.float32)
    X, y = augment(source_X, source_y, n_rows, out=X)
    release_free_memory()  # the temporaries of augment
    before = current_rss()
    exact = reset_peak_rss()
    out = run(X, y)
    peak = peak_rss()
    return {
        "input": X.nbytes,
        "output": out.nbytes,
        "before_input": before_input,
        "before": before,
        "peak": peak,
        "exact_peak": exact,
    }


def main(quick=False, sizes=None):
    print(f"Environment: {environment()}")
    sizes = sizes or ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
    rows = []
    exact = True
    with tempfile.TemporaryDirectory() as directory:
        paths = fit_models(directory)
        for label, (model, operation) in OPERATIONS.items():
            for n_rows in sizes:
                res = run_child(
                    __file__,
                    "measure",
                    dict(model_path=paths[model], operation=operation, n_rows=n_rows),
                )
                exact &= res["exact_peak"]
                extra = res["peak"] - res["before"]
                rows.append(
                    [
                        label,
                        f"{n_rows:,}",
                        f"{res['input'] / MB:,.0f}",
                        f"{res['output'] / MB:,.1f}",
                        f"{res['peak'] / MB:,.0f}",
                        f"{(res['peak'] - res['input']) / MB:,.0f}",
                        f"{extra / MB:,.0f}",
                        f"{(extra - res['output']) / MB:,.0f}",
                    ]
                )
            print(f"done: {label}", flush=True)
    markdown_table(
        [
            "operation",
            "rows",
            "input (MB)",
            "output (MB)",
            "peak RSS (MB)",
            "peak - input (MB)",
            "extra (MB)",
            "extra - output (MB)",
        ],
        rows,
        title="Peak memory (fresh process per row, 784 float32 features)",
    )
    if not exact:
        print(
            "The peak RSS could not be reset before the operation "
            "(/proc/self/clear_refs unavailable): peaks cover the whole process."
        )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--sizes", type=int, nargs="+", help="numbers of rows")
    args = p.parse_args()
    main(quick=args.quick, sizes=args.sizes)
