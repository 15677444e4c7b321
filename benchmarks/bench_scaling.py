"""Fit time against the number of rows: 1k, 4k, 16k and 64k samples.

With a fixed number of epochs, a fit should cost a constant time per row.
The bundled 5,000-image MNIST subset is grown by copies shifted by up to two
pixels. Models, with fixed budgets (no early stopping):

- ``StackedAutoencoderClassifier((500, 500))``: one pretraining epoch per
  layer and one fine-tuning epoch, batch 100;
- ``MPDBMClassifier((500, 500))``: one epoch, batch 100, 10 mean-field
  iterations.

Columns: fit time, time per row, time per row relative to the smallest size
(flat means linear), and the local exponent ``log(t2 / t1) / log(n2 / n1)``
between consecutive sizes (1 means linear). Each fit runs after a warm-up
fit (Numba compilation) in the same process, with 2 BLAS threads.

Run: ``python benchmarks/bench_scaling.py [--quick]`` (``--quick`` stops at 4k)
"""

import math
import warnings

from common import environment, markdown_table, mnist, parser, time_call

N_THREADS = 2


def models():
    from skalltransfer import MPDBMClassifier, StackedAutoencoderClassifier

    return {
        "StackedAutoencoderClassifier (500, 500), 1+1 epochs": (
            StackedAutoencoderClassifier(
                (500, 500),
                pretrain_max_iter=1,
                max_iter=1,
                tol=0.0,
                n_iter_no_change=2,
                batch_size=100,
                random_state=0,
            )
        ),
        "MPDBMClassifier (500, 500), 1 epoch": MPDBMClassifier(
            (500, 500),
            n_mean_field_iter=10,
            max_iter=1,
            tol=0.0,
            n_iter_no_change=2,
            batch_size=100,
            random_state=0,
        ),
    }


def main(quick=False):
    from sklearn.base import clone
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits

    warnings.simplefilter("ignore", ConvergenceWarning)
    print(f"Environment: {environment()}; {N_THREADS} threads.")
    sizes = [1_000, 4_000] if quick else [1_000, 4_000, 16_000, 64_000]
    X_all, y_all = mnist(sizes[-1])
    rows = []
    with threadpool_limits(limits=N_THREADS):
        for name, model in models().items():
            clone(model).fit(X_all[:200], y_all[:200])  # warm-up
            times = []
            for n in sizes:
                X, y = X_all[:n], y_all[:n]
                repeat = 3 if n <= 1_000 else 1

                def fit(model=model, X=X, y=y):
                    clone(model).fit(X, y)

                times.append(time_call(fit, repeat)[0])
            for i, (n, seconds) in enumerate(zip(sizes, times)):
                exponent = ""
                if i > 0:
                    ratio = math.log(seconds / times[i - 1])
                    exponent = f"{ratio / math.log(n / sizes[i - 1]):.2f}"
                rows.append(
                    [
                        name,
                        f"{n:,}",
                        f"{seconds:.2f}",
                        f"{1e6 * seconds / n:,.0f}",
                        f"{(seconds / n) / (times[0] / sizes[0]):.2f}",
                        exponent,
                    ]
                )
            print(f"done: {name}", flush=True)
    markdown_table(
        [
            "model",
            "rows",
            "fit (s)",
            "µs per row",
            "per row vs 1k",
            "exponent vs previous",
        ],
        rows,
        title="Fit time against n_samples (fixed epochs)",
    )


if __name__ == "__main__":
    main(**vars(parser(__doc__).parse_args()))
