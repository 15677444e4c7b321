"""Conv-net training step: our NumPy/Numba kernels against PyTorch CPU and
against the floor of their own matrix products.

Network (the prototype conv source): 28x28x1 inputs, conv 5x5
32 maps pad 2 -> ReLU -> max-pool 2 -> conv 5x5 64 maps pad 2 -> ReLU ->
max-pool 2 -> dense 256 -> ReLU -> dense 10 softmax, float32, batch 64.

One training step is forward, softmax cross-entropy, backward and a plain SGD
update, on both sides; for PyTorch it is ``zero_grad``, the model, the loss,
``backward`` and ``SGD.step``. Our second conv layer runs as Winograd
F(2x2, 5x5) (``skalltransfer._kernels._winograd``), the first as im2col. The
GEMM floor is the time of exactly the matrix products our step performs
(their shapes and operand layouts are recorded during one step, then
replayed with NumPy ``@``; a Winograd chunk's 36 products as one stacked
``matmul``).

Everything runs in one process at 1 and 2 threads (``threadpoolctl`` for
BLAS, ``torch.set_num_threads`` for PyTorch), the implementations interleaved
over rounds so that background load hits them alike. Every cell reports the
best and the median step time over all rounds; the ratios use the best times
(background load only ever adds time). ``samples/s`` is batch / best step.
At 2 threads a core busy with another process stalls each BLAS call's
partner thread: trust 2-thread figures only from an otherwise idle machine.

Further tables: the step time against the im2col chunk size (``max_bytes``),
and where the time of our step goes (each kernel timed inside one step).

OpenBLAS picks its kernels from the CPU it detects; the header prints its
choice. Where it falls back to AVX2 ("Haswell") on an AVX-512 CPU, run with
``OPENBLAS_CORETYPE=SkylakeX`` in the environment to measure its AVX-512
kernels.

Run: ``python benchmarks/bench_conv_kernels.py [--quick] [--rounds R]
[--threads 1 2]``
(PyTorch is needed for its column only: ``pip install torch``.)
"""

import importlib.util
import statistics
import time
from collections import Counter, defaultdict

import numpy as np
from common import environment, markdown_table, mnist, parser, time_call
from threadpoolctl import threadpool_info, threadpool_limits

from skalltransfer._kernels import _threads
from skalltransfer._kernels._feedforward import output_loss_grad
from skalltransfer._kernels.conv import (
    _dae,
    _gemm,
    _im2col,
    _layer,
    _network,
    _pool,
    _winograd,
)
from skalltransfer._kernels.conv._network import (
    ConvGeometry,
    conv_layer_shapes,
    conv_net_backward,
    conv_net_forward,
)

# The conv kernels' modules: a kernel is timed by rebinding its name in every
# module that calls it.
CONV_MODULES = (_gemm, _im2col, _pool, _layer, _network, _dae)

BATCH = 64
LEARNING_RATE = 0.01
GEOMETRY = ConvGeometry((28, 28, 1), ((5, 5, 2, 2), (5, 5, 2, 2)))
MAPS = (32, 64)
HIDDEN = 256
N_CLASSES = 10


def _data(n_batches):
    X, y = mnist(BATCH * n_batches)
    Y = np.eye(N_CLASSES, dtype=np.float32)[y]
    return X, y, Y


def _init_params(rng):
    """He-initialised float32 weights of the network (conv GEMM matrices
    first, then the dense layers) and zero biases."""
    _, sizes = conv_layer_shapes(GEOMETRY, MAPS)
    fan_in = [kh * kw * c for (kh, kw, _, _), c in zip(GEOMETRY.layers, (1, *MAPS))]
    dims = [(f, m) for f, m in zip(fan_in, MAPS)]
    dims += [(sizes[-1], HIDDEN), (HIDDEN, N_CLASSES)]
    coefs = [
        (rng.normal(size=d) * np.sqrt(2.0 / d[0])).astype(np.float32) for d in dims
    ]
    intercepts = [np.zeros(d[1], dtype=np.float32) for d in dims]
    return coefs, intercepts


def ours(n_batches=4, max_bytes=_gemm.MAX_BYTES, keep_bytes=_gemm.KEEP_BYTES):
    """A closure running one training step of our kernels on the next batch."""
    X, _, Y = _data(n_batches)
    coefs, intercepts = _init_params(np.random.RandomState(0))
    params = coefs + intercepts
    weights = np.ones(BATCH, dtype=np.float32)
    workspace = {}
    lr = np.float32(LEARNING_RATE)
    state = {"batch": 0}

    def step():
        i = state["batch"]
        state["batch"] = (i + 1) % n_batches
        Xb, Yb = X[i * BATCH : (i + 1) * BATCH], Y[i * BATCH : (i + 1) * BATCH]
        cache = conv_net_forward(
            coefs,
            intercepts,
            Xb,
            GEOMETRY,
            "relu",
            "softmax",
            max_bytes=max_bytes,
            keep_bytes=keep_bytes,
            workspace=workspace,
        )
        _, grad = output_loss_grad(
            cache.activations, Yb, "log_loss", "softmax", weights
        )
        coef_grads, intercept_grads = conv_net_backward(
            coefs, cache, grad, "relu", max_bytes=max_bytes, workspace=workspace
        )
        for p, g in zip(params, coef_grads + intercept_grads):
            g *= lr
            p -= g

    return step


def pytorch(n_batches=4):
    """A closure running one training step of the same network in PyTorch
    (NCHW, as PyTorch's CPU convolutions expect)."""
    import torch

    X, y, _ = _data(n_batches)
    torch.manual_seed(0)
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, MAPS[0], 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(MAPS[0], MAPS[1], 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(7 * 7 * MAPS[1], HIDDEN),
        nn.ReLU(),
        nn.Linear(HIDDEN, N_CLASSES),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    loss_fn = nn.CrossEntropyLoss()
    X_t = torch.from_numpy(X).reshape(-1, 1, 28, 28)
    y_t = torch.from_numpy(y.astype(np.int64))
    state = {"batch": 0}

    def step():
        i = state["batch"]
        state["batch"] = (i + 1) % n_batches
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(
            model(X_t[i * BATCH : (i + 1) * BATCH]), y_t[i * BATCH : (i + 1) * BATCH]
        )
        loss.backward()
        optimizer.step()

    return step


# -- GEMM floor and time breakdown ---------------------------------------------
def _layout(a):
    """``"C"`` for a C-contiguous operand, ``"T"`` for one whose last two
    axes are a transposed view (``.T`` of a matrix, or per-image products'
    ``.transpose(0, 2, 1)``)."""
    return "C" if a.flags.c_contiguous else "T"


def _winograd_chunks(x, threads):
    """Images per chunk of a Winograd call on ``x`` (B, H, W, C) split over
    ``threads`` threads."""
    for start, stop in _winograd._split(len(x), threads or _threads.n_threads()):
        for s in range(start, stop, _winograd.CHUNK):
            yield min(_winograd.CHUNK, stop - s)


def record_gemms(step):
    """Counter of ``(shape_a, layout_a, shape_b, layout_b, dtype)`` of the
    matrix products one call of ``step`` performs. A Winograd layer's 36
    products per chunk (made inside its Numba loop) are recorded as one
    stacked product of 36 matrices, as NumPy's ``matmul`` replays them."""
    gemms = Counter()
    original = np.matmul
    wino_forward = _winograd.conv_pool_forward
    wino_backward = _winograd.conv_pool_backward

    def recording(a, b, out=None):
        gemms[a.shape, _layout(a), b.shape, _layout(b), a.dtype.str] += 1
        return original(a, b, out=out)

    def forward(x, W, b, out, argmax, workspace=None, threads=None):
        (_, H, Wd, C), K = x.shape, W.shape[1]
        for n in _winograd_chunks(x, threads):
            T = n * (H // 2) * (Wd // 2)
            gemms[(36, T, C), "C", (36, C, K), "C", x.dtype.str] += 1
        return wino_forward(x, W, b, out, argmax, workspace, threads)

    def backward(x, W, dout, argmax, need_dx=True, workspace=None, threads=None):
        (_, H, Wd, C), K = x.shape, W.shape[1]
        for n in _winograd_chunks(x, threads):
            T = n * (H // 2) * (Wd // 2)
            gemms[(36, C, T), "T", (36, T, K), "C", x.dtype.str] += 1
            if need_dx:
                gemms[(36, T, K), "C", (36, K, C), "C", x.dtype.str] += 1
        return wino_backward(x, W, dout, argmax, need_dx, workspace, threads)

    np.matmul = recording
    _winograd.conv_pool_forward = forward
    _winograd.conv_pool_backward = backward
    try:
        step()
    finally:
        np.matmul = original
        _winograd.conv_pool_forward = wino_forward
        _winograd.conv_pool_backward = wino_backward
    return gemms


def gemm_floor(gemms):
    """A closure running every recorded matrix product once, on operands of
    the recorded shapes and layouts, outputs preallocated."""
    rng = np.random.RandomState(0)
    calls = []

    def operand(shape, layout, dtype):
        if layout == "C":
            return rng.rand(*shape).astype(dtype)
        stored = (*shape[:-2], shape[-1], shape[-2])
        return rng.rand(*stored).astype(dtype).swapaxes(-1, -2)

    for (sa, la, sb, lb, dt), count in gemms.items():
        a, b = operand(sa, la, dt), operand(sb, lb, dt)
        out = np.empty((*sa[:-1], sb[-1]), dtype=dt)
        calls += [(a, b, out)] * count

    def run():
        for a, b, out in calls:
            np.matmul(a, b, out=out)

    return run


def breakdown(step, n_steps):
    """Seconds per step spent in each conv kernel (and in the matrix
    products), from timing wrappers installed around them."""
    names = ["im2col", "col2im", "maxpool_bias", "maxpool_backward"]
    spent = defaultdict(float)
    originals = {
        name: {m: getattr(m, name) for m in CONV_MODULES if hasattr(m, name)}
        for name in names
    }
    matmul = np.matmul
    winograd = ["conv_pool_forward", "conv_pool_backward"]
    wino_originals = {name: getattr(_winograd, name) for name in winograd}

    def timed(name, func):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = func(*args, **kwargs)
            spent[name] += time.perf_counter() - start
            return result

        return wrapper

    for name, bindings in originals.items():
        wrapped = timed(name, next(iter(bindings.values())))
        for module in bindings:
            setattr(module, name, wrapped)
    np.matmul = timed("matmul", matmul)
    for name, func in wino_originals.items():
        setattr(_winograd, name, timed(name, func))
    try:
        step()
        spent.clear()
        start = time.perf_counter()
        for _ in range(n_steps):
            step()
        total = time.perf_counter() - start
    finally:
        for name, bindings in originals.items():
            for module, func in bindings.items():
                setattr(module, name, func)
        np.matmul = matmul
        for name, func in wino_originals.items():
            setattr(_winograd, name, func)
    return total / n_steps, {k: v / n_steps for k, v in spent.items()}


# -- main ----------------------------------------------------------------------
def blas_kernels():
    """OpenBLAS's kernel choice, and whether the CPU has AVX-512."""
    arch = sorted(
        {
            p.get("architecture") or "?"
            for p in threadpool_info()
            if p["user_api"] == "blas"
        }
    )
    try:
        with open("/proc/cpuinfo") as f:
            avx512 = " avx512f" in f.read()
    except OSError:
        avx512 = None
    return ", ".join(arch), avx512


def main(quick=False, rounds=5, thread_counts=(1, 2)):
    have_torch = importlib.util.find_spec("torch") is not None
    arch, avx512 = blas_kernels()
    print(f"Environment: {environment()}")
    print(f"OpenBLAS kernels: {arch}; CPU has AVX-512: {avx512}.")
    rounds = 2 if quick else rounds
    repeat = 5 if quick else 15
    if have_torch:
        import torch

        print(f"PyTorch {torch.__version__}")

    impls = {"ours": ours}
    if have_torch:
        impls["PyTorch"] = pytorch
    steps = {name: make() for name, make in impls.items()}
    gemms = record_gemms(ours())
    steps["GEMM floor"] = gemm_floor(gemms)
    flops = sum(
        2 * int(np.prod(sa)) * sb[-1] * n for (sa, _, sb, _, _), n in gemms.items()
    )

    # Rounds interleave the implementations; each keeps every round's best
    # and median.
    times = defaultdict(list)
    for _ in range(rounds):
        for n_threads in thread_counts:
            with threadpool_limits(n_threads):
                if have_torch:
                    torch.set_num_threads(n_threads)
                for name, step in steps.items():
                    best, median = time_call(step, repeat=repeat, warmup=3)
                    times[n_threads, name].append((best, median))

    rows = []
    for n_threads in thread_counts:
        stat = {
            name: (
                min(b for b, _ in times[n_threads, name]),
                statistics.median(m for _, m in times[n_threads, name]),
            )
            for name in steps
        }
        for name in steps:
            best, median = stat[name]
            is_ours = name == "ours"
            torch_best = stat.get("PyTorch", (None,))[0]
            rows.append(
                [
                    n_threads,
                    name,
                    f"{best * 1e3:.1f}",
                    f"{median * 1e3:.1f}",
                    f"{BATCH / best:,.0f}",
                    f"{torch_best / best:.2f}" if is_ours and torch_best else "",
                    f"{best / stat['GEMM floor'][0]:.2f}" if is_ours else "",
                ]
            )
    markdown_table(
        [
            "threads",
            "step",
            "best ms",
            "median ms",
            "samples/s",
            "ours/PyTorch (throughput)",
            "ours/GEMM floor (time)",
        ],
        rows,
        title=f"Conv-net training step, batch {BATCH}, float32, {rounds} rounds",
    )
    print(
        f"The GEMM floor replays our {sum(gemms.values())} matrix products "
        f"({flops / 1e9:.2f} GFLOP per step). Target: ours/PyTorch >= 1.0."
    )
    if not have_torch:
        print("PyTorch is not installed: its rows are skipped (pip install torch).")

    # The im2col chunk size, at both thread counts.
    sizes_mb = (1, 8, 64) if quick else (0.5, 1, 2, 4, 8, 16, 64)
    chunk_steps = {mb: ours(max_bytes=int(mb * 2**20)) for mb in sizes_mb}
    chunk_times = defaultdict(list)
    for _ in range(rounds):
        for n_threads in thread_counts:
            with threadpool_limits(n_threads):
                for mb, step in chunk_steps.items():
                    chunk_times[n_threads, mb].append(time_call(step, repeat, 3)[0])
    markdown_table(
        ["im2col chunk (MB)", *(f"{n} thread(s): best ms" for n in thread_counts)],
        [
            [
                f"{mb:g}" + (" (default)" if mb * 2**20 == _gemm.MAX_BYTES else ""),
                *(f"{min(chunk_times[n, mb]) * 1e3:.1f}" for n in thread_counts),
            ]
            for mb in sizes_mb
        ],
        title="Our step time against the im2col chunk size (max_bytes)",
    )

    # Where our time goes.
    n_steps = 10 if quick else 40
    for n_threads in thread_counts:
        with threadpool_limits(n_threads):
            per_step, spent = min(
                (breakdown(ours(), n_steps) for _ in range(3)), key=lambda r: r[0]
            )
        labels = {
            "conv_pool_forward": "Winograd conv + pool, forward (all of it)",
            "conv_pool_backward": "Winograd conv + pool, backward (all of it)",
            "matmul": "matrix products (im2col and dense layers)",
            "im2col": "im2col",
            "col2im": "col2im",
            "maxpool_bias": "max-pool (+ bias)",
            "maxpool_backward": "max-pool backward",
        }
        rows = [
            [labels[k], f"{v * 1e3:.2f}", f"{100 * v / per_step:.0f}%"]
            for k, v in sorted(spent.items(), key=lambda kv: -kv[1])
        ]
        rest = per_step - sum(spent.values())
        rows.append(
            [
                "everything else (NumPy, Python)",
                f"{rest * 1e3:.2f}",
                f"{100 * rest / per_step:.0f}%",
            ]
        )
        markdown_table(
            ["part", "ms per step", "share"],
            rows,
            title=f"Where our step's time goes, {n_threads} thread(s) "
            f"({per_step * 1e3:.1f} ms per step, timing wrappers included)",
        )


if __name__ == "__main__":
    p = parser(__doc__)
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    p.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=[1, 2],
        help="thread counts to measure (default: 1 2)",
    )
    args = p.parse_args()
    main(quick=args.quick, rounds=args.rounds, thread_counts=tuple(args.threads))
