#!/usr/bin/env python
"""A catalogue of bad, unusual and adversarial inputs to skalltransfer.

Every case calls the public API (``skalltransfer``, ``skalltransfer.datasets``,
``skalltransfer.metrics``, ``skalltransfer.active``) or the ``skalltransfer``
command line with one odd input, as a new user or an attacker would, and
classifies what happens:

- ``clear error``: an exception of a user-facing type (ValueError, TypeError,
  FileNotFoundError, IsADirectoryError, PermissionError, NotFittedError,
  InvalidParameterError, other OSErrors; for the command line: exit status 2
  and one line on stderr) whose message names the problem (the parameter,
  argument, file or offending value the case lists as hints, and no bare
  NumPy/Numba/Python internal wording);
- ``works``: a valid unusual input accepted with a sensible result (finite
  probabilities summing to 1, the right shapes, the same answer as for the
  plain float64 array of the same values, ...);
- ``poor message``: a user-facing exception whose message does not say what
  to fix;
- ``crash``: an exception of an unexpected type (IndexError, KeyError,
  AttributeError, ZeroDivisionError, RecursionError, numba errors, a
  traceback escaping the command line, a killed subprocess, ...);
- ``bug``: the call succeeds but the result is wrong (NaN, probabilities not
  summing to 1, a bad input silently accepted, truncated or ignored, a valid
  input refused, an input modified);
- ``security``: code runs that should not (a pickle loaded without an
  explicit opt-in), a crafted file is accepted whose arrays do not fit the
  network (reads outside an array), something is written outside where
  asked, or a small file costs unbounded memory or time.

For every case the arrays, estimators, ``SourceData`` and dicts passed are
hashed before and after the call (and so are the shared fitted fixtures):
any change counts as a ``bug``.

Cases that could crash the interpreter, blow up memory or hang run in a
subprocess (``resource`` limits, timeout, peak-memory measurement): those
that may only crash share a subprocess (a case that kills it is reported and
the rest run in a new one); those whose memory or time is measured, and those
that need permission checks (run without CAP_DAC_OVERRIDE through
``setpriv`` when started as root), run alone. The command line runs in-process through
``skalltransfer.cli._main.main(argv)`` with stdout/stderr captured; training
the bundled-MNIST sources and ``reproduce``'s experiment are replaced by a
sentinel, so an argument error that is not caught shows up as "accepted,
would start ..." without running anything long.

Usage::

    python benchmarks/bad_inputs.py               # all cases (full run)
    python benchmarks/bad_inputs.py --quick       # without the slow cases
    python benchmarks/bad_inputs.py --area cli --only predict
    python benchmarks/bad_inputs.py --json out.json
    python benchmarks/bad_inputs.py --rerun out.json   # only the non-good cases
    python benchmarks/bad_inputs.py --list         # list the cases, run nothing

Everything is written under a scratch directory in /tmp (removed at the end
unless ``--keep``); ``SKALLTRANSFER_CACHE`` and ``HOME`` point into it, and
the current directory is a scratch directory watched for stray writes.
"""

import argparse
import contextlib
import copy
import functools
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np

THIS = os.path.abspath(__file__)
CLASSES = ("clear error", "works", "poor message", "crash", "bug", "security")
GOOD = ("clear error", "works")

# Subprocess limits: address space (numba/LLVM need ~1 GB of it), and the
# growth of the peak resident memory above which a case counts as unbounded.
AS_LIMIT = 3 << 30
DEFAULT_MEM_MB = 300


# =============================================================================
# Classification
# =============================================================================
class Wrong(Exception):
    """Raised by a case when the call succeeded with a wrong result; ``cls``
    overrides the class the case would give it."""

    def __init__(self, message, cls=None):
        super().__init__(message)
        self.cls = cls


class WouldRun(BaseException):
    """Raised instead of training a bundled-MNIST source or running
    ``reproduce``'s experiment (a BaseException: no ``except Exception`` in
    the package swallows it)."""


class CaseTimeout(BaseException):
    pass


def _user_facing(exc):
    from sklearn.exceptions import NotFittedError

    module = type(exc).__module__ or ""
    if module.startswith("numba"):
        return False
    return isinstance(
        exc,
        (
            ValueError,
            TypeError,
            OSError,
            NotFittedError,
            ImportError,
            FloatingPointError,
        ),
    )


# Wording of NumPy, SciPy, Numba and Python internals: a message with one of
# these does not say what the user should fix.
POOR_PATTERNS = [
    r"index -?\d+ is out of bounds",
    r"list index out of range",
    r"unsupported operand type",
    r"missing \d+ required positional argument",
    r"takes \d+ positional arguments? but",
    r"got an unexpected keyword argument",
    r"object is not subscriptable",
    r"object is not iterable",
    r"object is not callable",
    r"has no attribute",
    r"could not be broadcast",
    r"cannot reshape array",
    r"setting an array element with a sequence",
    r"invalid literal for int\(\)",
    r"could not convert string to float",
    r"not supported between instances",
    r"unhashable type",
    r"only integer scalar arrays",
    r"truth value of an array",
    r"too many values to unpack",
    r"not enough values to unpack",
    r"No matching definition",
    r"Buffer dtype mismatch",
    r"ufunc '\w+' (not supported|did not contain)",
    r"has no len\(\)",
    r"must be real number, not",
    r"parameters for float\d+ input",
    r"'NoneType' object",
    r"expected str, bytes or os\.PathLike object",
    r"cannot convert float (NaN|infinity) to integer",
    r"division by zero",
    r"array must not contain infs or NaNs",
    r"SVD did not converge",
    r"[Ss]ingular matrix",
    r"codec can't (de|en)code",
    r"Expecting (value|property name)",
    r"zero-size array to reduction operation",
    r"maximum recursion depth",
    r"math domain error",
    r"embedded null (byte|character)",
    r"^\[Errno \d+\] [^'/]*$",
    r"Cannot cast (array data|ufunc)",
    r"data type .* not understood",
    r"negative dimensions are not allowed",
    r"array is too big",
    r"Unable to allocate",
    r"Python int too large",
]


def message_problem(message, hints):
    """None if ``message`` names the problem, else why it does not."""
    text = " ".join(str(message).split())
    if len(text) < 15:
        return f"message too short ({text!r})"
    for pattern in POOR_PATTERNS:
        for found in re.finditer(pattern, text):
            # An internal detail the package quotes in parentheses after its
            # own explanation is fine.
            before = text[: found.start()]
            if before.count("(") > before.count(")") and len(before) >= 30:
                continue
            return f"internal wording /{pattern}/"
    if hints and not any(h.lower() in text.lower() for h in hints):
        shown = ", ".join(repr(h) for h in hints[:4])
        return f"does not mention any of {shown}"
    return None


@dataclass
class Case:
    area: str
    name: str
    fn: object  # fn(t) -> summary (or raises)
    kind: str = "bad"  # "bad": must be refused; "valid": must work; "any"
    hints: tuple = ()
    call: str = ""
    accept_class: str = "bug"  # class when a "bad" input is accepted
    isolate: bool = False
    slow: bool = False
    timeout: float = 60.0
    mem_mb: float = None  # peak memory growth above which: security
    on_timeout: str = "crash"
    on_signal: str = "crash"
    drop_dac: bool = False  # run without root's permission override
    cwd_writes: bool = False  # the case may write in the current directory
    pickle_opt_in: bool = False  # running the case's pickle is expected
    prepare: object = None  # run before the case (files), not measured
    cli: bool = False

    @property
    def id(self):
        return f"{self.area}/{self.name}"


CASES = []
_IDS = set()


def add(area, name, fn, **kw):
    case = Case(area, name, fn, **kw)
    if not case.call:
        case.call = name
    if case.id in _IDS:
        n = 2
        while f"{case.id} #{n}" in _IDS:
            n += 1
        case.name = f"{name} #{n}"
    _IDS.add(case.id)
    CASES.append(case)
    return case


def short(value, n=160):
    text = " ".join(str(value).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def summarize(result):
    if result is None:
        return "returned None"
    if isinstance(result, str):
        return result
    if isinstance(result, np.ndarray):
        return f"array {result.dtype} {result.shape}"
    if isinstance(result, tuple):
        return "(" + ", ".join(summarize(r) for r in result[:3]) + ")"
    if hasattr(result, "get_params"):
        return f"fitted {type(result).__name__}"
    return short(repr(result), 100)


# =============================================================================
# Modification tracking
# =============================================================================
def _feed(h, value, depth, seen):
    if depth > 8:
        h.update(b"<deep>")
        return
    if isinstance(value, np.ndarray):
        h.update(f"nd{value.dtype.str}{value.shape}{value.flags.writeable}".encode())
        if value.dtype.hasobject:
            for item in value.ravel()[:10000]:
                _feed(h, item, depth + 1, seen)
        else:
            h.update(np.ascontiguousarray(value).tobytes())
        return
    if hasattr(value, "tocsr") and hasattr(value, "nnz"):  # scipy sparse
        m = value.tocsr()
        h.update(f"sp{m.shape}".encode())
        for a in (m.data, m.indices, m.indptr):
            _feed(h, a, depth + 1, seen)
        return
    if value is None or isinstance(
        value, (str, bytes, int, float, complex, bool, np.generic)
    ):
        h.update(f"{type(value).__name__}:{value!r}".encode())
        return
    if isinstance(value, (list, tuple)):
        h.update(f"{type(value).__name__}[{len(value)}]".encode())
        for item in value:
            _feed(h, item, depth + 1, seen)
        return
    if isinstance(value, dict):
        h.update(f"dict[{len(value)}]".encode())
        for k in sorted(value, key=repr):
            h.update(repr(k).encode())
            _feed(h, value[k], depth + 1, seen)
        return
    if id(value) in seen:
        h.update(b"<seen>")
        return
    if type(value).__name__ == "SourceData":
        seen.add(id(value))
        _feed(h, value._X, depth + 1, seen)
        _feed(h, value._y, depth + 1, seen)
        return
    state = getattr(value, "__dict__", None)
    if isinstance(state, dict) and not isinstance(value, type) and not callable(value):
        seen.add(id(value))
        h.update(type(value).__qualname__.encode())
        _feed(h, dict(state), depth + 1, seen)
        return
    if hasattr(value, "get_params") and isinstance(state, dict):  # callable estimators
        seen.add(id(value))
        _feed(h, dict(state), depth + 1, seen)
        return
    h.update(type(value).__qualname__.encode())


def digest(value):
    h = hashlib.sha1()
    _feed(h, value, 0, set())
    return h.hexdigest()


def snapshot(obj):
    """Named parts of ``obj`` -> digest (attributes of an object, keys of a
    dict, items of a list), so that a change can be located."""
    if isinstance(obj, dict):
        return {repr(k): digest(v) for k, v in obj.items()} | {
            "<keys>": digest(sorted(map(repr, obj)))
        }
    if isinstance(obj, (list, tuple)) and not isinstance(obj, np.ndarray):
        return {f"[{i}]": digest(v) for i, v in enumerate(obj)} | {
            "<len>": str(len(obj))
        }
    if type(obj).__name__ == "SourceData":
        return {"X": digest(obj._X), "y": digest(obj._y)}
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and not isinstance(obj, (np.ndarray, type)):
        return {k: digest(v) for k, v in state.items()} | {
            "<attrs>": digest(sorted(state))
        }
    return {"": digest(obj)}


def changed(before, after):
    keys = sorted(set(before) | set(after))
    return [k or "content" for k in keys if before.get(k) != after.get(k)]


class Tracker:
    """``t(obj, label)`` registers what a case passes; returns ``obj``."""

    def __init__(self):
        self.items = []

    def __call__(self, obj, label=None):
        self.items.append((label or type(obj).__name__, obj, snapshot(obj)))
        return obj

    def violations(self):
        out = []
        for label, obj, before in self.items:
            diff = changed(before, snapshot(obj))
            if diff:
                out.append(f"{label} modified ({', '.join(diff[:5])})")
        return out


# =============================================================================
# Environment, scratch space, fixtures
# =============================================================================
SCRATCH = None
FX = None


def setup_environment(scratch):
    global SCRATCH
    SCRATCH = scratch
    for sub in ("files", "home", "cwd", "markers", "cache", "default-cache", "out"):
        os.makedirs(os.path.join(scratch, sub), exist_ok=True)
    os.environ["SKALLTRANSFER_CACHE"] = os.path.join(scratch, "default-cache")
    os.environ["HOME"] = os.path.join(scratch, "home")
    os.environ.pop("XDG_CACHE_HOME", None)
    for var in (
        "NUMBA_NUM_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
    ):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    os.chdir(os.path.join(scratch, "cwd"))


def S(*parts):
    """A path in the scratch directory."""
    return os.path.join(SCRATCH, *parts)


def shown(text):
    """``text`` with the scratch path abbreviated to ``$S``."""
    return str(text).replace(SCRATCH, "$S") if SCRATCH else str(text)


def marker_for(case_id):
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", case_id)[:150]
    return S("markers", safe)


class Evil:
    """Unpickling this creates the directory ``marker`` (and does nothing
    else): evidence that a pickle ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def write_evil_pickle(path, marker):
    with open(path, "wb") as f:
        pickle.dump(Evil(marker), f)
    return path


# -- estimators ---------------------------------------------------------------
KW = {
    "MPDBM": dict(
        hidden_layer_sizes=(8,),
        max_iter=2,
        n_mean_field_iter=2,
        discriminative_max_iter=2,
        random_state=0,
    ),
    "SAE": dict(
        hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=3, random_state=0
    ),
    "Conv": dict(
        conv_layers=((2, 3),),
        hidden_layer_sizes=(8,),
        pretrain_max_iter=1,
        max_iter=1,
        random_state=0,
    ),
}
TKW = dict(max_iter=2, random_state=0)


def st():
    import skalltransfer

    return skalltransfer


class Fixtures:
    """Small data and fitted models, built on first use and shared (cases
    never modify them: every one is hashed around every case)."""

    def __init__(self):
        rng = np.random.RandomState(0)
        self.X = rng.rand(60, 64)  # 60 "8 x 8 images" in [0, 1]
        self.y = np.tile([0, 1, 2], 20)
        self.Xt = rng.rand(24, 64)
        self.yt = np.tile([0, 1], 12)
        self._built = {}

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._built:
            builder = getattr(type(self), "make_" + name, None)
            if builder is None:
                raise AttributeError(name)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._built[name] = builder(self)
        return self._built[name]

    def fresh(self, name):
        return copy.deepcopy(getattr(self, name))

    def snapshots(self):
        out = {
            "X": snapshot(self.X),
            "y": snapshot(self.y),
            "Xt": snapshot(self.Xt),
            "yt": snapshot(self.yt),
        }
        for name, obj in self._built.items():
            out[name] = snapshot(obj)
        return out

    # sources
    def make_sae(self):
        return st().StackedAutoencoderClassifier(**KW["SAE"]).fit(self.X, self.y)

    def make_mpdbm(self):
        return st().MPDBMClassifier(**KW["MPDBM"]).fit(self.X, self.y)

    def make_conv64(self):
        return st().ConvAutoencoderClassifier(**KW["Conv"]).fit(self.X, self.y)

    def make_conv32(self):
        return (
            st()
            .ConvAutoencoderClassifier(**KW["Conv"])
            .fit(self.X.astype(np.float32), self.y)
        )

    def make_sae63(self):
        return (
            st().StackedAutoencoderClassifier(**KW["SAE"]).fit(self.X[:, :63], self.y)
        )

    def make_sae_str(self):
        return (
            st()
            .StackedAutoencoderClassifier(**KW["SAE"])
            .fit(self.X, np.array(["a", "b", "c"])[self.y])
        )

    def make_mlp(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier((8,), max_iter=30, random_state=0).fit(self.X, self.y)

    def make_mlp_binary(self):
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier((8,), max_iter=30, random_state=0).fit(self.X, self.y % 2)

    def make_mlp_multilabel2(self):
        from sklearn.neural_network import MLPClassifier

        labels = np.stack([self.y % 2, self.y > 4], axis=1)
        return MLPClassifier((8,), max_iter=30, random_state=0).fit(self.X, labels)

    def make_mlp_multilabel3(self):
        from sklearn.neural_network import MLPClassifier

        labels = np.stack([self.y % 2, self.y > 4, self.y % 3 == 0], axis=1)
        return MLPClassifier((8,), max_iter=30, random_state=0).fit(self.X, labels)

    def make_logreg(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=50).fit(self.X, self.y)

    def make_knn(self):
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(3).fit(self.X, self.y)

    def make_sd(self):
        return st().SourceData(self.X, self.y)

    # transfer estimators
    def make_all_sae(self):
        return st().AllTransferClassifier(self.sae, **TKW).fit(self.Xt, self.yt)

    def make_all_mpdbm(self):
        return st().AllTransferClassifier(self.mpdbm, **TKW).fit(self.Xt, self.yt)

    def make_all_conv32(self):
        return (
            st()
            .AllTransferClassifier(self.conv32, **TKW)
            .fit(self.Xt.astype(np.float32), self.yt)
        )

    def make_all_mlp(self):
        return st().AllTransferClassifier(self.mlp, **TKW).fit(self.Xt, self.yt)

    def make_trunc_sae(self):
        return (
            st()
            .TruncatedTransferClassifier(self.sae, cv=2, **TKW)
            .fit(self.Xt, self.yt)
        )

    def make_feats_sae(self):
        return st().SourceFeatures(self.sae).fit(self.Xt)

    def make_feats_conv32(self):
        return st().SourceFeatures(self.conv32).fit(self.Xt.astype(np.float32))

    def make_direct_sae(self):
        return st().DirectTransferClassifier(self.sae).fit(self.Xt, self.yt)

    # files
    def file(self, name):
        """The path of the shared fixture file ``name`` (made if missing)."""
        path = S("files", name)
        if not os.path.exists(path):
            getattr(self, "file_" + re.sub(r"\W", "_", name))(path)
        return path

    def _save(self, model, path):
        st().save_model(model, path)

    def file_sae_skops(self, path):
        self._save(self.sae, path)

    def file_sae63_skops(self, path):
        self._save(self.sae63, path)

    def file_all_sae_skops(self, path):
        self._save(self.all_sae, path)

    def file_all_conv32_skops(self, path):
        self._save(self.all_conv32, path)

    def file_feats_sae_skops(self, path):
        self._save(self.feats_sae, path)

    def file_unfitted_skops(self, path):
        self._save(st().StackedAutoencoderClassifier((8,)), path)

    def file_all_sae_joblib(self, path):
        import joblib

        joblib.dump(self.all_sae, path)

    def file_target(self, path):
        """Two class folders of six 8 x 8 grey PNGs."""
        rng = np.random.RandomState(1)
        for cls in ("cat", "dog"):
            os.makedirs(os.path.join(path, cls))
            for i in range(6):
                write_png(
                    os.path.join(path, cls, f"{i}.png"), rng.randint(0, 256, (8, 8))
                )

    def file_target28(self, path):
        rng = np.random.RandomState(2)
        for cls in ("a", "b"):
            os.makedirs(os.path.join(path, cls))
            for i in range(4):
                write_png(
                    os.path.join(path, cls, f"{i}.png"), rng.randint(0, 256, (28, 28))
                )

    def file_images(self, path):
        """A folder of four unlabelled 8 x 8 PNGs."""
        os.makedirs(path)
        rng = np.random.RandomState(3)
        for i in range(4):
            write_png(os.path.join(path, f"img{i}.png"), rng.randint(0, 256, (8, 8)))

    def file_cli_model_skops(self, path):
        """A model saved by ``skalltransfer fit`` (classes 'cat' and 'dog')."""
        r = run_cli(
            [
                "fit",
                "--target-dir",
                self.file("target"),
                "--source",
                self.file("sae.skops"),
                "--max-iter",
                "1",
                "--cv",
                "0",
                "--out",
                path,
            ]
        )
        if r.code != 0:
            raise RuntimeError(f"skalltransfer fit failed: {r.err}")

    def file_target_constant(self, path):
        """Two class folders of constant (one-value) 8 x 8 PNGs."""
        for cls, value in (("cat", 0), ("dog", 255)):
            os.makedirs(os.path.join(path, cls))
            for i in range(4):
                write_png(os.path.join(path, cls, f"{i}.png"), np.full((8, 8), value))

    def file_target_groups(self, path):
        """Two class folders, file names patientN_scanM.png."""
        rng = np.random.RandomState(4)
        for cls in ("cat", "dog"):
            os.makedirs(os.path.join(path, cls))
            for p in range(3):
                for m in range(2):
                    write_png(
                        os.path.join(path, cls, f"patient{p}_{cls}_scan{m}.png"),
                        rng.randint(0, 256, (8, 8)),
                    )

    def file_text_txt(self, path):
        with open(path, "w") as f:
            f.write("not a model\n")

    def file_empty_dir(self, path):
        os.makedirs(path)


def write_png(path, pixels, mode="L"):
    from PIL import Image

    Image.fromarray(np.asarray(pixels).astype(np.uint8), mode=mode).save(path)
    return path


def write_raw_png(
    path, width, height, bit_depth=8, color_type=0, rows=None, truncate_idat=False
):
    """A PNG written chunk by chunk (one colour, zlib-streamed): a huge
    declared image in a small file, with little memory."""

    def chunk(kind, data):
        body = kind + data
        return (
            struct.pack(">I", len(data))
            + body
            + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
        )

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row_bytes = (width * channels * bit_depth + 7) // 8
    comp = zlib.compressobj(9)
    parts = []
    row = b"\x00" + b"\x00" * row_bytes
    block = row * max(1, min(height, (1 << 20) // len(row)))
    n_rows_per_block = len(block) // len(row)
    done = 0
    limit = height if rows is None else rows
    while done < limit:
        n = min(n_rows_per_block, limit - done)
        parts.append(comp.compress(block[: n * len(row)]))
        done += n
    parts.append(comp.flush())
    idat = b"".join(parts)
    if truncate_idat:
        idat = idat[: len(idat) // 2]
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(
            chunk(
                b"IHDR",
                struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0),
            )
        )
        f.write(chunk(b"IDAT", idat))
        f.write(chunk(b"IEND", b""))
    return path


def idx_bytes(dims, data=None, type_code=0x08, magic_prefix=b"\x00\x00"):
    header = (
        magic_prefix
        + bytes([type_code, len(dims)])
        + b"".join(struct.pack(">I", d) for d in dims)
    )
    if data is None:
        data = bytes(int(np.prod(dims, dtype=np.int64)))
    return header + data


def write_bytes(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


BOMB_SHAPE = (64, 1 << 20)  # float64: 512 MB once inflated, ~2.3 MB deflated (level 1)


def write_inflating_npy(zf, name, shape=BOMB_SHAPE):
    """Add to the open zip ``zf`` a deflated .npy member ``name`` of zeros of
    ``shape`` (float64), streamed: small on disk, huge once read."""
    header = f"{{'descr': '<f8', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    header = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    with zf.open(name, "w", force_zip64=True) as member:
        member.write(
            b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode()
        )
        zeros = bytes(1 << 20)
        remaining = int(np.prod(shape)) * 8
        while remaining > 0:
            member.write(zeros[: min(len(zeros), remaining)])
            remaining -= len(zeros)


def inflating_copy(src, dst, pick=None):
    """A copy of the zip ``src`` whose largest .npy member (or ``pick``)
    inflates to 512 MB."""
    with zipfile.ZipFile(src) as zin:
        infos = [i for i in zin.infolist() if i.filename.endswith(".npy")]
        target = pick or max(infos, key=lambda i: i.file_size).filename
        with zipfile.ZipFile(
            dst, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1
        ) as zout:
            for info in zin.infolist():
                if info.filename == target:
                    write_inflating_npy(zout, target)
                else:
                    zout.writestr(info.filename, zin.read(info.filename))
    return dst


def fresh_dir(*parts):
    path = S(*parts)
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


# =============================================================================
# Result checks
# =============================================================================
def check_proba(P, n, k, ref=None):
    if not isinstance(P, np.ndarray):
        raise Wrong(f"predict_proba returned a {type(P).__name__}")
    if P.shape != (n, k):
        raise Wrong(f"predict_proba has shape {P.shape}, expected {(n, k)}")
    if not np.all(np.isfinite(P)):
        raise Wrong(
            f"predict_proba holds {np.count_nonzero(~np.isfinite(P))} NaN/inf values"
        )
    if P.size and (P.min() < -1e-7 or P.max() > 1 + 1e-6):
        raise Wrong(f"predict_proba outside [0, 1]: [{P.min()!r}, {P.max()!r}]")
    tol = 1e-3 if P.dtype == np.float32 else 1e-6
    sums = P.sum(axis=1)
    if n and not np.allclose(sums, 1, atol=tol):
        raise Wrong(f"probabilities sum to [{sums.min()!r}, {sums.max()!r}], not 1")
    if ref is not None and not np.allclose(P, ref, rtol=1e-4, atol=1e-5):
        raise Wrong(
            "predict_proba differs from that of the float64 array of the same "
            f"values (max difference {np.abs(P - ref).max():.3g})"
        )
    return f"proba {P.dtype} {P.shape}, rows sum to 1"


def check_labels(labels, n, classes):
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise Wrong(f"predict returned shape {labels.shape}, expected ({n},)")
    unknown = set(labels.tolist()) - set(np.asarray(classes).tolist())
    if unknown:
        raise Wrong(
            f"predict returned labels {sorted(unknown, key=repr)[:3]} not in classes_"
        )
    return f"labels {labels.shape}"


def check_transform(H, n, ref=None):
    if not isinstance(H, np.ndarray) or H.ndim != 2 or H.shape[0] != n:
        raise Wrong(f"transform returned {summarize(H)}, expected ({n}, k)")
    if not np.all(np.isfinite(H)):
        raise Wrong("transform output holds NaN/inf")
    if ref is not None and not np.allclose(H, ref, rtol=1e-4, atol=1e-5):
        raise Wrong(
            "transform differs from that of the float64 array of the same values "
            f"(max difference {np.abs(H - ref).max():.3g})"
        )
    return f"features {H.dtype} {H.shape}"


def check_score(s):
    if not np.isfinite(s) or not 0 <= s <= 1:
        raise Wrong(f"score is {s!r}")
    return f"score {s:.3f}"


def check_fitted_model(est, ret, X):
    """``fit`` returned ``est``, which now predicts sensible probabilities
    (or features) for the plain float64 rows ``X``."""
    if ret is not est:
        raise Wrong(f"fit returned {summarize(ret)}, not self")
    if hasattr(est, "predict_proba"):
        P = est.predict_proba(X)
        return check_proba(P, len(X), len(est.classes_))
    return check_transform(est.transform(X), len(X))


# =============================================================================
# Running a case
# =============================================================================
@contextlib.contextmanager
def alarm(seconds):
    def handler(signum, frame):
        raise CaseTimeout()

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


_WATCHED = ("cwd", "home", "default-cache")


def _listing():
    out = {}
    for sub in _WATCHED:
        try:
            out[sub] = set(os.listdir(S(sub)))
        except OSError:
            out[sub] = set()
    return out


def execute(case):
    """Run ``case`` here; return ``(class, detail)``."""
    t = Tracker()
    fixtures_before = FX.snapshots()
    listing_before = _listing()
    marker = marker_for(case.id)
    shutil.rmtree(marker, ignore_errors=True)
    status, value, tb = None, None, ""
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    if case.prepare is not None and not case.isolate:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            case.prepare()
    try:
        with (
            warnings.catch_warnings(record=True),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            alarm(case.timeout),
        ):
            warnings.simplefilter("always")
            try:
                value = case.fn(t)
                status = "ok"
            except WouldRun as exc:
                status, value = "ok", f"accepted: {exc}"
            except Wrong as exc:
                status, value = "wrong", exc
            except CaseTimeout:
                status = "timeout"
            except (KeyboardInterrupt, SystemExit) as exc:
                if isinstance(exc, KeyboardInterrupt):
                    raise
                status, value = "exc", exc
            except BaseException as exc:  # noqa: BLE001 - everything is an outcome
                status, value = "exc", exc
                tb = traceback.format_exc()
    finally:
        if os.getcwd() != cwd:
            os.chdir(cwd)
    cls, detail = _classify(case, status, value, tb)

    # What the call must not do, whatever it returned.
    problems = []
    violations = t.violations()
    after = FX.snapshots()
    for name, snap in fixtures_before.items():
        diff = changed(snap, after.get(name, {}))
        if diff:
            violations.append(f"shared fixture {name} modified ({', '.join(diff[:5])})")
    if os.path.exists(marker) and not case.pickle_opt_in:
        problems.append(
            "security: a pickle ran (its marker directory was created) without allow_pickle"
        )
    listing_after = _listing()
    for sub in _WATCHED:
        new = listing_after[sub] - listing_before[sub]
        if sub == "cwd" and case.cwd_writes:
            new = {n for n in new if n == "~"}
        if sub == "home":
            new = {n for n in new if n not in (".cache", ".config", ".local")}
            if case.cwd_writes:
                new = set()
        if sub == "default-cache" and case.cli:
            new = set()  # the command line caches there without --cache-dir
        if new:
            where = {"cwd": "the current directory", "home": "$HOME"}.get(
                sub, "the default cache ($SKALLTRANSFER_CACHE)"
            )
            problems.append(f"security: wrote {sorted(new)[:5]} into {where} unasked")
        for name in new:
            path = S(sub, name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else _unlink(
                path
            )
    if case.cwd_writes:
        for name in os.listdir(S("cwd")):
            path = S("cwd", name)
            shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else _unlink(
                path
            )
    if problems:
        cls = "security"
        detail = (
            "; ".join(p.split(": ", 1)[1] for p in problems) + f" [outcome: {detail}]"
        )
    elif violations:
        if cls != "security":
            cls = "bug"
        detail = "; ".join(violations) + f" [outcome: {detail}]"
    return cls, detail


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def _classify(case, status, value, tb):
    if status == "timeout":
        return case.on_timeout, f"no answer within {case.timeout:g} s"
    if status == "wrong":
        if value.cls is not None:
            return value.cls, str(value)
        if case.kind == "bad":
            return case.accept_class, f"accepted, and wrong: {value}"
        return "bug", str(value)
    if status == "ok":
        if isinstance(value, CliResult):
            return _classify_cli(case, value)
        if case.kind == "bad":
            return case.accept_class, f"accepted: {summarize(value)}"
        return "works", summarize(value)
    exc = value
    text = f"{type(exc).__name__}: {short(exc, 400)}"
    if case.cli:
        where = _last_frame(tb)
        return "crash", f"uncaught traceback from the command line: {text}{where}"
    if not _user_facing(exc):
        return "crash", text + _last_frame(tb)
    if case.kind == "valid":
        return "bug", f"refuses a valid input: {text}"
    problem = message_problem(str(exc), case.hints)
    if problem:
        return "poor message", f"{problem}: {text}"
    return "clear error", text


def _last_frame(tb):
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', tb or "")
    frames = [f for f in frames if "/skalltransfer/" in f[0]] or frames
    if not frames:
        return ""
    path, line, func = frames[-1]
    path = (
        path.split("/skalltransfer/", 1)[-1]
        if "/skalltransfer/" in path
        else os.path.basename(path)
    )
    return f" (at {path}:{line} in {func})"


def _classify_cli(case, r):
    lines = [ln for ln in r.err.splitlines() if ln.strip()]
    if r.code == 0:
        if case.kind == "bad":
            return case.accept_class, f"accepted (exit 0): {short(r.out, 120)}"
        return "works", f"exit 0: {short(r.out, 100)}"
    if r.code != 2:
        return "crash", f"exit status {r.code}: {short(r.err, 300)}"
    if any("Traceback" in ln for ln in lines):
        return "crash", f"traceback on stderr: {short(r.err[-300:], 300)}"
    errors = [ln for ln in lines if ": error: " in ln]
    message = errors[-1] if errors else (lines[-1] if lines else "")
    in_usage = False
    extra = []
    for ln in lines:
        if ln.startswith("usage:"):
            in_usage = True
            continue
        if in_usage and ln.startswith(" "):
            continue
        in_usage = False
        if ln == message or ln.startswith(("note:", "warning:")):
            continue
        extra.append(ln)
    if case.kind == "valid":
        return "bug", f"refuses a valid input (exit 2): {short(message, 300)}"
    if not message:
        return "poor message", "exit 2 with nothing on stderr"
    if extra:
        return (
            "poor message",
            f"{len(extra) + 1} lines on stderr: {short(' | '.join(extra + [message]), 300)}",
        )
    problem = message_problem(message.split(": error: ", 1)[-1], case.hints)
    if problem:
        return "poor message", f"{problem}: {short(message, 300)}"
    return "clear error", short(message, 300)


def _quote(text):
    import shlex

    text = str(text)
    return shlex.quote(text) if text.isprintable() else repr(text)


def run_cli(argv):
    from skalltransfer.cli._main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return CliResult(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def no_long_runs():
    """Replace training the bundled-MNIST sources, ``reproduce``'s
    experiment and ``demo`` by a :class:`WouldRun` sentinel."""
    import importlib

    def stop(what, old):
        def raiser(*args, **kwargs):
            raise WouldRun(what)

        raiser.__doc__ = old.__doc__  # the parser shows it as the help
        return raiser

    patches = []
    for module, name, what in [
        (
            "skalltransfer.cli._fit",
            "fit_cli_source",
            "would train the bundled-MNIST source",
        ),
        (
            "skalltransfer.cli._rank",
            "fit_cli_source",
            "would train the bundled-MNIST sources",
        ),
        (
            "skalltransfer.cli._sources",
            "fit_cli_source",
            "would train the bundled-MNIST source",
        ),
        (
            "skalltransfer.reproduce._run",
            "run_experiment",
            "would start the experiment",
        ),
        (
            "skalltransfer.cli._reproduce",
            "run_experiment",
            "would start the experiment",
        ),
        ("skalltransfer.cli._demo", "_demo", "would run the demo"),
    ]:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(mod, name):
            old = getattr(mod, name)
            patches.append((mod, name, old))
            setattr(mod, name, stop(what, old))
    try:
        yield
    finally:
        for mod, name, old in patches:
            setattr(mod, name, old)


def _maxrss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_main(case_ids):
    by_id = {c.id: c for c in CASES}
    for case_id in case_ids:
        case = by_id[case_id]
        base = _maxrss_mb()
        sys.stdout.write(f"\n@@START@@{case_id}\n")
        sys.stdout.flush()
        cls, detail = execute(case)
        peak = _maxrss_mb() - base
        outcome = {
            "id": case_id,
            "cls": cls,
            "detail": detail,
            "peak_mb": peak,
            "call": case.call,
        }
        sys.stdout.write("\n@@OUTCOME@@" + json.dumps(outcome) + "\n")
        sys.stdout.flush()
    os._exit(0)  # no interpreter teardown (a corrupted heap may crash there)


def batchable(case):
    """Whether ``case`` may share a subprocess with others: not when its
    memory is measured, its time may run out or it needs other privileges."""
    return (
        case.isolate
        and case.mem_mb is None
        and case.on_timeout != "security"
        and not case.drop_dac
        and case.timeout <= 90
    )


def run_isolated(case, quick):
    return run_batch([case])[0][1:]


def run_batch(cases):
    """Run ``cases`` one after the other in one subprocess; a case that kills
    it is reported as such and the rest run in a new one. Returns
    ``[(case, class, detail), ...]``."""
    results = []
    pending = list(cases)
    while pending:
        done, pending = _run_child(pending)
        results += done
    return results


def _run_child(cases):
    cmd = [sys.executable, THIS, "--scratch", SCRATCH]
    for case in cases:
        cmd += ["--child", case.id]
    if any(c.drop_dac for c in cases) and os.geteuid() == 0 and shutil.which("setpriv"):
        caps = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"] + cmd

    def limits():
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    for case in cases:
        shutil.rmtree(marker_for(case.id), ignore_errors=True)
        if case.prepare is not None:  # files the case reads, made here
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                case.prepare()
    # The child's import and fixtures count against the timeout too.
    timeout = sum(c.timeout for c in cases) + 60
    timed_out = False
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            preexec_fn=limits,
            cwd=S("cwd"),
        )
        stdout, stderr, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        timed_out = True
        stdout = (
            exc.stdout.decode(errors="replace")
            if isinstance(exc.stdout, bytes)
            else (exc.stdout or "")
        )
        stderr, code = "", None
    outcomes = {}
    for line in re.findall(r"@@OUTCOME@@(.*)", stdout):
        outcome = json.loads(line)
        outcomes[outcome["id"]] = outcome
    done = []
    for i, case in enumerate(cases):
        outcome = outcomes.get(case.id)
        ran_pickle = os.path.exists(marker_for(case.id)) and not case.pickle_opt_in
        if outcome is None:
            # This case ended the subprocess; the following ones run again.
            if timed_out:
                cls, detail = (
                    case.on_timeout,
                    f"no answer within {timeout:g} s (subprocess killed)",
                )
            elif code is not None and code < 0:
                name = signal.Signals(-code).name
                cls = "security" if ran_pickle else case.on_signal
                detail = f"subprocess killed by {name}: {short(stderr[-300:], 300)}"
            else:
                cls, detail = (
                    "crash",
                    f"subprocess exit {code}: {short(stderr[-400:], 400)}",
                )
            done.append((case, cls, detail))
            return done, cases[i + 1 :]
        cls, detail, peak = outcome["cls"], outcome["detail"], outcome["peak_mb"]
        case.call = outcome.get("call", case.call)
        limit = case.mem_mb or DEFAULT_MEM_MB
        if ran_pickle:
            cls, detail = (
                "security",
                f"a pickle ran (its marker directory was created) [outcome: {detail}]",
            )
        elif peak > limit:
            cls, detail = (
                "security",
                f"peak memory grew by {peak:.0f} MB (limit {limit:g} MB) [outcome: {detail}]",
            )
        elif "MemoryError" in detail and cls == "crash" and case.mem_mb:
            cls, detail = (
                "security",
                f"MemoryError under a {AS_LIMIT >> 30} GB address-space limit [outcome: {detail}]",
            )
        done.append((case, cls, detail))
    return done, []


# =============================================================================
# Area "arrays": input arrays of fit / predict / predict_proba / transform /
# score of every estimator
# =============================================================================
def _ro(X):
    X = np.array(X, copy=True)
    X.flags.writeable = False
    return X


def _set(X, value, where=(0, 0), dtype=None):
    X = np.array(X, dtype=dtype, copy=True)
    X[where] = value
    return X


def _memmap(X):
    path = S("files", f"memmap-{X.shape[0]}x{X.shape[1]}.dat")
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    del mm
    return np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)


def _sparse(fmt):
    def make(X):
        import scipy.sparse as sp

        return getattr(sp, f"{fmt}_matrix")(np.where(X > 0.5, X, 0))

    return make


def _object_with(value):
    def make(X):
        X = X.astype(object)
        X[0, 0] = value
        return X

    return make


def _ragged(X):
    rows = X.tolist()
    rows[0] = rows[0][:-1]
    return rows


def _uint8_255(X):
    X = (X * 255).astype(np.uint8)
    X[0, 0] = 255
    return X


# (label, make(X) -> X', kind, hints, reference): kind "unit" is "bad" for an
# estimator that takes values in [0, 1] and "valid" otherwise; a reference
# variant is compared with the float64 array of the same values.
X_VARIANTS = [
    ("float32", lambda X: X.astype(np.float32), "valid", (), True),
    ("float16", lambda X: X.astype(np.float16), "valid", (), True),
    (
        "longdouble",
        lambda X: X.astype(np.longdouble),
        "any",
        ("float128", "longdouble", "dtype"),
        True,
    ),
    ("int64 0/1", lambda X: (X > 0.5).astype(np.int64), "valid", (), True),
    ("int8 0/1", lambda X: (X > 0.5).astype(np.int8), "valid", (), True),
    ("uint8 0/1", lambda X: (X > 0.5).astype(np.uint8), "valid", (), True),
    ("bool", lambda X: X > 0.5, "valid", (), True),
    ("list of lists", lambda X: X.tolist(), "valid", (), True),
    ("tuple of tuples", lambda X: tuple(map(tuple, X.tolist())), "valid", (), True),
    ("read-only", _ro, "valid", (), True),
    (
        "non-contiguous view",
        lambda X: np.repeat(X, 2, axis=1)[:, ::2],
        "valid",
        (),
        True,
    ),
    ("Fortran order", np.asfortranarray, "valid", (), True),
    ("big-endian >f8", lambda X: X.astype(">f8"), "valid", (), True),
    (
        "read-only float32 strided",
        lambda X: _ro(np.repeat(X.astype(np.float32), 2, axis=1))[:, ::2],
        "valid",
        (),
        True,
    ),
    ("object array of floats", lambda X: X.astype(object), "valid", (), True),
    ("memmap mode r", _memmap, "valid", (), True),
    ("np.matrix", np.asmatrix, "any", ("matrix",), True),
    (
        "masked array",
        lambda X: np.ma.masked_array(X, mask=np.zeros_like(X, bool)),
        "any",
        ("mask",),
        True,
    ),
    ("all zeros", np.zeros_like, "valid", (), True),
    ("all ones", np.ones_like, "valid", (), True),
    ("subnormal 1e-310", lambda X: np.full_like(X, 1e-310), "valid", (), True),
    ("negative zero", lambda X: np.where(X < 0.5, -0.0, X), "valid", (), True),
    ("complex", lambda X: X.astype(complex), "bad", ("complex",), False),
    ("strings of numbers", lambda X: X.astype(str), "any", ("str", "string"), False),
    (
        "words",
        lambda X: np.full(X.shape, "abc"),
        "bad",
        ("abc", "string", "str"),
        False,
    ),
    (
        "bytes dtype S8",
        lambda X: X.round(4).astype("S8"),
        "any",
        ("bytes", "str", "string"),
        False,
    ),
    ("object with a None", _object_with(None), "bad", ("None", "NaN"), False),
    ("object with a word", _object_with("abc"), "bad", ("abc", "string", "str"), False),
    ("object with a list", _object_with([1, 2]), "bad", ("sequence", "list"), False),
    (
        "datetime64",
        lambda X: np.zeros(X.shape, "datetime64[s]"),
        "bad",
        ("datetime",),
        False,
    ),
    (
        "1-D (one image)",
        lambda X: X[0],
        "bad",
        ("1D", "1-D", "2D", "2-D", "2-dimensional", "reshape"),
        False,
    ),
    (
        "3-D (n, 8, 8)",
        lambda X: X.reshape(len(X), 8, 8),
        "bad",
        ("dim 3", "3-D", "3D", "3-dim", "flatten", "reshape"),
        False,
    ),
    (
        "4-D (n, 8, 8, 1)",
        lambda X: X.reshape(len(X), 8, 8, 1),
        "bad",
        ("dim 4", "4-D", "4D", "flatten", "reshape"),
        False,
    ),
    (
        "empty (0, 64)",
        lambda X: X[:0],
        "bad",
        ("0 sample", "empty", "no sample"),
        False,
    ),
    ("zero features (n, 0)", lambda X: X[:, :0], "bad", ("0 feature",), False),
    ("scalar 0.5", lambda X: 0.5, "bad", ("scalar", "2D", "2-D"), False),
    ("None", lambda X: None, "bad", ("None",), False),
    ("a dict", lambda X: {"pixels": 1}, "bad", ("dict",), False),
    ("a string", lambda X: "images.npy", "bad", ("str", "images.npy", "string"), False),
    (
        "ragged list",
        _ragged,
        "bad",
        ("inhomogeneous", "ragged", "length", "same"),
        False,
    ),
    (
        "generator of rows",
        lambda X: (row for row in X),
        "bad",
        ("generator", "array"),
        False,
    ),
    ("NaN", lambda X: _set(X, np.nan), "bad", ("nan",), False),
    ("all NaN", lambda X: np.full_like(X, np.nan), "bad", ("nan",), False),
    ("inf", lambda X: _set(X, np.inf), "bad", ("inf",), False),
    ("-inf", lambda X: _set(X, -np.inf), "bad", ("inf",), False),
    ("value 1.000001", lambda X: _set(X, 1.000001), "unit", ("1.000001",), True),
    (
        "value 1 + 1e-12",
        lambda X: _set(X, 1 + 1e-12),
        "unit",
        ("1.000000000001",),
        True,
    ),
    ("value -1e-9", lambda X: _set(X, -1e-9), "unit", ("-1e-09", "-1e-9"), True),
    ("value -5", lambda X: _set(X, -5.0), "unit", ("-5",), True),
    ("values x 255 (8-bit scale)", lambda X: X * 255, "unit", ("255", "254"), True),
    ("uint8 0..255", _uint8_255, "unit", ("255",), True),
    ("value 1e308", lambda X: _set(X, 1e308), "unit", ("1e+308", "1e308"), True),
    (
        "float32 max",
        lambda X: _set(X.astype(np.float32), np.finfo(np.float32).max),
        "unit",
        ("3.4028", "e+38"),
        True,
    ),
    ("63 features", lambda X: X[:, :63], "bad", ("63",), False),
    ("65 features", lambda X: np.hstack([X, X[:, :1]]), "bad", ("65",), False),
    ("sparse CSR", _sparse("csr"), "bad", ("sparse",), False),
    ("sparse COO", _sparse("coo"), "bad", ("sparse",), False),
]


def _kind(kind, unit):
    if kind == "unit":
        return "bad" if unit else "valid"
    return kind


def _ref_array(X2):
    try:
        ref = np.asarray(X2, dtype=np.float64)
    except Exception:  # noqa: BLE001
        return None
    return ref if ref.ndim == 2 else None


PREDICTORS = [
    # label, fixture, description
    ("MPDBM", "mpdbm", "MPDBMClassifier(**KW['MPDBM']).fit(X, y)"),
    ("SAE", "sae", "StackedAutoencoderClassifier(**KW['SAE']).fit(X, y)"),
    ("Conv64", "conv64", "ConvAutoencoderClassifier(**KW['Conv']).fit(X, y)"),
    (
        "Conv32",
        "conv32",
        "ConvAutoencoderClassifier(**KW['Conv']).fit(X.astype('float32'), y)",
    ),
    (
        "AllT(SAE)",
        "all_sae",
        "AllTransferClassifier(SAE, max_iter=2, random_state=0).fit(Xt, yt)",
    ),
    ("AllT(MPDBM)", "all_mpdbm", "AllTransferClassifier(MPDBM, ...).fit(Xt, yt)"),
    (
        "AllT(Conv32)",
        "all_conv32",
        "AllTransferClassifier(Conv32, ...).fit(Xt.astype('float32'), yt)",
    ),
    (
        "AllT(MLP)",
        "all_mlp",
        "AllTransferClassifier(MLPClassifier((8,)).fit(X, y), ...).fit(Xt, yt)",
    ),
    (
        "Trunc(SAE)",
        "trunc_sae",
        "TruncatedTransferClassifier(SAE, cv=2, max_iter=2).fit(Xt, yt)",
    ),
    ("Direct(SAE)", "direct_sae", "DirectTransferClassifier(SAE).fit(Xt, yt)"),
    ("Feats(SAE)", "feats_sae", "SourceFeatures(SAE).fit(Xt)"),
    ("Feats(Conv32)", "feats_conv32", "SourceFeatures(Conv32).fit(Xt)"),
]

PREDICT_METHODS = ("predict_proba", "predict", "transform", "score")


def _unit(est):
    source = getattr(est, "source_", getattr(est, "source", None))
    if source is not None and not hasattr(est, "_requires_unit_interval"):
        return bool(getattr(source, "_requires_unit_interval", False))
    return bool(getattr(est, "_requires_unit_interval", False))


def _n_rows(X, default=1):
    """Number of rows of an array-like (``default`` when it has none)."""
    if hasattr(X, "shape") and len(getattr(X, "shape", ())) >= 1:
        return X.shape[0]
    if isinstance(X, (list, tuple)):
        return len(X)
    return default


def _predict_case(fixture, method, make, ref_wanted):
    def fn(t):
        est = t(getattr(FX, fixture), "the fitted estimator")
        X2 = make(FX.X.copy())
        t(X2, "X")
        if method == "score":
            n = _n_rows(X2)
            y2 = t(est.classes_[np.arange(n) % len(est.classes_)], "y")
            return check_score(est.score(X2, y2))
        result = getattr(est, method)(X2)
        ref_X = _ref_array(X2) if ref_wanted else None
        n = len(result) if hasattr(result, "__len__") else -1
        if method == "predict_proba":
            ref = est.predict_proba(ref_X) if ref_X is not None else None
            return check_proba(
                result,
                ref_X.shape[0] if ref_X is not None else n,
                len(est.classes_),
                ref,
            )
        if method == "transform":
            ref = est.transform(ref_X) if ref_X is not None else None
            return check_transform(result, n, ref)
        out = check_labels(result, n, est.classes_)
        if ref_X is not None and not np.array_equal(result, est.predict(ref_X)):
            raise Wrong(
                "predict differs from that of the float64 array of the same values"
            )
        return out

    return fn


METHODS_OF = {
    "mpdbm": PREDICT_METHODS,
    "sae": PREDICT_METHODS,
    "conv64": PREDICT_METHODS,
    "conv32": PREDICT_METHODS,
    "all_sae": PREDICT_METHODS,
    "all_mpdbm": ("predict_proba", "predict"),
    "all_conv32": PREDICT_METHODS,
    "all_mlp": ("predict_proba", "predict"),
    "trunc_sae": ("predict_proba", "predict", "score"),
    "direct_sae": ("predict_proba", "predict", "score"),
    "feats_sae": ("transform",),
    "feats_conv32": ("transform",),
}

# In --quick runs the secondary methods see only these variants.
QUICK_SECONDARY = {
    "float32",
    "int64 0/1",
    "list of lists",
    "Fortran order",
    "NaN",
    "value 1.000001",
    "63 features",
    "sparse CSR",
    "1-D (one image)",
    "empty (0, 64)",
    "complex",
}


def cases_arrays_predict(quick):
    for label, fixture, _ in PREDICTORS:
        unit = fixture != "all_mlp"
        for method in METHODS_OF[fixture]:
            primary = method in ("predict_proba",) or fixture.startswith("feats")
            for vlabel, make, kind, hints, ref in X_VARIANTS:
                if quick and not primary and vlabel not in QUICK_SECONDARY:
                    continue
                k = _kind(kind, unit)
                if vlabel == "value 1e308" and not unit:
                    k = "any"
                add(
                    "arrays",
                    f"{label}.{method}(X {vlabel})",
                    _predict_case(fixture, method, make, ref),
                    kind=k,
                    hints=hints,
                    call=f"{label}.{method}(X: {vlabel})",
                )


# -- fit with odd X ------------------------------------------------------------
FITTERS = [
    # label, build(), "source" or "target" data
    ("MPDBM", lambda: st().MPDBMClassifier(**KW["MPDBM"]), "source"),
    ("SAE", lambda: st().StackedAutoencoderClassifier(**KW["SAE"]), "source"),
    ("Conv", lambda: st().ConvAutoencoderClassifier(**KW["Conv"]), "source"),
    ("AllT(SAE)", lambda: st().AllTransferClassifier(FX.sae, **TKW), "target"),
    ("AllT(MPDBM)", lambda: st().AllTransferClassifier(FX.mpdbm, **TKW), "target"),
    ("AllT(Conv32)", lambda: st().AllTransferClassifier(FX.conv32, **TKW), "target"),
    ("AllT(MLP)", lambda: st().AllTransferClassifier(FX.mlp, **TKW), "target"),
    (
        "Trunc(SAE)",
        lambda: st().TruncatedTransferClassifier(FX.sae, cv=2, **TKW),
        "target",
    ),
    ("Feats(SAE)", lambda: st().SourceFeatures(FX.sae), "target"),
    ("Direct(SAE)", lambda: st().DirectTransferClassifier(FX.sae), "target"),
    (
        "AllT(unfitted SAE+SourceData)",
        lambda: st().AllTransferClassifier(
            st().StackedAutoencoderClassifier(**KW["SAE"]), source_data=FX.sd, **TKW
        ),
        "target",
    ),
]

FIT_X_EXTRA = [
    ("one sample", lambda X: X[:1], "bad", ("class", "sample"), False),
    (
        "two samples",
        lambda X: X[:2],
        "any",
        ("class", "sample", "fold", "split"),
        False,
    ),
]


def _fit_x_case(build, data, make):
    def fn(t):
        est = build()
        X = FX.X if data == "source" else FX.Xt
        y = FX.y if data == "source" else FX.yt
        X2 = t(make(X.copy()), "X")
        n = _n_rows(X2, default=len(y))
        y2 = t(y[:n].copy() if n <= len(y) else y.copy(), "y")
        ret = est.fit(X2, y2)
        return check_fitted_model(est, ret, X)

    return fn


def cases_arrays_fit(quick):
    for label, build, data in FITTERS:
        unit = label != "AllT(MLP)"
        for vlabel, make, kind, hints, _ in X_VARIANTS + FIT_X_EXTRA:
            if (
                quick
                and label not in ("SAE", "Conv", "AllT(SAE)")
                and vlabel not in QUICK_SECONDARY
            ):
                continue
            if label == "Feats(SAE)" and vlabel in ("one sample", "two samples"):
                kind = "valid"
            if label == "Trunc(SAE)" and vlabel == "two samples":
                kind = "any"
            if label in ("AllT(MLP)",) and quick and kind == "valid":
                continue
            k = _kind(kind, unit)
            if vlabel == "value 1e308" and not unit:
                k = "any"
            add(
                "arrays",
                f"{label}.fit(X {vlabel}, y)",
                _fit_x_case(build, data, make),
                kind=k,
                hints=hints,
                call=f"{label}.fit(X: {vlabel}, y)",
            )


# -- fit with odd labels ----------------------------------------------------------
def _mixed(y):
    out = y.astype(object)
    out[0] = "a"
    return out


def _with(value, dtype=object):
    def make(y):
        out = y.astype(dtype)
        out[0] = value
        return out

    return make


Y_VARIANTS = [
    ("strings", lambda y: np.array(["cat", "dog", "emu"])[y], "valid", ()),
    (
        "unicode with newline",
        lambda y: np.array(["猫", "chien\n", "ü"])[y],
        "valid",
        (),
    ),
    ("bool", lambda y: y % 2 == 0, "valid", ()),
    ("float 0.0/1.0", lambda y: y.astype(float), "valid", ()),
    ("negative ints", lambda y: y - 5, "valid", ()),
    ("huge ints 2**62", lambda y: y + 2**62, "valid", ()),
    ("uint8", lambda y: y.astype(np.uint8), "valid", ()),
    ("object ints", lambda y: y.astype(object), "any", ("object",)),
    ("list", lambda y: y.tolist(), "valid", ()),
    ("column (n, 1)", lambda y: y[:, None], "valid", ()),
    ("labels 0 and 10**6", lambda y: y * 10**6, "valid", ()),
    ("bytes", lambda y: np.array([b"a", b"b", b"c"])[y], "any", ("bytes",)),
    ("mixed int and str", _mixed, "bad", ("mix", "type")),
    ("a NaN label", _with(np.nan, float), "bad", ("nan",)),
    ("a None label", _with(None), "bad", ("None", "nan", "mix", "type")),
    ("an inf label", _with(np.inf, float), "bad", ("inf", "continuous")),
    (
        "continuous",
        lambda y: y + np.linspace(0.01, 0.5, len(y)),
        "bad",
        ("continuous",),
    ),
    ("non-integer floats 0.5/1.5", lambda y: y + 0.5, "bad", ("continuous",)),
    (
        "one class",
        np.zeros_like,
        "bad",
        ("one class", "1 class", "single", "only one", "at least 2", "2 classes"),
    ),
    ("wrong length", lambda y: y[:-1], "bad", ("inconsistent", "samples", "length")),
    ("empty", lambda y: y[:0], "bad", ("0 sample", "inconsistent", "empty")),
    ("None", lambda y: None, "bad", ("requires y", "y", "None")),
    (
        "two columns",
        lambda y: np.c_[y, y],
        "bad",
        ("column", "shape", "1d", "1-d", "multi"),
    ),
    ("complex", lambda y: y.astype(complex), "any", ("complex",)),
    (
        "one sample per class",
        lambda y: np.arange(len(y)),
        "any",
        ("class", "sample", "unit", "split", "fold"),
    ),
    ("a string 'nan' label", _with("nan"), "bad", ("mix", "type")),
]


def _fit_y_case(build, data, make):
    def fn(t):
        est = build()
        X = FX.X if data == "source" else FX.Xt
        y = FX.y if data == "source" else FX.yt
        X2 = t(X.copy(), "X")
        y2 = make(y.copy())
        if y2 is not None:
            t(y2, "y")
        ret = est.fit(X2, y2)
        out = check_fitted_model(est, ret, X)
        if hasattr(est, "predict") and y2 is not None:
            labels = est.predict(X2)
            check_labels(labels, len(X2), est.classes_)
            expected = (
                np.unique(np.asarray(y2, dtype=object).ravel()) if np.ndim(y2) else None
            )
            if expected is not None and len(est.classes_) != len(expected):
                raise Wrong(
                    f"classes_ has {len(est.classes_)} labels for {len(expected)} distinct labels"
                )
        return out

    return fn


def cases_arrays_labels(quick):
    for label, build, data in FITTERS:
        if label == "Feats(SAE)":
            continue
        if quick and label not in ("SAE", "MPDBM", "AllT(SAE)", "Direct(SAE)"):
            continue
        for vlabel, make, kind, hints in Y_VARIANTS:
            if label.startswith("Direct"):
                # Direct use needs target labels that are source classes.
                kind = "any" if kind == "valid" else kind
                hints = hints + ("source class", "label_map")
            add(
                "labels",
                f"{label}.fit(X, y {vlabel})",
                _fit_y_case(build, data, make),
                kind=kind,
                hints=hints,
                call=f"{label}.fit(X, y: {vlabel})",
            )
    # Labels at score/predict time.
    for label, fixture, _ in PREDICTORS:
        if fixture.startswith("feats"):
            continue
        for vlabel, make, kind in [
            ("unseen labels", lambda c, n: np.full(n, 99), "any"),
            ("wrong length", lambda c, n: c[np.arange(n - 1) % len(c)], "bad"),
            ("string labels", lambda c, n: np.array(["x"] * n), "any"),
        ]:

            def fn(t, fixture=fixture, make=make):
                est = t(getattr(FX, fixture), "the fitted estimator")
                X = t(FX.X.copy(), "X")
                y2 = t(make(est.classes_, len(X)), "y")
                return check_score(est.score(X, y2))

            add(
                "labels",
                f"{label}.score(X, y {vlabel})",
                fn,
                kind=kind,
                hints=("inconsistent", "samples", "length", "label", "mix", "type"),
                call=f"{label}.score(X, y: {vlabel})",
            )


# =============================================================================
# Area "params": every constructor parameter given wrong types and values
# =============================================================================
VALID_INT = {"truncation": 1, "layer": 1, "mmd_layers": 1}
SAFE_HUGE = {
    "batch_size",
    "n_iter_no_change",
    "extra_hidden_layer_",
    "shift_augmentation",
}


def generic_values(name, constraints):
    """Odd values of a parameter from its scikit-learn constraints:
    ``(label, value, kind)``."""
    from numbers import Integral

    from sklearn.utils._param_validation import Interval, Options, StrOptions

    vals = []
    allows_none = any(c is None for c in constraints)
    ints = [c for c in constraints if isinstance(c, Interval) and c.type is Integral]
    reals = [
        c for c in constraints if isinstance(c, Interval) and c.type is not Integral
    ]
    strs = [c for c in constraints if isinstance(c, (StrOptions, Options))]
    if ints:
        c = ints[0]
        lo = c.left if c.left is not None else 0
        if c.left is not None:
            below = c.left - 1 if c.closed in ("left", "both") else c.left
            vals.append((f"{below} (below the minimum)", below, "bad"))
        good = VALID_INT.get(name, max(lo, 1) + 1)
        if c.right is not None:
            good = min(good, c.right)
        if not reals:
            vals.append(("2.5 (a fraction)", 2.5, "bad"))
            vals.append((f"{float(good)} (an integral float)", float(good), "any"))
        vals.append((f"np.int64({good})", np.int64(good), "valid"))
        vals.append(("'3' (a string)", "3", "bad"))
        vals.append(("True (a bool)", True, "any"))
        if name in SAFE_HUGE:
            vals.append(("10**9", 10**9, "valid"))
    if reals:
        c = reals[0]
        if c.left is not None:
            vals.append((f"{c.left - 0.5:g} (below the minimum)", c.left - 0.5, "bad"))
            if c.closed in ("right", "neither"):
                vals.append((f"{c.left} (excluded bound)", c.left, "bad"))
        if c.right is not None:
            vals.append(
                (f"{c.right + 0.5:g} (above the maximum)", c.right + 0.5, "bad")
            )
            if c.closed in ("left", "neither"):
                vals.append((f"{c.right} (excluded bound)", c.right, "bad"))
        vals.append(("nan", float("nan"), "bad"))
        vals.append(("inf", float("inf"), "bad" if c.right is not None else "any"))
        vals.append(("'0.1' (a string)", "0.1", "bad"))
        vals.append(("1j (complex)", 1j, "bad"))
        if c.left is not None and c.right is not None:
            good = (c.left + c.right) / 2
        elif c.left is not None:
            good = c.left + 0.01
        else:
            good = 0.01
        vals.append((f"np.float32({good:g})", np.float32(good), "valid"))
    if strs:
        options = sorted(strs[0].options)
        vals.append(("'bogus'", "bogus", "bad"))
        vals.append((f"{options[0].upper()!r} (upper case)", options[0].upper(), "bad"))
        vals.append(("'' (empty)", "", "bad"))
    if "boolean" in constraints:
        vals.append(("'yes'", "yes", "bad"))
        vals.append(("2", 2, "bad"))
        vals.append(("np.bool_(True)", np.True_, "valid"))
    if "random_state" in constraints:
        vals += [
            ("-1", -1, "bad"),
            ("2**32", 2**32, "bad"),
            ("'seed'", "seed", "bad"),
            ("1.5", 1.5, "bad"),
            ("RandomState(0)", np.random.RandomState(0), "valid"),
            ("default_rng(0)", np.random.default_rng(0), "any"),
        ]
    if "verbose" in constraints:
        vals += [("-1", -1, "bad"), ("'loud'", "loud", "bad")]
    if not allows_none and not {"random_state", "cv_object"} & {
        c for c in constraints if isinstance(c, str)
    }:
        vals.append(("None", None, "bad"))
    vals.append(("object()", object(), "bad"))
    return vals


NAN = float("nan")
SPECIFIC = {
    "hidden_layer_sizes": [
        ("(8.7,)", (8.7,), "bad"),
        ("(8.0,)", (8.0,), "any"),
        ("(0,)", (0,), "bad"),
        ("(-3,)", (-3,), "bad"),
        ("()", (), "bad"),
        ("[]", [], "bad"),
        ("'8'", "8", "bad"),
        ("((8,),)", ((8,),), "bad"),
        ("(True,)", (True,), "bad"),
        ("(nan,)", (NAN,), "bad"),
        ("(8, 'x')", (8, "x"), "bad"),
        ("{8}", {8}, "bad"),
        ("8", 8, "valid"),
        ("[8, 4]", [8, 4], "valid"),
        ("np.array([8, 4])", np.array([8, 4]), "valid"),
        ("(np.int32(8),)", (np.int32(8),), "valid"),
    ],
    "conv_layers": [
        ("((2.5, 3),)", ((2.5, 3),), "bad"),
        ("((2, 3.5),)", ((2, 3.5),), "bad"),
        ("((2, 3.0),)", ((2, 3.0),), "any"),
        ("((2, 4),) even kernel", ((2, 4),), "bad"),
        ("((2, 0),)", ((2, 0),), "bad"),
        ("((0, 3),)", ((0, 3),), "bad"),
        ("((-2, 3),)", ((-2, 3),), "bad"),
        ("((2, 3, 1),)", ((2, 3, 1),), "bad"),
        ("((2,),)", ((2,),), "bad"),
        ("(2, 3) flat", (2, 3), "bad"),
        ("() no conv layer", (), "any"),
        ("'abc'", "abc", "bad"),
        ("((True, 3),)", ((True, 3),), "bad"),
        ("((2, 11),) kernel wider than the image", ((2, 11),), "any"),
        ("4 layers pooling 8x8 below 1 pixel", ((2, 3),) * 4, "bad"),
        ("[[2, 3]]", [[2, 3]], "valid"),
        ("np.array([[2, 3]])", np.array([[2, 3]]), "valid"),
    ],
    "image_shape": [
        ("(8.9, 8.2)", (8.9, 8.2), "bad"),
        ("(8.0, 8.0)", (8.0, 8.0), "any"),
        ("(8, 9) (72 pixels)", (8, 9), "bad"),
        ("(8, 8, 2) (128 values)", (8, 8, 2), "bad"),
        ("(-8, -8)", (-8, -8), "bad"),
        ("(0, 64)", (0, 64), "bad"),
        ("'8x8'", "8x8", "bad"),
        ("(8,)", (8,), "bad"),
        ("(True, 64)", (True, 64), "bad"),
        ("(8, 8, 1, 1)", (8, 8, 1, 1), "bad"),
        ("(8, 8)", (8, 8), "valid"),
        ("(8, 8, 1)", (8, 8, 1), "valid"),
        ("(4, 16)", (4, 16), "valid"),
        ("[8, 8]", [8, 8], "valid"),
        ("np.array([8, 8])", np.array([8, 8]), "valid"),
        ("(2, 2, 16)", (2, 2, 16), "any"),
    ],
    "pooling": [
        ("16 (more than the image)", 16, "bad"),
        ("3 (does not divide 8)", 3, "any"),
    ],
    "corruption_level": [
        ("1.0", 1.0, "bad"),
        ("(0.1, 0.2) for one layer", (0.1, 0.2), "bad"),
        ("[0.1]", [0.1], "valid"),
        ("[-0.1]", [-0.1], "bad"),
        ("[1.5]", [1.5], "bad"),
        ("[nan]", [NAN], "bad"),
        ("[[0.1]]", [[0.1]], "bad"),
        ("np.array([0.2])", np.array([0.2]), "valid"),
    ],
    "max_col_norm": [
        ("-1", -1, "bad"),
        ("0", 0, "bad"),
        ("[1.0] for two weight layers", [1.0], "bad"),
        ("[1, 2]", [1, 2], "valid"),
        ("[1, 2, 3]", [1, 2, 3], "bad"),
        ("[nan, 1]", [NAN, 1], "bad"),
        ("[-1, 1]", [-1, 1], "bad"),
        ("[[1, 2]]", [[1, 2]], "bad"),
        ("'none'", "none", "bad"),
        ("[inf, inf]", [np.inf, np.inf], "any"),
        ("np.array([1.0, 2.0])", np.array([1.0, 2.0]), "valid"),
    ],
    "n_transferred_layers": [
        ("0", 0, "any"),
        ("1", 1, "valid"),
        ("2", 2, "valid"),
        ("99", 99, "bad"),
        ("-1", -1, "bad"),
        ("1.5", 1.5, "bad"),
        ("1.0", 1.0, "any"),
        ("'ALL'", "ALL", "bad"),
        ("'2'", "2", "bad"),
        ("None", None, "bad"),
        ("True", True, "any"),
    ],
    "extra_hidden_layer": [
        ("0", 0, "bad"),
        ("1.5", 1.5, "bad"),
        ("8", 8, "valid"),
        ("-1", -1, "bad"),
        ("'8'", "8", "bad"),
    ],
    "selection": [
        ("{0: 0, 1: 1}", {0: 0, 1: 1}, "valid"),
        ("{0: 99, 1: 1}", {0: 99, 1: 1}, "bad"),
        ("{0: -1, 1: 1}", {0: -1, 1: 1}, "bad"),
        ("{0: 1.5, 1: 0}", {0: 1.5, 1: 0}, "bad"),
        ("{0: 0} (class 1 missing)", {0: 0}, "bad"),
        ("{5: 0, 6: 1} (unknown classes)", {5: 0, 6: 1}, "bad"),
        ("{}", {}, "bad"),
        ("[0, 1]", [0, 1], "valid"),
        ("np.array([2, 1])", np.array([2, 1]), "valid"),
        ("[0, 0] (one unit twice)", [0, 0], "any"),
        ("[0] (too short)", [0], "bad"),
        ("[0, 1, 2] (too long)", [0, 1, 2], "bad"),
        ("[0, 1.5]", [0, 1.5], "bad"),
        ("['a', 'b']", ["a", "b"], "bad"),
        ("[0, 99]", [0, 99], "bad"),
        ("[0, -1]", [0, -1], "bad"),
        ("[True, False]", [True, False], "any"),
        ("[[0, 1]]", [[0, 1]], "bad"),
    ],
    "output_scale": [
        ("1e308", 1e308, "any"),
        ("0", 0, "any"),
        ("1e-300", 1e-300, "any"),
    ],
    "class_weight": [
        ("{0: -1, 1: 1}", {0: -1, 1: 1}, "bad"),
        ("{0: 0, 1: 0}", {0: 0, 1: 0}, "bad"),
        ("{0: nan, 1: 1}", {0: NAN, 1: 1}, "bad"),
        ("{0: inf, 1: 1}", {0: np.inf, 1: 1}, "bad"),
        ("{0: 'a', 1: 1}", {0: "a", 1: 1}, "bad"),
        ("{0: None, 1: 1}", {0: None, 1: 1}, "bad"),
        ("{5: 1} (unknown class)", {5: 1}, "any"),
        ("{'0': 2} (str key, int classes)", {"0": 2}, "any"),
        ("{0: 1e308, 1: 1}", {0: 1e308, 1: 1}, "any"),
        ("{0: 1e-300, 1: 1e-300}", {0: 1e-300, 1: 1e-300}, "any"),
        ("{0: True, 1: 2}", {0: True, 1: 2}, "any"),
        ("{} (empty)", {}, "any"),
        ("{0: 2} (partial)", {0: 2}, "valid"),
        ("{0: 2, 1: 1}", {0: 2, 1: 1}, "valid"),
        ("{0: np.float32(2), 1: 1}", {0: np.float32(2), 1: 1}, "valid"),
        ("'balanced'", "balanced", "valid"),
        ("[1, 2] (a list)", [1, 2], "bad"),
    ],
    "mmd_layers": [
        ("99", 99, "bad"),
        ("0", 0, "bad"),
        ("[]", [], "bad"),
        ("[1]", [1], "valid"),
        ("2 (the output layer)", 2, "bad"),
        ("[1, 1]", [1, 1], "any"),
    ],
    "truncation": [
        ("0", 0, "bad"),
        ("99", 99, "bad"),
        ("1.5", 1.5, "bad"),
        ("1", 1, "valid"),
        ("-1", -1, "bad"),
        ("'AUTO'", "AUTO", "bad"),
    ],
    "truncation_grid": [
        ("[1.7, 2]", [1.7, 2], "bad"),
        ("[]", [], "bad"),
        ("[0]", [0], "bad"),
        ("[99]", [99], "bad"),
        ("'12'", "12", "bad"),
        ("[1, 1]", [1, 1], "any"),
        ("[1]", [1], "valid"),
        ("(1,)", (1,), "valid"),
        ("np.array([1])", np.array([1]), "valid"),
        ("[[1]]", [[1]], "bad"),
        ("[True]", [True], "bad"),
        ("[nan]", [NAN], "bad"),
        ("[-1]", [-1], "bad"),
    ],
    "cv": [
        ("1", 1, "bad"),
        ("0", 0, "bad"),
        ("100 (more folds than samples)", 100, "any"),
        ("'five'", "five", "bad"),
        ("2.5", 2.5, "bad"),
        ("-1", -1, "bad"),
    ],
    "scoring": [
        ("'bogus'", "bogus", "bad"),
        ("5", 5, "bad"),
        ("'accuracy'", "accuracy", "valid"),
        ("a scorer returning nan", lambda est, X, y: float("nan"), "any"),
    ],
    "layer": [
        ("0", 0, "bad"),
        ("99", 99, "bad"),
        ("1.5", 1.5, "bad"),
        ("'top'", "top", "any"),
        ("-1", -1, "bad"),
        ("1", 1, "valid"),
        ("True", True, "any"),
        ("np.int64(1)", np.int64(1), "valid"),
        ("'1'", "1", "bad"),
    ],
    "label_map": [
        ("{0: 99, 1: 1}", {0: 99, 1: 1}, "bad"),
        ("{} (empty: no entries, not 'no map')", {}, "bad"),
        ("{0: 0} (class 1 missing)", {0: 0}, "bad"),
        ("['a'] (a list)", ["a"], "bad"),
        ("{0: 'x', 1: 1}", {0: "x", 1: 1}, "bad"),
        ("{0: 1, 1: 0}", {0: 1, 1: 0}, "valid"),
        ("{0: 2, 1: 2} (both to one)", {0: 2, 1: 2}, "any"),
        ("{0: np.int64(1), 1: 0}", {0: np.int64(1), 1: 0}, "valid"),
    ],
    "shift_augmentation": [("100 (more than the image)", 100, "any")],
    "learning_rate_init": [("1e10 (diverges)", 1e10, "any")],
}

PARAM_ESTIMATORS = [
    # label, class name, base kwargs (callable), data
    ("MPDBM", "MPDBMClassifier", lambda: dict(KW["MPDBM"]), "source"),
    ("SAE", "StackedAutoencoderClassifier", lambda: dict(KW["SAE"]), "source"),
    ("Conv", "ConvAutoencoderClassifier", lambda: dict(KW["Conv"]), "source"),
    (
        "AllT(SAE)",
        "AllTransferClassifier",
        lambda: dict(source=FX.sae, **TKW),
        "target",
    ),
    (
        "AllT(Conv32)",
        "AllTransferClassifier",
        lambda: dict(source=FX.conv32, **TKW),
        "target",
    ),
    (
        "Trunc(SAE)",
        "TruncatedTransferClassifier",
        lambda: dict(source=FX.sae, cv=2, **TKW),
        "target",
    ),
    ("Feats(SAE)", "SourceFeatures", lambda: dict(source=FX.sae), "target"),
    ("Direct(SAE)", "DirectTransferClassifier", lambda: dict(source=FX.sae), "target"),
]
SKIP_PARAMS = {"source", "source_data", "source_memory"}
# Parameters of AllT(Conv32) worth testing beyond AllT(SAE)'s.
CONV_TRANSFER_PARAMS = {
    "shift_augmentation",
    "n_transferred_layers",
    "extra_hidden_layer",
    "selection",
}


# Parameters that only act with others: their cases set these too.
BASE_OVERRIDES = {
    "extra_hidden_layer": lambda: {"n_transferred_layers": 1},
    "mmd_lambda": lambda: {"source_data": FX.sd},
    "mmd_layers": lambda: {"source_data": FX.sd, "mmd_lambda": 1.0},
    "mmd_estimator": lambda: {"source_data": FX.sd, "mmd_lambda": 1.0},
}
OVERRIDE_TEXT = {
    "extra_hidden_layer": ", n_transferred_layers=1",
    "mmd_lambda": ", source_data=SourceData(X, y)",
    "mmd_layers": ", mmd_lambda=1.0, source_data=SourceData(X, y)",
    "mmd_estimator": ", mmd_lambda=1.0, source_data=SourceData(X, y)",
}
# Extra words a clear message may use instead of the parameter's name.
PARAM_HINTS = {
    "selection": ("selected",),
    "truncation_grid": ("truncation",),
    "mmd_layers": ("MMD",),
}


def value_hints(value):
    """Text showing the offending value in a message (when distinctive)."""
    if isinstance(value, bool) or value is None:
        return ()
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (
            (str(value), repr(value))
            if abs(float(value)) >= 10 or (0 < abs(float(value)) < 1)
            else ()
        )
    if isinstance(value, str):
        return (value, repr(value)) if len(value) >= 3 else ()
    if isinstance(value, (list, tuple, dict, np.ndarray)):
        text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
        return (text,) if len(text) >= 3 else ()
    return ()


def _param_case(cls_name, base, data, name, value):
    def fn(t):
        cls = getattr(st(), cls_name)
        kwargs = base()
        if name in BASE_OVERRIDES:
            kwargs.update(BASE_OVERRIDES[name]())
        kwargs[name] = value
        if isinstance(value, (dict, list, np.ndarray)):
            t(value, name)
        est = cls(**kwargs)
        X = FX.X if data == "source" else FX.Xt
        y = FX.y if data == "source" else FX.yt
        X2, y2 = t(X.copy(), "X"), t(y.copy(), "y")
        ret = est.fit(X2, y2)
        out = check_fitted_model(est, ret, X)
        got = est.get_params()[name]
        if got is not value and not (isinstance(value, float) and np.isnan(value)):
            raise Wrong(f"get_params()['{name}'] is {got!r}, not the value given")
        return out

    return fn


def cases_params(quick):
    for label, cls_name, base, data in PARAM_ESTIMATORS:
        cls = getattr(st(), cls_name)
        constraints = getattr(cls, "_parameter_constraints", {})
        for name in sorted(
            cls().get_params()
            if cls_name
            not in (
                "AllTransferClassifier",
                "TruncatedTransferClassifier",
                "SourceFeatures",
                "DirectTransferClassifier",
            )
            else cls(None).get_params()
        ):
            if name in SKIP_PARAMS:
                continue
            if label == "AllT(Conv32)" and name not in CONV_TRANSFER_PARAMS:
                continue
            values = []
            cons = constraints.get(name, [])
            if cons == "no_validation":
                cons = []
            values += generic_values(name, cons)
            values += SPECIFIC.get(name, [])
            seen = set()
            for vlabel, value, kind in values:
                if vlabel in seen:
                    continue
                seen.add(vlabel)
                if (
                    name == "n_transferred_layers"
                    and label == "AllT(Conv32)"
                    and vlabel == "2"
                ):
                    kind = "valid"
                if (
                    label == "Conv"
                    and name == "corruption_level"
                    and isinstance(value, (list, tuple, np.ndarray))
                ):
                    kind = "bad"  # one level for every layer
                add(
                    "params",
                    f"{label}({name}={vlabel})",
                    _param_case(cls_name, base, data, name, value),
                    kind=kind,
                    hints=(name,) + PARAM_HINTS.get(name, ()) + value_hints(value),
                    call=f"{cls_name}({name}={vlabel}{OVERRIDE_TEXT.get(name, '')}, <base of {label}>).fit(...)",
                )

    # Combinations and sequences of calls.
    def fit(est, data="source"):
        X = FX.X if data == "source" else FX.Xt
        y = FX.y if data == "source" else FX.yt
        return est.fit(X, y)

    def warm(cls_name, kw, change, hints, data="source", refit_X=None, refit_y=None):
        def fn(t):
            est = getattr(st(), cls_name)(warm_start=True, **kw())
            fit(est, data)
            est.set_params(**change)
            X = FX.X if data == "source" else FX.Xt
            y = FX.y if data == "source" else FX.yt
            X2 = X if refit_X is None else refit_X(X)
            y2 = y if refit_y is None else refit_y(y)
            est.fit(X2, y2)
            return check_fitted_model(est, est, X2)

        return fn

    conv_kw = lambda: dict(KW["Conv"])  # noqa: E731
    for change, hints in [
        ({"image_shape": (4, 16)}, ("image_shape",)),
        ({"conv_layers": ((3, 3),)}, ("conv_layers",)),
        ({"hidden_layer_sizes": (16,)}, ("hidden_layer_sizes",)),
        ({"pooling": 1}, ("pooling",)),
    ]:
        key = ", ".join(f"{k}={v!r}" for k, v in change.items())
        add(
            "params",
            f"Conv(warm_start=True) refit after set_params({key})",
            warm("ConvAutoencoderClassifier", conv_kw, change, hints),
            hints=hints,
            call=f"c = ConvAutoencoderClassifier(warm_start=True, **KW['Conv']).fit(X, y); c.set_params({key}).fit(X, y)",
        )
    for cls_name, label, kw in [
        ("StackedAutoencoderClassifier", "SAE", lambda: dict(KW["SAE"])),
        ("MPDBMClassifier", "MPDBM", lambda: dict(KW["MPDBM"])),
    ]:
        add(
            "params",
            f"{label}(warm_start=True) refit after set_params(hidden_layer_sizes=(16,))",
            warm(cls_name, kw, {"hidden_layer_sizes": (16,)}, ("hidden_layer_sizes",)),
            hints=("hidden_layer_sizes",),
            call=f"{label}(warm_start=True).fit(X, y).set_params(hidden_layer_sizes=(16,)).fit(X, y)",
        )
        add(
            "params",
            f"{label}(warm_start=True) refit on other classes",
            warm(cls_name, kw, {}, ("classes",), refit_y=lambda y: y + 10),
            hints=("classes", "class"),
            call=f"{label}(warm_start=True).fit(X, y).fit(X, y + 10)",
        )
        add(
            "params",
            f"{label}(warm_start=True) refit on 63 features",
            warm(cls_name, kw, {}, ("63",), refit_X=lambda X: X[:, :63]),
            hints=("63",),
            call=f"{label}(warm_start=True).fit(X, y).fit(X[:, :63], y)",
        )
        add(
            "params",
            f"{label}(warm_start=True) refit with max_iter=0",
            warm(cls_name, kw, {"max_iter": 0}, ()),
            kind="valid",
            call=f"{label}(warm_start=True).fit(X, y).set_params(max_iter=0).fit(X, y)",
        )
    add(
        "params",
        "AllT(warm_start=True) refit after set_params(n_transferred_layers=1)",
        warm(
            "AllTransferClassifier",
            lambda: dict(source=FX.sae, **TKW),
            {"n_transferred_layers": 1},
            (),
            data="target",
        ),
        hints=("n_transferred_layers",),
        call="AllTransferClassifier(SAE, warm_start=True).fit(Xt, yt).set_params(n_transferred_layers=1).fit(Xt, yt)",
    )

    def warm_source(t):
        clf = (
            st().AllTransferClassifier(FX.sae, warm_start=True, **TKW).fit(FX.Xt, FX.yt)
        )
        clf.set_params(source=FX.mpdbm)
        clf.fit(FX.Xt, FX.yt)
        return check_fitted_model(clf, clf, FX.Xt)

    add(
        "params",
        "AllT(warm_start=True) refit after set_params(source=<another source>)",
        warm_source,
        hints=("source",),
        call="AllTransferClassifier(SAE, warm_start=True).fit(Xt, yt).set_params(source=MPDBM).fit(Xt, yt)",
    )

    def combo(cls_name, kw, data, hints, kind="bad"):
        def fn(t):
            est = getattr(st(), cls_name)(**kw())
            ret = fit(est, data)
            return check_fitted_model(est, ret, FX.X if data == "source" else FX.Xt)

        return fn

    combos = [
        (
            "SAE(early_stopping=True, validation_fraction=0.99)",
            "StackedAutoencoderClassifier",
            lambda: dict(KW["SAE"], early_stopping=True, validation_fraction=0.99),
            "source",
            ("validation_fraction",),
            "bad",
        ),
        (
            "SAE(early_stopping=True, validation_fraction=0.01)",
            "StackedAutoencoderClassifier",
            lambda: dict(KW["SAE"], early_stopping=True, validation_fraction=0.01),
            "source",
            (),
            "valid",
        ),
        (
            "SAE(solver='sgd', learning_rate_init=1e10)",
            "StackedAutoencoderClassifier",
            lambda: dict(KW["SAE"], solver="sgd", learning_rate_init=1e10),
            "source",
            ("learning_rate",),
            "any",
        ),
        (
            "MPDBM(solver='adam', learning_rate_init='auto')",
            "MPDBMClassifier",
            lambda: dict(KW["MPDBM"], solver="adam", learning_rate_init="auto"),
            "source",
            (),
            "valid",
        ),
        (
            "AllT(SAE, mmd_lambda=1.0) without source_data",
            "AllTransferClassifier",
            lambda: dict(source=FX.sae, mmd_lambda=1.0, **TKW),
            "target",
            ("source_data",),
            "bad",
        ),
        (
            "AllT(SAE, mmd_lambda=1.0, source_data=SourceData)",
            "AllTransferClassifier",
            lambda: dict(source=FX.sae, mmd_lambda=1.0, source_data=FX.sd, **TKW),
            "target",
            (),
            "valid",
        ),
        (
            "AllT(SAE, mmd_lambda=1, mmd_layers=99, source_data)",
            "AllTransferClassifier",
            lambda: dict(
                source=FX.sae, mmd_lambda=1.0, mmd_layers=99, source_data=FX.sd, **TKW
            ),
            "target",
            ("mmd_layers", "99"),
            "bad",
        ),
        (
            "AllT(SAE, mmd_lambda=1, mmd_layers=2 (output), source_data)",
            "AllTransferClassifier",
            lambda: dict(
                source=FX.sae, mmd_lambda=1.0, mmd_layers=2, source_data=FX.sd, **TKW
            ),
            "target",
            ("mmd_layers", "output"),
            "bad",
        ),
        (
            "AllT(SAE, mmd_lambda=1, mmd_layers=[], source_data)",
            "AllTransferClassifier",
            lambda: dict(
                source=FX.sae, mmd_lambda=1.0, mmd_layers=[], source_data=FX.sd, **TKW
            ),
            "target",
            ("mmd_layers",),
            "bad",
        ),
        (
            "AllT(SAE, mmd_lambda=1, mmd_layers=1.5, source_data)",
            "AllTransferClassifier",
            lambda: dict(
                source=FX.sae, mmd_lambda=1.0, mmd_layers=1.5, source_data=FX.sd, **TKW
            ),
            "target",
            ("mmd_layers",),
            "bad",
        ),
        (
            "AllT(MPDBM, mmd_lambda=1, source_data)",
            "AllTransferClassifier",
            lambda: dict(source=FX.mpdbm, mmd_lambda=1.0, source_data=FX.sd, **TKW),
            "target",
            ("MP-DBM", "MPDBM", "mean-field", "mmd"),
            "bad",
        ),
        (
            "AllT(SAE, finetune_objective='multi_prediction')",
            "AllTransferClassifier",
            lambda: dict(source=FX.sae, finetune_objective="multi_prediction", **TKW),
            "target",
            ("multi_prediction", "MP-DBM", "MPDBM"),
            "bad",
        ),
        (
            "AllT(SAE63, shift_augmentation=1) on 63 features",
            "AllTransferClassifier",
            lambda: dict(source=FX.sae63, shift_augmentation=1, **TKW),
            "target63",
            ("shift_augmentation", "square", "image"),
            "bad",
        ),
        (
            "AllT(SAE, shift_augmentation=1)",
            "AllTransferClassifier",
            lambda: dict(source=FX.sae, shift_augmentation=1, **TKW),
            "target",
            (),
            "valid",
        ),
        (
            "AllT(SAE, early_stopping=True) on 2 samples per class",
            "AllTransferClassifier",
            lambda: dict(source=FX.sae, early_stopping=True, **TKW),
            "target2",
            ("validation_fraction", "early_stopping"),
            "any",
        ),
        (
            "Trunc(SAE, cv=2, truncation=1, truncation_grid=[1, 2])",
            "TruncatedTransferClassifier",
            lambda: dict(
                source=FX.sae, cv=2, truncation=1, truncation_grid=[1, 2], **TKW
            ),
            "target",
            ("truncation_grid", "truncation"),
            "any",
        ),
    ]
    for label, cls_name, kw, data, hints, kind in combos:

        def fn(t, cls_name=cls_name, kw=kw, data=data):
            est = getattr(st(), cls_name)(**kw())
            if data == "target63":
                X, y = FX.Xt[:, :63], FX.yt
            elif data == "target2":
                X, y = FX.Xt[:4], FX.yt[:4]
            elif data == "target":
                X, y = FX.Xt, FX.yt
            else:
                X, y = FX.X, FX.y
            ret = est.fit(t(X.copy(), "X"), t(y.copy(), "y"))
            return check_fitted_model(est, ret, X)

        add("params", label, fn, kind=kind, hints=hints, call=f"{label}.fit(...)")

    def set_bogus(t):
        est = st().StackedAutoencoderClassifier(**KW["SAE"])
        est.set_params(bogus=1)
        return "accepted"

    add(
        "params",
        "SAE.set_params(bogus=1)",
        set_bogus,
        hints=("bogus",),
        call="StackedAutoencoderClassifier().set_params(bogus=1)",
    )

    def compare(rows_of_class):
        def fn(t):
            from skalltransfer.model_selection import compare_transfer

            y = np.repeat(np.arange(len(rows_of_class)), rows_of_class)
            X = np.random.RandomState(0).rand(len(y), 64)
            clf = st().AllTransferClassifier(FX.sae, **TKW)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = compare_transfer(clf, X, y, cv=2)
            assert all(np.isfinite(v).all() for v in result.scores.values())
            return "scored"

        return fn

    add(
        "params",
        "compare_transfer(cv=2) on 2 samples of each of 2 classes",
        compare([2, 2]),
        hints=("single sample", "cv"),
        call="compare_transfer(AllT, X, y, cv=2)",
    )
    add(
        "params",
        "compare_transfer(cv=2) with a class of 2 samples among classes of 10",
        compare([10, 10, 2]),
        kind="valid",
        call="compare_transfer(AllT, X, y, cv=2)",
    )


# =============================================================================
# Area "source": source, source_data, SourceData, source_memory, the cache
# =============================================================================
TRANSFER_CLASSES = [
    ("AllT", "AllTransferClassifier", lambda: dict(TKW)),
    ("Trunc", "TruncatedTransferClassifier", lambda: dict(cv=2, **TKW)),
    ("Feats", "SourceFeatures", lambda: {}),
    ("Direct", "DirectTransferClassifier", lambda: {}),
]


def _frozen(name):
    def make():
        from sklearn.frozen import FrozenEstimator

        return FrozenEstimator(getattr(FX, name))

    return make


def _changed_source():
    sae = FX.fresh("sae")
    sae.set_params(hidden_layer_sizes=(16,))
    return sae


def _pipeline_source():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_pipeline(
            MinMaxScaler(), st().StackedAutoencoderClassifier(**KW["SAE"])
        ).fit(FX.X, FX.y)


def _mlp_regressor():
    from sklearn.neural_network import MLPRegressor

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPRegressor((8,), max_iter=20, random_state=0).fit(
            FX.X, FX.y.astype(float)
        )


def _grid_source():
    from sklearn.model_selection import GridSearchCV

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return GridSearchCV(
            st().StackedAutoencoderClassifier(**KW["SAE"]), {"max_iter": [1, 2]}, cv=2
        ).fit(FX.X, FX.y)


def _tampered_in_memory():
    sae = FX.fresh("sae")
    sae.intercepts_[0] = sae.intercepts_[0][:1].copy()
    return sae


SOURCE_VARIANTS = [
    # label, make source, kind, hints, source_data?
    (
        "the class ConvAutoencoderClassifier",
        lambda: st().ConvAutoencoderClassifier,
        "bad",
        ("instance", "class"),
        False,
    ),
    (
        "the class StackedAutoencoderClassifier",
        lambda: st().StackedAutoencoderClassifier,
        "bad",
        ("instance", "class"),
        False,
    ),
    (
        "an unfitted SAE, no source_data",
        lambda: st().StackedAutoencoderClassifier(**KW["SAE"]),
        "bad",
        ("source_data", "not fitted", "fit"),
        False,
    ),
    (
        "an unfitted SAE + source_data",
        lambda: st().StackedAutoencoderClassifier(**KW["SAE"]),
        "valid",
        (),
        True,
    ),
    (
        "an unfitted SAE(random_state=None) + source_data",
        lambda: st().StackedAutoencoderClassifier(**dict(KW["SAE"], random_state=None)),
        "valid",
        (),
        True,
    ),
    ("object()", object, "bad", ("source",), False),
    ("the string 'mnist'", lambda: "mnist", "bad", ("source", "mnist"), False),
    ("None", lambda: None, "bad", ("source",), False),
    ("5", lambda: 5, "bad", ("source",), False),
    ("a lambda", lambda: lambda X: X, "bad", ("source",), False),
    ("a fitted MLPClassifier", lambda: FX.mlp, "valid", (), False),
    (
        "a fitted binary MLPClassifier (1 logistic output)",
        lambda: FX.mlp_binary,
        "any",
        ("output", "binary", "unit"),
        False,
    ),
    (
        "a fitted multi-label MLPClassifier (2 labels)",
        lambda: FX.mlp_multilabel2,
        "bad",
        ("multi-label", "one class per image"),
        False,
    ),
    (
        "a fitted multi-label MLPClassifier (3 labels)",
        lambda: FX.mlp_multilabel3,
        "bad",
        ("multi-label", "one class per image"),
        False,
    ),
    (
        "a fitted LogisticRegression",
        lambda: FX.logreg,
        "any",
        ("LogisticRegression", "layer", "hidden", "coefs_"),
        False,
    ),
    (
        "a fitted KNeighborsClassifier",
        lambda: FX.knn,
        "bad",
        ("KNeighbors", "coefs_", "layer", "network", "source"),
        False,
    ),
    (
        "a fitted MLPRegressor",
        _mlp_regressor,
        "any",
        ("MLPRegressor", "classifier", "softmax", "output"),
        False,
    ),
    (
        "a fitted Pipeline(MinMaxScaler, SAE)",
        _pipeline_source,
        "any",
        ("Pipeline",),
        False,
    ),
    ("a fitted GridSearchCV(SAE)", _grid_source, "any", ("GridSearchCV",), False),
    ("FrozenEstimator(fitted SAE)", _frozen("sae"), "valid", (), False),
    (
        "FrozenEstimator(unfitted SAE)",
        lambda: __import__("sklearn.frozen", fromlist=["x"]).FrozenEstimator(
            st().StackedAutoencoderClassifier()
        ),
        "bad",
        ("unfitted", "FrozenEstimator", "fit"),
        False,
    ),
    (
        "a fitted transfer estimator (AllT(SAE))",
        lambda: FX.all_sae,
        "any",
        ("AllTransferClassifier", "source"),
        False,
    ),
    (
        "a fitted SAE whose parameters changed after fit",
        _changed_source,
        "bad",
        ("changed", "parameters"),
        False,
    ),
    (
        "a fitted SAE whose parameters changed + source_data",
        _changed_source,
        "valid",
        (),
        True,
    ),
    ("a source fitted on 63 features", lambda: FX.sae63, "bad", ("63",), False),
    ("a source with string classes", lambda: FX.sae_str, "valid", (), False),
    ("a float32 conv source (float64 X)", lambda: FX.conv32, "valid", (), False),
    ("a float64 conv source (float32 X)", lambda: FX.conv64, "valid", (), False),
    (
        "an SAE with a bias of length 1 (tampered in memory)",
        _tampered_in_memory,
        "bad",
        ("intercepts_", "intercept"),
        False,
    ),
]


def _transfer_source_case(cls_name, kw, make_source, with_data, X_dtype=None):
    def fn(t):
        source = make_source()
        if not isinstance(source, type):
            t(source, "source")
        kwargs = kw()
        if with_data:
            kwargs["source_data"] = t(FX.sd, "source_data")
        est = getattr(st(), cls_name)(source, **kwargs)
        X = FX.Xt if X_dtype is None else FX.Xt.astype(X_dtype)
        X2, y2 = t(X.copy(), "X"), t(FX.yt.copy(), "y")
        ret = est.fit(X2, y2)
        return check_fitted_model(est, ret, FX.Xt)

    return fn


def cases_source(quick):
    for tlabel, cls_name, kw in TRANSFER_CLASSES:
        for slabel, make, kind, hints, with_data in SOURCE_VARIANTS:
            k = kind
            if tlabel == "Direct" and slabel in ("a source with string classes",):
                k = "bad"
                hints = ("label_map", "source class")
            if slabel.startswith("an SAE with a bias"):
                add(
                    "source",
                    f"{tlabel}(source={slabel})",
                    _transfer_source_case(cls_name, kw, make, with_data),
                    kind=k,
                    hints=hints,
                    isolate=True,
                    accept_class="security",
                    on_signal="security",
                    call=f"{cls_name}(<fitted SAE with intercepts_[0] of length 1>).fit(Xt, yt)",
                )
                continue
            X_dtype = np.float32 if "float64 conv source" in slabel else None
            add(
                "source",
                f"{tlabel}(source={slabel})",
                _transfer_source_case(cls_name, kw, make, with_data, X_dtype),
                kind=k,
                hints=hints,
                call=f"{cls_name}({slabel}{', source_data=SourceData(X, y)' if with_data else ''}).fit(Xt, yt)",
            )

    # -- fitted attributes edited in memory, then used directly ----------------
    def edited(fixture, attr, index, new):
        def make():
            model = FX.fresh(fixture)
            seq = list(getattr(model, attr))
            seq[index] = new(seq[index])
            setattr(model, attr, seq)
            return model

        return make

    for label, make in [
        (
            "SAE with intercepts_[0] of length 1",
            edited("sae", "intercepts_", 0, lambda a: a[:1].copy()),
        ),
        (
            "Conv32 with intercepts_[0] of length 1",
            edited("conv32", "intercepts_", 0, lambda a: a[:1].copy()),
        ),
        (
            "MPDBM with intercepts_[0] of length 1",
            edited("mpdbm", "intercepts_", 0, lambda a: a[:1].copy()),
        ),
        (
            "Conv32 with coefs_[0] of 4 rows",
            edited("conv32", "coefs_", 0, lambda a: a[:4].copy()),
        ),
    ]:
        for use, call in [
            ("predict_proba(X)", lambda m: check_proba(m.predict_proba(FX.X), 60, 3)),
            (
                "transferability(., Xt, yt, method='knn')",
                lambda m: _check_score(
                    "knn", st().transferability(m, FX.Xt, FX.yt, method="knn")
                ),
            ),
        ]:
            add(
                "source",
                f"<{label}>.{use}"
                if use.startswith("predict")
                else use.replace(".", f"<{label}>", 1),
                lambda t, make=make, call=call: call(make()),
                hints=("intercept", "coef", "shape"),
                isolate=True,
                call=f"m = fitted {label.split(' with ')[0]}; m.{label.split(' with ')[1].split(' of')[0]} edited in memory ({label}); "
                + (
                    f"m.{use}"
                    if use.startswith("predict")
                    else use.replace(".", "m", 1)
                ),
            )

    # -- source_data of the wrong type / content -------------------------------
    unfitted = lambda: st().StackedAutoencoderClassifier(**KW["SAE"])  # noqa: E731
    data_variants = [
        ("a tuple (X, y)", lambda: (FX.X, FX.y), "bad", ("SourceData",)),
        ("a dict", lambda: {"X": FX.X, "y": FX.y}, "bad", ("SourceData",)),
        ("an array", lambda: FX.X, "bad", ("SourceData",)),
        ("a path string", lambda: "source.npz", "bad", ("SourceData",)),
        (
            "SourceData with 63 features",
            lambda: st().SourceData(FX.X[:, :63], FX.y),
            "bad",
            ("63",),
        ),
        (
            "SourceData with one class",
            lambda: st().SourceData(FX.X, np.zeros(60, int)),
            "bad",
            ("class",),
        ),
        (
            "SourceData with string labels",
            lambda: st().SourceData(FX.X, np.array(["a", "b", "c"])[FX.y]),
            "valid",
            (),
        ),
        (
            "SourceData float32",
            lambda: st().SourceData(FX.X.astype(np.float32), FX.y),
            "valid",
            (),
        ),
    ]
    for dlabel, make, kind, hints in data_variants:
        for tlabel, cls_name, kw in TRANSFER_CLASSES[:3]:

            def fn(t, make=make, cls_name=cls_name, kw=kw):
                data = make()
                t(data, "source_data")
                est = getattr(st(), cls_name)(unfitted(), source_data=data, **kw())
                ret = est.fit(t(FX.Xt.copy(), "X"), t(FX.yt.copy(), "y"))
                return check_fitted_model(est, ret, FX.Xt)

            add(
                "source",
                f"{tlabel}(unfitted SAE, source_data={dlabel})",
                fn,
                kind=kind,
                hints=hints,
                call=f"{cls_name}(StackedAutoencoderClassifier(**KW['SAE']), source_data={dlabel}).fit(Xt, yt)",
            )

    def fitted_plus_data(t):
        est = st().AllTransferClassifier(
            FX.sae, source_data=t(FX.sd, "source_data"), **TKW
        )
        return check_fitted_model(est, est.fit(FX.Xt, FX.yt), FX.Xt)

    add(
        "source",
        "AllT(fitted SAE, source_data=SourceData) (data unused)",
        fitted_plus_data,
        kind="valid",
        call="AllTransferClassifier(SAE, source_data=SourceData(X, y)).fit(Xt, yt)",
    )

    # -- SourceData itself --------------------------------------------------------
    sd_variants = [
        ("X with a NaN", lambda: (_set(FX.X, np.nan), FX.y), "bad", ("nan",)),
        ("X with an inf", lambda: (_set(FX.X, np.inf), FX.y), "bad", ("inf",)),
        ("X x 255", lambda: (FX.X * 255, FX.y), "bad", ("255", "254")),
        ("X with 1.000001", lambda: (_set(FX.X, 1.000001), FX.y), "bad", ("1.000001",)),
        ("X 1-D", lambda: (FX.X[0], FX.y[:1]), "bad", ("2D", "2-D", "1D", "reshape")),
        (
            "X 3-D",
            lambda: (FX.X.reshape(60, 8, 8), FX.y),
            "bad",
            ("dim 3", "3-D", "3D", "flatten", "reshape"),
        ),
        ("X empty", lambda: (FX.X[:0], FX.y[:0]), "bad", ("0 sample", "empty")),
        ("y shorter", lambda: (FX.X, FX.y[:-1]), "bad", ("60", "59")),
        (
            "y 2-D two columns",
            lambda: (FX.X, np.c_[FX.y, FX.y]),
            "bad",
            ("shape", "1d", "column"),
        ),
        ("y None", lambda: (FX.X, None), "bad", ("y", "None")),
        (
            "X strings",
            lambda: (np.full((60, 64), "a"), FX.y),
            "bad",
            ("string", "str", "'a'"),
        ),
        ("X complex", lambda: (FX.X.astype(complex), FX.y), "bad", ("complex",)),
        ("X sparse", lambda: (_sparse("csr")(FX.X), FX.y), "bad", ("sparse",)),
        ("X list", lambda: (FX.X.tolist(), FX.y.tolist()), "valid", ()),
        ("X int 0/1", lambda: ((FX.X > 0.5).astype(int), FX.y), "valid", ()),
        ("X read-only", lambda: (_ro(FX.X), _ro(FX.y)), "valid", ()),
        ("y with NaN", lambda: (FX.X, _with(np.nan, float)(FX.y)), "any", ("nan", "y")),
        ("y mixed int/str", lambda: (FX.X, _mixed(FX.y)), "any", ("mix", "type")),
        ("y object with None", lambda: (FX.X, _with(None)(FX.y)), "any", ("None",)),
        ("one sample", lambda: (FX.X[:1], FX.y[:1]), "any", ("sample", "class")),
    ]
    for label, make, kind, hints in sd_variants:

        def fn(t, make=make):
            X, y = make()
            t(X, "X")
            if y is not None:
                t(y, "y")
            data = st().SourceData(X, y)
            if data.X.flags.writeable:
                raise Wrong("SourceData.X is writeable")
            if np.shares_memory(data.X, X) if isinstance(X, np.ndarray) else False:
                raise Wrong("SourceData.X shares memory with the array passed")
            fp = data.fingerprint
            return f"SourceData {data!r} fingerprint {fp[:8]}"

        add(
            "source",
            f"SourceData({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"SourceData(X, y) with {label}",
        )

    # -- SourceData.from_npz --------------------------------------------------------
    def npz(name, **arrays):
        def make():
            path = S("files", name)
            np.savez(path, **arrays) if arrays else None
            return path

        return make

    def evil_npz(case_id):
        def make():
            path = S("files", "evil-object.npz")
            arr = np.empty(1, dtype=object)
            arr[0] = Evil(marker_for(case_id))
            np.savez(path, X=arr, y=np.zeros(1))
            return path

        return make

    def truncated_npz():
        path = S("files", "sd-trunc.npz")
        np.savez(path, X=FX.X, y=FX.y)
        data = open(path, "rb").read()
        return write_bytes(path, data[: len(data) // 2])

    npz_variants = [
        ("a missing path", lambda: S("files", "no-such.npz"), "bad", ("no-such.npz",)),
        ("a directory", lambda: S("files"), "bad", ("files", "folder", "directory")),
        (
            "a text file",
            lambda: write_bytes(S("files", "sd.txt.npz"), b"hello"),
            "bad",
            ("sd.txt.npz",),
        ),
        (
            "an empty file",
            lambda: write_bytes(S("files", "sd-empty.npz"), b""),
            "bad",
            ("sd-empty.npz",),
        ),
        ("a truncated npz", truncated_npz, "bad", ("sd-trunc.npz",)),
        (
            "an npz without X",
            lambda: npz("sd-nox.npz", images=FX.X, y=FX.y)(),
            "bad",
            ("X", "images"),
        ),
        (
            "an npz with X 3-D images",
            lambda: npz("sd-3d.npz", X=FX.X.reshape(60, 8, 8), y=FX.y)(),
            "any",
            ("dim", "3"),
        ),
        (
            "an npz with uint8 0..255",
            lambda: npz("sd-255.npz", X=(FX.X * 255).astype(np.uint8), y=FX.y)(),
            "bad",
            ("255", "254"),
        ),
        (
            "an npz with 2-D labels",
            lambda: npz("sd-y2d.npz", X=FX.X, y=FX.y[:, None])(),
            "valid",
            (),
        ),
        ("a valid npz", lambda: npz("sd-ok.npz", X=FX.X, y=FX.y)(), "valid", ()),
        (
            "a Path object",
            lambda: __import__("pathlib").Path(npz("sd-ok2.npz", X=FX.X, y=FX.y)()),
            "valid",
            (),
        ),
    ]
    for label, make, kind, hints in npz_variants:

        def fn(t, make=make):
            data = st().SourceData.from_npz(make())
            return repr(data)

        add(
            "source",
            f"SourceData.from_npz({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"SourceData.from_npz(<{label}>)",
        )

    cid = "source/SourceData.from_npz(an npz with a pickled object array)"
    make_evil = evil_npz(cid)
    add(
        "source",
        "SourceData.from_npz(an npz with a pickled object array)",
        lambda t, m=make_evil: repr(st().SourceData.from_npz(m())),
        kind="bad",
        accept_class="security",
        hints=("object", "pickle"),
        call="SourceData.from_npz(<npz whose X is an object array holding a pickle>)",
    )
    add(
        "source",
        "SourceData.from_npz(X_key='missing')",
        lambda t: repr(
            st().SourceData.from_npz(
                npz("sd-ok3.npz", X=FX.X, y=FX.y)(), X_key="missing"
            )
        ),
        hints=("missing",),
        call="SourceData.from_npz(path, X_key='missing')",
    )

    # -- source_memory --------------------------------------------------------------
    def memory_case(memory, kind_check=None):
        def fn(t):
            from skalltransfer._source_cache._cached_fit import (
                forget_in_process_sources,
            )

            forget_in_process_sources()  # so that the source is fitted and stored
            mem = memory() if callable(memory) else memory
            est = st().AllTransferClassifier(
                st().StackedAutoencoderClassifier(**KW["SAE"]),
                source_data=FX.sd,
                source_memory=mem,
                **TKW,
            )
            ret = est.fit(FX.Xt, FX.yt)
            out = check_fitted_model(est, ret, FX.Xt)
            if kind_check:
                kind_check()
            return out

        return fn

    def expect_home_cache():
        if os.path.exists(S("cwd", "~")):
            raise Wrong("created a literal '~' folder in the current directory")
        if not os.path.isdir(S("home", "bad-inputs-cache", "sources")):
            raise Wrong("nothing cached under $HOME/bad-inputs-cache")

    def expect_relative():
        if not os.path.isdir(S("cwd", "rel-cache", "sources")):
            raise Wrong("nothing cached under ./rel-cache")

    def a_file():
        return write_bytes(S("files", "memory-file"), b"x")

    mem_variants = [
        ("'' (empty string)", "", "bad", ("source_memory",), {}),
        ("'   ' (blank)", "   ", "bad", ("source_memory",), {}),
        (
            "'~/bad-inputs-cache'",
            "~/bad-inputs-cache",
            "valid",
            (),
            dict(cwd_writes=True, check=expect_home_cache),
        ),
        (
            "'rel-cache' (relative)",
            "rel-cache",
            "valid",
            (),
            dict(cwd_writes=True, check=expect_relative),
        ),
        (
            "a pathlib.Path",
            lambda: __import__("pathlib").Path(S("cache", "p")),
            "valid",
            (),
            {},
        ),
        (
            "bytes path",
            lambda: os.fsencode(S("cache", "b")),
            "any",
            ("bytes", "source_memory"),
            {},
        ),
        (
            "an existing regular file",
            a_file,
            "any",
            ("memory-file", "source_memory", "directory"),
            {},
        ),
        (
            "a path under a regular file",
            lambda: os.path.join(a_file(), "sub"),
            "any",
            ("memory-file", "source_memory", "directory"),
            {},
        ),
        (
            "a path with a NUL byte",
            lambda: S("cache", "a\0b"),
            "bad",
            ("source_memory", "null", "NUL", "\\x00", "\\0"),
        ),
        (
            "joblib.Memory(None)",
            lambda: __import__("joblib").Memory(None, verbose=0),
            "valid",
            (),
            {},
        ),
        (
            "joblib.Memory(dir)",
            lambda: __import__("joblib").Memory(S("cache", "jm"), verbose=0),
            "valid",
            (),
            {},
        ),
        ("5", 5, "bad", ("source_memory",), {}),
        ("True", True, "bad", ("source_memory",), {}),
        ("object()", object(), "bad", ("source_memory",), {}),
        (
            "a 300-character folder name",
            lambda: S("cache", "x" * 300),
            "any",
            ("source_memory", "too long", "x" * 20),
            {},
        ),
    ]
    for variant in mem_variants:
        label, memory, kind, hints = variant[:4]
        extra = dict(variant[4]) if len(variant) > 4 else {}
        check = extra.pop("check", None)
        add(
            "source",
            f"AllT(unfitted SAE, source_data, source_memory={label})",
            memory_case(memory, check),
            kind=kind,
            hints=hints,
            call=f"AllTransferClassifier(StackedAutoencoderClassifier(**KW['SAE']), source_data=SourceData(X, y), source_memory={label}).fit(Xt, yt)",
            **extra,
        )
    if os.name == "posix":

        def ro_dir():
            path = S("files", "ro-cache")
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o555)
            return path

        add(
            "source",
            "AllT(unfitted SAE, source_data, source_memory=<read-only folder>)",
            memory_case(ro_dir),
            kind="any",
            hints=("ro-cache", "source_memory"),
            isolate=True,
            drop_dac=True,
            call="AllTransferClassifier(..., source_memory='<a folder mode 555>').fit(Xt, yt)  [run without CAP_DAC_OVERRIDE]",
        )

    # -- crafted cache entries --------------------------------------------------------
    cases_cache_entries(quick)


def _entry_paths(location):
    parent = os.path.join(location, "sources")
    keys = [k for k in os.listdir(parent) if not k.startswith(".")]
    assert len(keys) == 1, keys
    return os.path.join(parent, keys[0])


def _rewrite_entry(entry, body=None, arrays=None):
    """Write ``body`` and the arrays of an entry with a recomputed checksum,
    as an attacker who read the cache format would."""
    with open(os.path.join(entry, "entry.json")) as f:
        doc = json.load(f)
    body = doc["body"] if body is None else body
    npz_path = os.path.join(entry, "arrays.npz")
    if arrays is not None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with open(npz_path, "wb") as f:
            f.write(buffer.getvalue())
    with open(npz_path, "rb") as f:
        npz_bytes = f.read()
    h = hashlib.sha256()
    h.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    h.update(npz_bytes)
    with open(os.path.join(entry, "entry.json"), "w") as f:
        json.dump({"sha256": h.hexdigest(), "body": body}, f)


def _arrays_of(entry):
    with np.load(os.path.join(entry, "arrays.npz"), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _array_name(body, attribute, index=None):
    node = body["attributes"][attribute]
    if index is not None:
        node = node["list"][index]
    return node["array"]


def _cache_tamper_case(name, tamper):
    def fn(t):
        from skalltransfer._source_cache._cached_fit import forget_in_process_sources

        location = fresh_dir("cache", "tamper-" + re.sub(r"\W", "_", name))
        make = lambda: st().AllTransferClassifier(  # noqa: E731
            st().StackedAutoencoderClassifier(**KW["SAE"]),
            source_data=FX.sd,
            source_memory=location,
            **TKW,
        )
        forget_in_process_sources()
        make().fit(FX.Xt, FX.yt)
        entry = _entry_paths(location)
        tamper(entry)
        forget_in_process_sources()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            clf = make().fit(FX.Xt, FX.yt)
        source = clf.source_
        problems = []
        if not callable(getattr(source, "fit", None)) or "fit" in vars(source):
            problems.append(f"source_.fit is {vars(source).get('fit')!r}")
        if source.get_params()["hidden_layer_sizes"] != (8,):
            problems.append(
                f"source_.hidden_layer_sizes is {source.get_params()['hidden_layer_sizes']!r}"
            )
        extra = sorted(set(vars(source)) - set(vars(FX.sae)))
        if extra:
            problems.append(f"source_ gained attributes {extra}")
        P = clf.predict_proba(FX.Xt)
        check_proba(P, len(FX.Xt), 2)
        check_transform(
            st().SourceFeatures(source).fit(FX.Xt).transform(FX.Xt), len(FX.Xt)
        )
        if problems:
            raise Wrong("tampered cache entry restored: " + "; ".join(problems))
        warned = [
            w
            for w in caught
            if "cache" in str(w.message).lower() or "discard" in str(w.message).lower()
        ]
        if not warned:
            raise Wrong("the tampered entry was used without a warning")
        return "tampered entry discarded with a warning and the source refitted"

    return fn


# Cache-entry tampers left out of --quick runs (others cover their code path).
QUICK_SKIPPED_TAMPERS = (
    "transposed",
    "float16",
    "with an inf",
    "Fortran",
    "n_iter_",
    "__class__",
    "predict_proba",
)


def cases_cache_entries(quick):
    def body_edit(edit):
        def tamper(entry):
            with open(os.path.join(entry, "entry.json")) as f:
                body = json.load(f)["body"]
            edit(body)
            _rewrite_entry(entry, body=body)

        return tamper

    def array_edit(attribute, index, new):
        def tamper(entry):
            with open(os.path.join(entry, "entry.json")) as f:
                body = json.load(f)["body"]
            arrays = _arrays_of(entry)
            name = _array_name(body, attribute, index)
            arrays[name] = new(arrays[name])
            _rewrite_entry(entry, body=body, arrays=arrays)

        return tamper

    def add_attr(key, node):
        return body_edit(lambda body: body["attributes"].__setitem__(key, node))

    def pickled_npz(entry):
        with open(os.path.join(entry, "entry.json")) as f:
            body = json.load(f)["body"]
        arrays = _arrays_of(entry)
        name = _array_name(body, "coefs_", 0)
        evil = np.empty(1, dtype=object)
        evil[0] = Evil(
            marker_for("source/cache entry: a pickled object array in arrays.npz")
        )
        arrays[name] = evil
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        with open(os.path.join(entry, "arrays.npz"), "wb") as f:
            f.write(buffer.getvalue())
        _rewrite_entry(entry, body=body)

    def deep_json(entry):
        with open(os.path.join(entry, "entry.json")) as f:
            body = json.load(f)["body"]
        node = {"json": 1}
        for _ in range(50000):
            node = {"list": [node]}
        body["attributes"]["loss_curve_"] = node
        try:
            _rewrite_entry(entry, body=body)
        except RecursionError:
            # json.dumps cannot write it either: write the text by hand.
            text = '{"list": [' * 50000 + '{"json": 1}' + "]}" * 50000
            raw = json.dumps({"sha256": "0" * 64, "body": {**body, "attributes": {}}})
            with open(os.path.join(entry, "entry.json"), "w") as f:
                f.write(
                    raw.replace(
                        '"attributes": {}',
                        '"attributes": {"loss_curve_": ' + text + "}",
                    )
                )

    def huge_shape(entry):
        def edit(body):
            body["attributes"]["classes_"] = {
                "object_array": [["int", 0]],
                "shape": [10**12],
            }

        body_edit(edit)(entry)

    def npz_bomb(entry):
        with open(os.path.join(entry, "entry.json")) as f:
            body = json.load(f)["body"]
        name = _array_name(body, "coefs_", 0) + ".npy"
        src = os.path.join(entry, "arrays.npz")
        inflating_copy(src, src + ".new", pick=name)
        os.replace(src + ".new", src)
        _rewrite_entry(entry, body=body)

    def not_json(entry):
        write_bytes(os.path.join(entry, "entry.json"), b"{not json")

    tampers = [
        (
            "cache entry: extra attribute 'fit' (a string)",
            add_attr("fit", {"json": "not a method"}),
        ),
        (
            "cache entry: constructor parameter hidden_layer_sizes",
            add_attr("hidden_layer_sizes", {"list": [{"json": 1000}]}),
        ),
        (
            "cache entry: extra attribute 'predict_proba'",
            add_attr("predict_proba", {"json": 1}),
        ),
        ("cache entry: attribute '__class__'", add_attr("__class__", {"json": "x"})),
        (
            "cache entry: classes_ of 5 labels",
            body_edit(
                lambda b: b["attributes"].__setitem__(
                    "classes_",
                    {"object_array": [["int", i] for i in range(5)], "shape": [5]},
                )
            ),
        ),
        (
            "cache entry: intercepts_[0] of length 1",
            array_edit("intercepts_", 0, lambda a: a[:1].copy()),
        ),
        (
            "cache entry: coefs_[0] transposed",
            array_edit("coefs_", 0, lambda a: np.ascontiguousarray(a.T)),
        ),
        (
            "cache entry: coefs_[0] as int64",
            array_edit("coefs_", 0, lambda a: (a * 100).astype(np.int64)),
        ),
        (
            "cache entry: coefs_[0] float16",
            array_edit("coefs_", 0, lambda a: a.astype(np.float16)),
        ),
        (
            "cache entry: coefs_[0] with a NaN",
            array_edit("coefs_", 0, lambda a: _set(a, np.nan)),
        ),
        (
            "cache entry: coefs_[1] with an inf",
            array_edit("coefs_", 1, lambda a: _set(a, np.inf)),
        ),
        (
            "cache entry: coefs_[0] Fortran order",
            array_edit("coefs_", 0, lambda a: np.asfortranarray(a)),
        ),
        (
            "cache entry: n_features_in_ = 10**9",
            add_attr("n_features_in_", {"json": 10**9}),
        ),
        ("cache entry: n_iter_ = 'x'", add_attr("n_iter_", {"json": "x"})),
        ("cache entry: a pickled object array in arrays.npz", pickled_npz),
        ("cache entry: 50,000 nested lists in entry.json", deep_json),
        ("cache entry: object array of declared shape 10**12", huge_shape),
        ("cache entry: entry.json not JSON", not_json),
        ("cache entry: arrays.npz member inflating to 512 MB", npz_bomb),
    ]
    for name, tamper in tampers:
        add(
            "source",
            name,
            _cache_tamper_case(name, tamper),
            kind="valid",
            isolate=True,
            timeout=90,
            on_signal="security",
            mem_mb=300 if "inflating" in name else None,
            on_timeout="security" if "inflating" in name else "crash",
            slow=any(k in name for k in QUICK_SKIPPED_TAMPERS),
            call=f"fit AllTransferClassifier(SAE unfitted, source_data, source_memory=dir); edit the entry ({name.split(': ', 1)[1]}) and recompute its SHA-256; fit again",
        )


# =============================================================================
# Area "metrics": transferability, rank_sources, make_transferability_scorer
# =============================================================================
METRIC_SOURCES = [
    ("SAE", "sae", 2),
    ("MPDBM", "mpdbm", 2),
    ("Conv32", "conv32", 3),
    ("MLP", "mlp", 2),
    ("LogReg", "logreg", 1),
    ("AllT(SAE)", "all_sae", 2),
]
METHODS = ("leep", "nce", "logme", "knn")


def _check_score(method, s):
    if not isinstance(s, (float, np.floating)):
        raise Wrong(f"score is a {type(s).__name__}")
    if not np.isfinite(s):
        raise Wrong(f"score is {s!r}")
    if method in ("leep", "nce") and s > 1e-9:
        raise Wrong(f"{method} score {s!r} > 0")
    if method == "knn" and not 0 <= s <= 1:
        raise Wrong(f"knn score {s!r} outside [0, 1]")
    return f"{method} = {s:.4f}"


def cases_metrics(quick):
    layers = [
        ("None", None),
        ("'all'", "all"),
        ("'top'", "top"),
        ("1", 1),
        ("2", 2),
        ("3", 3),
        ("0", 0),
        ("-1", -1),
        ("99", 99),
        ("1.5", 1.5),
        ("'bogus'", "bogus"),
        ("True", True),
        ("np.int64(1)", np.int64(1)),
        ("'1'", "1"),
        ("'transferred'", "transferred"),
    ]
    for slabel, fixture, n_layers in METRIC_SOURCES:
        for method in METHODS:
            for llabel, layer in layers:
                if method in ("leep", "nce"):
                    if llabel not in ("None", "'bogus'", "99", "1.5"):
                        continue
                    kind = "valid" if layer is None else "bad"
                    if fixture == "logreg":
                        kind = "any"
                    hints = ("layer",)
                else:
                    valid = (
                        layer is None
                        or layer in ("all", "top")
                        or (
                            isinstance(layer, (int, np.integer))
                            and not isinstance(layer, bool)
                            and 1 <= layer <= n_layers
                        )
                    )
                    if fixture == "logreg":
                        valid = None
                    kind = "valid" if valid else ("any" if valid is None else "bad")
                    hints = ("layer",)
                if quick and slabel in ("MPDBM", "MLP") and kind == "bad":
                    continue

                def fn(t, fixture=fixture, method=method, layer=layer):
                    source = getattr(FX, fixture)
                    X, y = t(FX.Xt.copy(), "X"), t(FX.yt.copy(), "y")
                    return _check_score(
                        method,
                        st().transferability(source, X, y, method=method, layer=layer),
                    )

                add(
                    "metrics",
                    f"transferability({slabel}, method={method!r}, layer={llabel})",
                    fn,
                    kind=kind,
                    hints=hints,
                    call=f"transferability({slabel}, Xt, yt, method={method!r}, layer={llabel})",
                )
    for mlabel, method in [
        ("'bogus'", "bogus"),
        ("'LEEP'", "LEEP"),
        ("None", None),
        ("5", 5),
        ("['leep']", ["leep"]),
    ]:
        add(
            "metrics",
            f"transferability(SAE, method={mlabel})",
            lambda t, method=method: st().transferability(
                FX.sae, FX.Xt, FX.yt, method=method
            ),
            hints=("method",),
            call=f"transferability(SAE, Xt, yt, method={mlabel})",
        )
    bad_sources = [
        (
            "the class StackedAutoencoderClassifier",
            lambda: st().StackedAutoencoderClassifier,
            ("instance", "class", "fitted"),
        ),
        (
            "an unfitted SAE",
            lambda: st().StackedAutoencoderClassifier(),
            ("fitted", "fit"),
        ),
        ("None", lambda: None, ("source", "None")),
        ("object()", object, ("source", "object")),
        (
            "a fitted KNeighborsClassifier",
            lambda: FX.knn,
            ("KNeighbors", "layer", "coefs_"),
        ),
        (
            "a fitted MLPRegressor",
            _mlp_regressor,
            ("MLPRegressor", "classifier", "output"),
        ),
        ("a fitted Pipeline(MinMaxScaler, SAE)", _pipeline_source, ("Pipeline",)),
        (
            "an unfitted AllTransferClassifier",
            lambda: st().AllTransferClassifier(FX.sae),
            ("fitted", "fit"),
        ),
        ("a fitted SourceFeatures", lambda: FX.feats_sae, ("SourceFeatures",)),
        (
            "a fitted DirectTransferClassifier",
            lambda: FX.direct_sae,
            ("DirectTransfer",),
        ),
        ("a source fitted on 63 features", lambda: FX.sae63, ("63",)),
    ]
    for slabel, make, hints in bad_sources:
        kind = (
            "any"
            if (
                "Pipeline" in slabel or "SourceFeatures" in slabel or "Direct" in slabel
            )
            else "bad"
        )
        for method in ("leep", "knn"):

            def fn(t, make=make, method=method):
                return _check_score(
                    method, st().transferability(make(), FX.Xt, FX.yt, method=method)
                )

            add(
                "metrics",
                f"transferability({slabel}, method={method!r})",
                fn,
                kind=kind,
                hints=hints,
                call=f"transferability({slabel}, Xt, yt, method={method!r})",
            )
    xy_variants = [
        ("X with a NaN", lambda: (_set(FX.Xt, np.nan), FX.yt), "bad", ("nan",)),
        ("X x 255", lambda: (FX.Xt * 255, FX.yt), "bad", ("255", "254")),
        (
            "X with 1.000001",
            lambda: (_set(FX.Xt, 1.000001), FX.yt),
            "bad",
            ("1.000001",),
        ),
        ("X with 63 features", lambda: (FX.Xt[:, :63], FX.yt), "bad", ("63",)),
        ("X 1-D", lambda: (FX.Xt[0], FX.yt[:1]), "bad", ("2D", "2-D", "1D", "reshape")),
        ("X sparse", lambda: (_sparse("csr")(FX.Xt), FX.yt), "bad", ("sparse",)),
        ("X float32", lambda: (FX.Xt.astype(np.float32), FX.yt), "valid", ()),
        ("X list", lambda: (FX.Xt.tolist(), FX.yt.tolist()), "valid", ()),
        ("X int 0/1", lambda: ((FX.Xt > 0.5).astype(int), FX.yt), "valid", ()),
        ("X read-only", lambda: (_ro(FX.Xt), _ro(FX.yt)), "valid", ()),
        ("one class", lambda: (FX.Xt, np.zeros(24, int)), "bad", ("class",)),
        ("y shorter", lambda: (FX.Xt, FX.yt[:-1]), "bad", ("24", "23")),
        ("y strings", lambda: (FX.Xt, np.array(["a", "b"])[FX.yt]), "valid", ()),
        (
            "y continuous",
            lambda: (FX.Xt, np.linspace(0, 1, 24)),
            "bad",
            ("continuous",),
        ),
        ("y with NaN", lambda: (FX.Xt, _with(np.nan, float)(FX.yt)), "bad", ("nan",)),
        ("y None", lambda: (FX.Xt, None), "bad", ("y", "None")),
        (
            "two samples (one per class)",
            lambda: (FX.Xt[:2], FX.yt[:2]),
            "any",
            ("sample", "class"),
        ),
        (
            "one sample per class, 24 classes",
            lambda: (FX.Xt, np.arange(24)),
            "any",
            ("sample", "class"),
        ),
        ("empty X", lambda: (FX.Xt[:0], FX.yt[:0]), "bad", ("0 sample", "empty")),
        ("all-zero X", lambda: (np.zeros_like(FX.Xt), FX.yt), "valid", ()),
        (
            "duplicate rows",
            lambda: (np.repeat(FX.Xt[:2], 12, axis=0), np.tile([0, 1], 12)),
            "valid",
            (),
        ),
    ]
    for xlabel, make, kind, hints in xy_variants:
        for method in METHODS:
            if quick and method in ("nce", "logme") and kind == "bad":
                continue

            def fn(t, make=make, method=method):
                X, y = make()
                t(X, "X")
                if y is not None:
                    t(y, "y")
                return _check_score(
                    method, st().transferability(FX.sae, X, y, method=method)
                )

            add(
                "metrics",
                f"transferability(SAE, {xlabel}, method={method!r})",
                fn,
                kind=kind,
                hints=hints,
                call=f"transferability(SAE, X, y, method={method!r}) with {xlabel}",
            )

    # rank_sources
    rank_variants = [
        ("a list of sources", lambda: [FX.sae, FX.mpdbm], "bad", ("dict",)),
        ("an empty dict", lambda: {}, "bad", ("empty", "dict")),
        ("None", lambda: None, "bad", ("dict", "sources")),
        ("{'a': None}", lambda: {"a": None}, "bad", ("'a'",)),
        (
            "{'good': SAE, 'bad': object()}",
            lambda: {"good": FX.sae, "bad": object()},
            "bad",
            ("'bad'",),
        ),
        (
            "{'good': SAE, 'unfitted': SAE()}",
            lambda: {"good": FX.sae, "unfitted": st().StackedAutoencoderClassifier()},
            "bad",
            ("'unfitted'",),
        ),
        (
            "{'good': SAE, 'cls': SAE class}",
            lambda: {"good": FX.sae, "cls": st().StackedAutoencoderClassifier},
            "bad",
            ("'cls'",),
        ),
        (
            "{'good': SAE, 'small': SAE on 63 features}",
            lambda: {"good": FX.sae, "small": FX.sae63},
            "bad",
            ("'small'",),
        ),
        (
            "{'good': SAE, 'knn': KNeighborsClassifier}",
            lambda: {"good": FX.sae, "knn": FX.knn},
            "bad",
            ("'knn'",),
        ),
        (
            "{1: SAE, (2, 3): MPDBM} (non-str keys)",
            lambda: {1: FX.sae, (2, 3): FX.mpdbm},
            "valid",
            (),
        ),
        (
            "{'a': SAE, 'b': SAE} (same model twice)",
            lambda: {"a": FX.sae, "b": FX.sae},
            "valid",
            (),
        ),
        (
            "a generator of pairs",
            lambda: ((k, v) for k, v in {"a": FX.sae}.items()),
            "bad",
            ("dict",),
        ),
        (
            "{'a': SAE, 'b': MPDBM, 'c': Conv32, 'd': MLP}",
            lambda: {"a": FX.sae, "b": FX.mpdbm, "c": FX.conv32, "d": FX.mlp},
            "valid",
            (),
        ),
    ]
    for rlabel, make, kind, hints in rank_variants:
        for method in ("leep", "knn"):

            def fn(t, make=make, method=method):
                sources = make()
                if isinstance(sources, dict):
                    t(sources, "sources")
                r = st().rank_sources(
                    sources, t(FX.Xt.copy(), "X"), t(FX.yt.copy(), "y"), method=method
                )
                if list(r.score) != sorted(r.score, reverse=True):
                    raise Wrong("ranking not sorted by decreasing score")
                if not np.all(np.isfinite(r.score)):
                    raise Wrong(f"ranking holds non-finite scores {r.score}")
                return f"ranking of {len(r.source)}"

            add(
                "metrics",
                f"rank_sources({rlabel}, method={method!r})",
                fn,
                kind=kind,
                hints=hints,
                call=f"rank_sources({rlabel}, Xt, yt, method={method!r})",
            )
    add(
        "metrics",
        "rank_sources({'a': SAE}, method='bogus')",
        lambda t: st().rank_sources({"a": FX.sae}, FX.Xt, FX.yt, method="bogus"),
        hints=("method",),
        call="rank_sources({'a': SAE}, Xt, yt, method='bogus')",
    )
    add(
        "metrics",
        "rank_sources({'a': SAE}, method='logme', layer=99)",
        lambda t: st().rank_sources(
            {"a": FX.sae}, FX.Xt, FX.yt, method="logme", layer=99
        ),
        hints=("layer", "'a'"),
        call="rank_sources({'a': SAE}, Xt, yt, method='logme', layer=99)",
    )

    # make_transferability_scorer
    for label, kwargs, kind, hints in [
        ("method='bogus'", dict(method="bogus"), "bad", ("method",)),
        ("layer='bogus'", dict(layer="bogus"), "bad", ("layer",)),
        ("layer=0", dict(layer=0), "bad", ("layer",)),
        ("layer=-1", dict(layer=-1), "bad", ("layer",)),
        ("layer=1.5", dict(layer=1.5), "bad", ("layer",)),
        ("layer=True", dict(layer=True), "bad", ("layer",)),
        ("layer=[1]", dict(layer=[1]), "bad", ("layer",)),
        ("method=None", dict(method=None), "bad", ("method",)),
        (
            "method='knn', layer='transferred'",
            dict(method="knn", layer="transferred"),
            "valid",
            (),
        ),
        (
            "method='logme', layer=np.int64(1)",
            dict(method="logme", layer=np.int64(1)),
            "valid",
            (),
        ),
        ("method='logme', layer=99", dict(method="logme", layer=99), "any", ("layer",)),
    ]:

        def fn(t, kwargs=kwargs):
            scorer = st().make_transferability_scorer(**kwargs)
            return _check_score(
                kwargs.get("method", "leep"), scorer(FX.all_sae, FX.Xt, FX.yt)
            )

        add(
            "metrics",
            f"make_transferability_scorer({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"make_transferability_scorer({label})(AllT(SAE), Xt, yt)",
        )
    for label, est, kind, hints in [
        (
            "an unfitted AllTransferClassifier",
            lambda: st().AllTransferClassifier(FX.sae),
            "bad",
            ("fitted", "fit"),
        ),
        (
            "a fitted Pipeline(MinMaxScaler, AllT(SAE))",
            lambda: (
                __import__("sklearn.pipeline", fromlist=["x"])
                .make_pipeline(
                    __import__(
                        "sklearn.preprocessing", fromlist=["x"]
                    ).FunctionTransformer(),
                    st().AllTransferClassifier(FX.sae, **TKW),
                )
                .fit(FX.Xt, FX.yt)
            ),
            "valid",
            (),
        ),
        ("None", lambda: None, "bad", ("estimator", "None", "fitted")),
        (
            "a fitted LogisticRegression (no source)",
            lambda: FX.logreg,
            "any",
            ("LogisticRegression", "layer"),
        ),
    ]:

        def fn(t, est=est):
            return _check_score(
                "leep", st().make_transferability_scorer()(est(), FX.Xt, FX.yt)
            )

        add(
            "metrics",
            f"make_transferability_scorer()({label}, Xt, yt)",
            fn,
            kind=kind,
            hints=hints,
            call=f"make_transferability_scorer()({label}, Xt, yt)",
        )

    def grid(t, layer=99):
        from sklearn.model_selection import GridSearchCV

        search = GridSearchCV(
            st().AllTransferClassifier(FX.sae, max_iter=0, random_state=0),
            {"n_transferred_layers": ["all", 1]},
            scoring=st().make_transferability_scorer("logme", layer=layer),
            cv=2,
        ).fit(FX.Xt, FX.yt)
        if not np.all(np.isfinite(search.cv_results_["mean_test_score"])):
            raise Wrong(
                f"GridSearchCV scores {search.cv_results_['mean_test_score']} (best_params_ arbitrary)"
            )
        return f"best {search.best_params_}"

    add(
        "metrics",
        "GridSearchCV(scoring=make_transferability_scorer('logme', layer=99))",
        grid,
        kind="any",
        hints=("layer",),
        call="GridSearchCV(AllT(SAE, max_iter=0), {'n_transferred_layers': ['all', 1]}, scoring=make_transferability_scorer('logme', layer=99), cv=2).fit(Xt, yt)",
    )
    add(
        "metrics",
        "GridSearchCV(scoring=make_transferability_scorer('logme', layer='transferred'))",
        functools.partial(grid, layer="transferred"),
        kind="valid",
        call="GridSearchCV(..., scoring=make_transferability_scorer('logme', layer='transferred')).fit(Xt, yt)",
    )


# =============================================================================
# Area "persist": save_model / load_model, crafted and damaged files
# =============================================================================
def _skops_dump(model, path):
    import skops.io

    skops.io.dump(model, path)
    return path


def _tampered(base, mutate, name):
    """Prepare: the fitted fixture ``base``, mutated, dumped with
    ``skops.io.dump`` directly (no validation on the way)."""

    def prepare():
        model = FX.fresh(base)
        mutate(model)
        _skops_dump(model, S("files", name))

    return prepare


def _loaded_predicts(path_name, X=None, accept="bug"):
    """Load a crafted file and use the model. Accepted and then refused with
    a user-facing error: a bug; with another exception: a crash; accepted
    and working: ``accept`` (what accepting that file means)."""

    def fn(t):
        model = st().load_model(S("files", path_name))
        try:
            return _use_loaded(model, X)
        except Wrong:
            raise
        except Exception as exc:  # noqa: BLE001 - accepted, then failed
            if accept == "security" and "shadow" in path_name:
                cls = "security"  # a method replaced by the file's data
            else:
                cls = "bug" if _user_facing(exc) else "crash"
            raise Wrong(
                f"load_model accepted the crafted file, then using the model raised "
                f"{type(exc).__name__}: {short(exc, 200)}",
                cls=cls,
            ) from exc

    return fn


def _use_loaded(model, X):
    X2 = FX.X if X is None else X
    if hasattr(model, "predict_proba"):
        P = model.predict_proba(X2)
        check_proba(P, len(X2), len(model.classes_))
    else:
        check_transform(model.transform(X2), len(X2))
    if hasattr(model, "source_"):
        st().transferability(model, FX.Xt, FX.yt, method="knn")
    return f"loaded a {type(model).__name__} that predicts"


def _setitem(attr, index, new):
    def mutate(model):
        obj = model
        parts = attr.split(".")
        for p in parts[:-1]:
            obj = getattr(obj, p)
        seq = getattr(obj, parts[-1])
        if index is None:
            setattr(obj, parts[-1], new(seq))
        else:
            seq = list(seq)
            seq[index] = new(seq[index])
            setattr(obj, parts[-1], seq)

    return mutate


def cases_persist(quick):
    out = lambda name: S("out", name)  # noqa: E731

    def save(model, path, kind, hints, label, **kw):
        def fn(t):
            m = model()
            if hasattr(m, "get_params"):
                t(m, "model")
            p = path() if callable(path) else path
            directory = (
                os.path.dirname(os.path.abspath(os.fspath(p)))
                if isinstance(p, (str, os.PathLike))
                else None
            )
            before = (
                set(os.listdir(directory))
                if directory and os.path.isdir(directory)
                else None
            )
            try:
                st().save_model(m, p)
            finally:
                if before is not None and os.path.isdir(directory):
                    leftovers = [
                        n
                        for n in set(os.listdir(directory)) - before
                        if n.endswith(".tmp")
                    ]
                    if leftovers:
                        raise Wrong(
                            f"left temporary files {leftovers} in {shown(directory)}"
                        )
            loaded = st().load_model(p) if str(p).lower().endswith(".skops") else None
            if loaded is not None and hasattr(loaded, "predict_proba"):
                check_proba(
                    loaded.predict_proba(FX.Xt), len(FX.Xt), len(loaded.classes_)
                )
            return f"saved to {shown(p)}"

        add(
            "persist",
            f"save_model({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"save_model({label})",
            **kw,
        )

    save(
        lambda: FX.all_sae, lambda: out("m.skops"), "valid", (), "AllT(SAE), 'm.skops'"
    )
    save(
        lambda: FX.all_conv32,
        lambda: out("conv.skops"),
        "valid",
        (),
        "AllT(Conv32), 'conv.skops'",
    )
    save(
        lambda: FX.all_mpdbm,
        lambda: out("mpdbm.skops"),
        "valid",
        (),
        "AllT(MPDBM), 'mpdbm.skops'",
    )
    save(
        lambda: FX.trunc_sae,
        lambda: out("trunc.skops"),
        "valid",
        (),
        "Trunc(SAE), 'trunc.skops'",
    )
    save(
        lambda: FX.all_sae,
        lambda: out("UPPER.SKOPS"),
        "valid",
        (),
        "AllT(SAE), 'UPPER.SKOPS'",
    )
    save(
        lambda: FX.all_sae,
        lambda: __import__("pathlib").Path(out("path.skops")),
        "valid",
        (),
        "AllT(SAE), Path('path.skops')",
    )
    save(
        lambda: FX.all_sae,
        lambda: out("m.joblib"),
        "valid",
        (),
        "AllT(SAE), 'm.joblib'",
    )
    save(
        lambda: FX.all_sae,
        lambda: S("out", "no-such-dir", "m.skops"),
        "bad",
        ("no-such-dir",),
        "AllT(SAE), '<missing folder>/m.skops'",
    )
    save(
        lambda: FX.all_sae, lambda: S("out"), "bad", ("out",), "AllT(SAE), '<a folder>'"
    )
    save(
        lambda: FX.all_sae,
        lambda: out("m.txt"),
        "bad",
        ("m.txt", "suffix", ".skops"),
        "AllT(SAE), 'm.txt'",
    )
    save(
        lambda: FX.all_sae,
        lambda: out("model"),
        "bad",
        ("model", ".skops"),
        "AllT(SAE), 'model' (no suffix)",
    )
    save(
        lambda: FX.all_sae,
        lambda: out("a\0b.skops"),
        "bad",
        ("a\\x00b", "NUL", "null", "path"),
        "AllT(SAE), 'a\\0b.skops'",
    )
    save(
        lambda: FX.all_sae,
        lambda: out("x" * 300 + ".skops"),
        "bad",
        ("too long", "xxxxxxxx"),
        "AllT(SAE), '<300-character name>.skops'",
    )
    save(lambda: FX.all_sae, lambda: 5, "bad", ("path", "int"), "AllT(SAE), 5")
    save(lambda: FX.all_sae, lambda: None, "bad", ("path", "None"), "AllT(SAE), None")
    save(
        lambda: st().StackedAutoencoderClassifier(),
        lambda: out("unfitted.skops"),
        "any",
        ("fitted", "fit"),
        "an unfitted SAE, 'unfitted.skops'",
    )
    save(
        lambda: lambda x: x,
        lambda: out("lambda.skops"),
        "bad",
        ("function", "lambda", "type"),
        "a lambda, 'lambda.skops'",
    )
    save(
        lambda: {"a": FX.sae},
        lambda: out("dict.skops"),
        "any",
        ("dict",),
        "{'a': SAE}, 'dict.skops'",
    )
    save(
        lambda: (
            st()
            .AllTransferClassifier(
                st().StackedAutoencoderClassifier(**KW["SAE"]),
                source_data=FX.sd,
                source_memory=__import__("joblib").Memory(S("cache", "jm2"), verbose=0),
                **TKW,
            )
            .fit(FX.Xt, FX.yt)
        ),
        lambda: out("memory.skops"),
        "bad",
        ("Memory", "source_memory"),
        "AllT(source_memory=joblib.Memory(dir)) fitted, 'memory.skops'",
    )
    if os.name == "posix":

        def ro_dir():
            path = S("files", "ro-save")
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o555)
            return os.path.join(path, "m.skops")

        save(
            lambda: FX.all_sae,
            ro_dir,
            "bad",
            ("ro-save", "m.skops"),
            "AllT(SAE), '<read-only folder>/m.skops'",
            isolate=True,
            drop_dac=True,
        )

        def ro_file():
            path = S("files", "ro-file.skops")
            write_bytes(path, b"old")
            os.chmod(path, 0o444)
            return path

        save(
            lambda: FX.all_sae,
            ro_file,
            "any",
            ("ro-file.skops",),
            "AllT(SAE), '<existing read-only file>.skops'",
            isolate=True,
            drop_dac=True,
        )

    # load_model of files that are not models
    def load(label, make, kind, hints, load_kw=None, **kw):
        load_kw = load_kw or {}

        def fn(t):
            model = st().load_model(make(), **load_kw)
            return f"loaded {type(model).__name__}"

        add(
            "persist",
            f"load_model({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"load_model({label}{''.join(f', {k}={v!r}' for k, v in load_kw.items())})",
            **kw,
        )

    def truncated(name, src, frac):
        def make():
            data = open(FX.file(src), "rb").read()
            return write_bytes(S("files", name), data[: int(len(data) * frac)])

        return make

    def zip_without_schema():
        path = S("files", "noschema.skops")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("hello.txt", "hi")
        return path

    def schema_garbage():
        path = S("files", "garbage-schema.skops")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("schema.json", "{not json")
        return path

    def schema_empty_obj():
        path = S("files", "empty-schema.skops")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("schema.json", "{}")
        return path

    load(
        "a missing file", lambda: S("files", "missing.skops"), "bad", ("missing.skops",)
    )
    load("a folder", lambda: S("files"), "bad", ("files", "folder", "directory"))
    load(
        "an empty .skops file",
        lambda: write_bytes(S("files", "empty.skops"), b""),
        "bad",
        ("empty.skops",),
    )
    load(
        "a text file named .skops",
        lambda: write_bytes(S("files", "text.skops"), b"hello"),
        "bad",
        ("text.skops",),
    )
    load(
        "a zip without schema.json named .skops",
        zip_without_schema,
        "bad",
        ("noschema.skops",),
    )
    load(
        "a skops zip with a garbage schema.json",
        schema_garbage,
        "bad",
        ("garbage-schema.skops",),
    )
    load(
        "a skops zip with an empty schema",
        schema_empty_obj,
        "bad",
        ("empty-schema.skops",),
    )
    load(
        "a .skops truncated at 50%",
        truncated("trunc50.skops", "all_sae.skops", 0.5),
        "bad",
        ("trunc50.skops",),
    )
    load(
        "a .skops truncated at 99%",
        truncated("trunc99.skops", "all_sae.skops", 0.99),
        "bad",
        ("trunc99.skops",),
    )
    load("a .npz file", lambda: npz_file(), "bad", ("x.npz",))
    load("a .txt file", lambda: FX.file("text.txt"), "bad", ("text.txt",))
    load(
        "a legit .joblib without allow_pickle",
        lambda: FX.file("all_sae.joblib"),
        "bad",
        ("allow_pickle",),
    )
    load(
        "a legit .joblib with allow_pickle=True",
        lambda: FX.file("all_sae.joblib"),
        "valid",
        (),
        load_kw=dict(allow_pickle=True),
    )
    load(
        "a .skops saved from an unfitted model",
        lambda: FX.file("unfitted.skops"),
        "any",
        ("fitted", "fit", "unfitted.skops"),
    )
    load("a valid .skops", lambda: FX.file("all_sae.skops"), "valid", ())
    load(
        "a Path object",
        lambda: __import__("pathlib").Path(FX.file("all_sae.skops")),
        "valid",
        (),
    )
    load("None", lambda: None, "bad", ("path", "None"))
    load("5", lambda: 5, "bad", ("path", "int"))
    load(
        "allow_pickle='yes' on a .skops",
        lambda: FX.file("all_sae.skops"),
        "any",
        ("allow_pickle",),
        load_kw=dict(allow_pickle="yes"),
    )

    def npz_file():
        path = S("files", "x.npz")
        np.savez(path, X=FX.X)
        return path

    # pickles that must not run
    for name, fname, kwargs in [
        ("a pickle named .joblib", "evil.joblib", {}),
        ("a pickle named .pkl", "evil.pkl", {}),
        ("a pickle named .skops", "evil.skops", {}),
        (
            "a pickle named .skops, allow_pickle=True",
            "evil2.skops",
            {"allow_pickle": True},
        ),
        ("a pickle named model.txt", "evil.txt", {}),
        ("a pickle named .npz", "evil.npz", {}),
    ]:
        cid = f"persist/load_model({name})"

        def fn(t, fname=fname, kwargs=kwargs, cid=cid):
            path = write_evil_pickle(S("files", fname), marker_for(cid))
            model = st().load_model(path, **kwargs)
            return f"loaded {type(model).__name__}"

        add(
            "persist",
            f"load_model({name})",
            fn,
            kind="bad",
            accept_class="security",
            hints=("allow_pickle", fname, "skops"),
            call=f"load_model('{fname}'{', allow_pickle=True' if kwargs else ''})  [a pickle that runs os.mkdir]",
        )

    def skops_bomb():
        path = S("files", "bomb.skops")
        if not os.path.exists(path):
            inflating_copy(FX.file("sae.skops"), path)
        return path

    add(
        "persist",
        "load_model(a 2.3 MB .skops whose coefs_[0] inflates to 512 MB)",
        lambda t: f"loaded {type(st().load_model(skops_bomb())).__name__}",
        hints=("bomb.skops",),
        isolate=True,
        mem_mb=300,
        on_timeout="security",
        prepare=skops_bomb,
        call="load_model('bomb.skops')  [a valid SAE .skops whose largest .npy member is a deflated 512 MB array of zeros]",
    )

    def untrusted_skops(cid):
        def fn(t):
            model = FX.fresh("sae")
            model.callback_ = functools.partial(os.mkdir, marker_for(cid))
            path = _skops_dump(model, S("files", "untrusted.skops"))
            loaded = st().load_model(path)
            if hasattr(loaded, "callback_") and callable(loaded.callback_):
                loaded.callback_()
            return "loaded"

        return fn

    cid = "persist/load_model(a .skops holding functools.partial(os.mkdir, ...))"
    add(
        "persist",
        "load_model(a .skops holding functools.partial(os.mkdir, ...))",
        untrusted_skops(cid),
        accept_class="security",
        hints=("functools.partial", "partial", "trusted"),
        call="load_model(<skops.io.dump of SAE with an attribute functools.partial(os.mkdir, marker)>)",
    )

    # crafted .skops files: trusted types only, arrays that do not fit
    tampers = [
        # name, base fixture, mutate, accept class
        (
            "SAE intercepts_[0] of length 1",
            "sae",
            _setitem("intercepts_", 0, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "SAE coefs_[0] transposed",
            "sae",
            _setitem("coefs_", 0, lambda a: np.ascontiguousarray(a.T)),
            "security",
        ),
        (
            "SAE coefs_[1] with 1 row",
            "sae",
            _setitem("coefs_", 1, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "SAE coefs_[0] float16",
            "sae",
            _setitem("coefs_", 0, lambda a: a.astype(np.float16)),
            "bug",
        ),
        (
            "SAE coefs_[0] int64",
            "sae",
            _setitem("coefs_", 0, lambda a: (a * 100).astype(np.int64)),
            "bug",
        ),
        (
            "SAE coefs_[0] float32, the rest float64",
            "sae",
            _setitem("coefs_", 0, lambda a: a.astype(np.float32)),
            "bug",
        ),
        (
            "SAE coefs_[0] with a NaN",
            "sae",
            _setitem("coefs_", 0, lambda a: _set(a, np.nan)),
            "bug",
        ),
        (
            "SAE coefs_[0] Fortran order",
            "sae",
            _setitem("coefs_", 0, lambda a: np.asfortranarray(a)),
            "bug",
        ),
        ("SAE coefs_ = []", "sae", lambda m: setattr(m, "coefs_", []), "bug"),
        (
            "SAE coefs_ as nested lists",
            "sae",
            _setitem("coefs_", 0, lambda a: a.tolist()),
            "bug",
        ),
        (
            "SAE classes_ of 2 labels for 3 outputs",
            "sae",
            lambda m: setattr(m, "classes_", m.classes_[:2]),
            "bug",
        ),
        (
            "SAE classes_ 2-D",
            "sae",
            lambda m: setattr(m, "classes_", m.classes_[:, None]),
            "bug",
        ),
        (
            "SAE n_features_in_ = 10**9",
            "sae",
            lambda m: setattr(m, "n_features_in_", 10**9),
            "bug",
        ),
        ("SAE n_iter_ = -5", "sae", lambda m: setattr(m, "n_iter_", -5), "bug"),
        (
            "SAE loss_curve_ = 'abc'",
            "sae",
            lambda m: setattr(m, "loss_curve_", "abc"),
            "bug",
        ),
        (
            "SAE instance attribute fit = 'not a method' (shadows the method)",
            "sae",
            lambda m: setattr(m, "fit", "not a method"),
            "security",
        ),
        (
            "SAE instance attribute predict_proba = 1 (shadows the method)",
            "sae",
            lambda m: setattr(m, "predict_proba", 1),
            "security",
        ),
        (
            "SAE hidden_layer_sizes=(1000,) with (8,) weights",
            "sae",
            lambda m: setattr(m, "hidden_layer_sizes", (1000,)),
            "bug",
        ),
        ("SAE without intercepts_", "sae", lambda m: delattr(m, "intercepts_"), "bug"),
        (
            "MPDBM visible_intercept_ of length 1",
            "mpdbm",
            lambda m: setattr(m, "visible_intercept_", m.visible_intercept_[:1].copy()),
            "security",
        ),
        (
            "MPDBM intercepts_[1] of length 1",
            "mpdbm",
            _setitem("intercepts_", 1, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "MPDBM n_mean_field_iter=10**9",
            "mpdbm",
            lambda m: setattr(m, "n_mean_field_iter", 10**9),
            "any",
        ),
        (
            "Conv32 intercepts_[0] of length 1",
            "conv32",
            _setitem("intercepts_", 0, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "Conv32 coefs_[0] of 4 rows (kernel 2x2 for 3x3)",
            "conv32",
            _setitem("coefs_", 0, lambda a: a[:4].copy()),
            "security",
        ),
        (
            "Conv32 coefs_[1] of 1 row",
            "conv32",
            _setitem("coefs_", 1, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "Conv32 conv_layers=((2, 5),) with 3x3 weights",
            "conv32",
            lambda m: setattr(m, "conv_layers", ((2, 5),)),
            "security",
        ),
        (
            "Conv32 pooling=1 with pooled weights",
            "conv32",
            lambda m: setattr(m, "pooling", 1),
            "security",
        ),
        (
            "Conv32 image_shape=(4, 16)",
            "conv32",
            lambda m: setattr(m, "image_shape", (4, 16)),
            "bug",
        ),
        (
            "Conv32 image_shape=(16, 16)",
            "conv32",
            lambda m: setattr(m, "image_shape", (16, 16)),
            "bug",
        ),
        (
            "Conv32 coefs_[0] float64, rest float32",
            "conv32",
            _setitem("coefs_", 0, lambda a: a.astype(np.float64)),
            "bug",
        ),
        (
            "AllT(SAE) network_.intercepts[0] of length 1",
            "all_sae",
            _setitem("network_.intercepts", 0, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "AllT(SAE) network_.coefs[1] of 1 row",
            "all_sae",
            _setitem("network_.coefs", 1, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "AllT(SAE) network_ = a dict",
            "all_sae",
            lambda m: setattr(m, "network_", {"coefs": []}),
            "bug",
        ),
        (
            "AllT(SAE) network_.family = the conv family",
            "all_sae",
            lambda m: _set_family(m, "conv"),
            "security",
        ),
        (
            "AllT(SAE) network_.family = the mpdbm family",
            "all_sae",
            lambda m: _set_family(m, "mpdbm"),
            "security",
        ),
        (
            "AllT(SAE) classes_ of 5 labels",
            "all_sae",
            lambda m: setattr(m, "classes_", np.arange(5)),
            "bug",
        ),
        (
            "AllT(SAE) source_ with intercepts_[0] of length 1",
            "all_sae",
            _setitem("source_.intercepts_", 0, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "AllT(SAE) selected units out of range",
            "all_sae",
            lambda m: _set_units(m, 99),
            "security",
        ),
        (
            "AllT(SAE) relation_ of the wrong shape",
            "all_sae",
            lambda m: setattr(m, "relation_", np.zeros((7, 1))),
            "bug",
        ),
        (
            "AllT(Conv32) network_.intercepts[0] of length 1",
            "all_conv32",
            _setitem("network_.intercepts", 0, lambda a: a[:1].copy()),
            "security",
        ),
        (
            "AllT(Conv32) network_.config geometry (16, 16)",
            "all_conv32",
            lambda m: _set_geometry(m),
            "security",
        ),
        (
            "Feats(SAE) layer_ = 99",
            "feats_sae",
            lambda m: setattr(m, "layer_", 99),
            "bug",
        ),
        (
            "Direct(SAE) units_ out of range",
            "direct_sae",
            lambda m: _set_direct_units(m),
            "security",
        ),
    ]
    for name, base, mutate, accept in tampers:
        fname = "tampered-" + re.sub(r"\W+", "_", name) + ".skops"
        add(
            "persist",
            f"load_model(crafted: {name}) then predict",
            _loaded_predicts(fname, accept=accept),
            kind="any" if accept == "any" else "bad",
            accept_class="bug" if accept == "any" else accept,
            slow=accept != "security",
            hints=(),
            isolate=True,
            prepare=_tampered(base, mutate, fname),
            on_signal="security",
            timeout=60,
            call=f"skops.io.dump(<{name}>, f); load_model(f).predict_proba(X)",
        )


def _set_family(model, name):
    from skalltransfer._core._families import get_family

    model.network_.family = get_family(name)


def _set_units(model, value):
    plan = getattr(model, "_plan_", None)
    if plan is not None and getattr(plan, "units", None) is not None:
        plan.units = np.full_like(plan.units, value)
    for attr in ("units_", "selected_units_"):
        if hasattr(model, attr):
            setattr(model, attr, np.full_like(getattr(model, attr), value))


def _set_direct_units(model):
    for attr in list(vars(model)):
        value = getattr(model, attr)
        if (
            attr.endswith("_")
            and isinstance(value, np.ndarray)
            and value.dtype.kind in "iu"
            and attr != "classes_"
        ):
            setattr(model, attr, np.full_like(value, 10**6))


def _set_geometry(model):
    config = model.network_.config
    for key, value in list(config.items()):
        if isinstance(value, (tuple, list)) and len(value) and value[0] == (8, 8, 1):
            config[key] = ((16, 16, 1),) + tuple(value[1:])
        elif value == (8, 8, 1) or value == [8, 8, 1]:
            config[key] = (16, 16, 1)


# =============================================================================
# Area "datasets": the loaders and make_target_task
# =============================================================================
def _pil_save(path, mode, size=(8, 8), value=None, fmt=None, **kw):
    from PIL import Image

    rng = np.random.RandomState(0)
    h, w = size
    if mode in ("L", "P", "1"):
        arr = rng.randint(0, 256, (h, w)).astype(np.uint8)
        img = Image.fromarray(arr, "L").convert(mode)
    elif mode == "I;16":
        arr = rng.randint(0, 65536, (h, w)).astype(np.uint16)
        img = Image.fromarray(arr)
    elif mode == "I":
        arr = (rng.randint(0, 1000, (h, w)) + (value or 0)).astype(np.int32)
        img = Image.fromarray(arr, "I")
    elif mode == "F":
        arr = (rng.rand(h, w) * (value or 1.0)).astype(np.float32)
        img = Image.fromarray(arr, "F")
    else:
        channels = {"RGB": 3, "RGBA": 4, "LA": 2, "CMYK": 4}[mode]
        arr = rng.randint(0, 256, (h, w, channels)).astype(np.uint8)
        img = (
            Image.fromarray(arr[..., :3], "RGB").convert(mode)
            if mode == "CMYK"
            else Image.fromarray(arr, mode)
        )
    img.save(path, format=fmt, **kw)
    return path


def _folder(name, files, n_other=3):
    """A class folder layout: class 'a' holds ``files`` (name -> writer),
    class 'b' holds ``n_other`` plain 8 x 8 PNGs."""
    root = fresh_dir("data", name)
    os.makedirs(os.path.join(root, "a"))
    os.makedirs(os.path.join(root, "b"))
    for fname, writer in files.items():
        if isinstance(fname, bytes):
            writer(os.path.join(os.fsencode(root), b"a", fname))
        else:
            writer(os.path.join(root, "a", fname))
    for i in range(n_other):
        write_png(os.path.join(root, "b", f"{i}.png"), np.full((8, 8), 40 * i))
    return root


def _png(value=100, size=(8, 8)):
    return lambda path: write_png(path, np.full(size, value))


def _bytes(data):
    return lambda path: write_bytes(path, data)


def _truncated_png(path):
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(
        np.random.RandomState(0).randint(0, 256, (64, 64)).astype(np.uint8), "L"
    ).save(buf, "PNG")
    return write_bytes(path, buf.getvalue()[: len(buf.getvalue()) // 2])


def _symlink_to(target):
    def make(path):
        os.symlink(target, path)
        return path

    return make


def _fifo(path):
    os.mkfifo(path)
    return path


def _check_loaded(result, n=None, n_features=None):
    X = result[0] if isinstance(result, tuple) else result
    if not isinstance(X, np.ndarray) or X.ndim != 2:
        raise Wrong(f"X is {summarize(X)}")
    if X.dtype != np.float32:
        raise Wrong(f"X is {X.dtype}, not float32")
    if X.size and (not np.all(np.isfinite(X)) or X.min() < 0 or X.max() > 1):
        raise Wrong(
            f"X values outside [0, 1] or not finite: [{X.min()!r}, {X.max()!r}]"
        )
    if n is not None and X.shape[0] != n:
        raise Wrong(f"{X.shape[0]} images loaded, expected {n}")
    if n_features is not None and X.shape[1] != n_features:
        raise Wrong(f"{X.shape[1]} pixels per image, expected {n_features}")
    if (
        isinstance(result, tuple)
        and len(result) > 1
        and hasattr(result[1], "__len__")
        and len(result[1]) != X.shape[0]
    ):
        raise Wrong(f"{len(result[1])} labels/paths for {X.shape[0]} images")
    return f"X {X.shape}"


def cases_datasets(quick):
    D = "datasets"

    def folder_case(label, files, kind, hints, n=None, size=(8, 8), extra=None, **kw):
        def fn(t):
            root = _folder(re.sub(r"\W+", "_", label)[:60], files)
            args = dict(size=size)
            args.update(extra or {})
            result = (
                st().datasets.load_image_folder(root, **args)
                if hasattr(st(), "datasets")
                else None
            )
            return _check_loaded(
                result, n=n, n_features=None if size is None else size[0] * size[1]
            )

        add(
            D,
            f"load_image_folder(class 'a' holds {label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"load_image_folder(root, size={size!r}) where root/a holds {label}",
            **kw,
        )

    import skalltransfer.datasets  # noqa: F401  (st().datasets)

    folder_case(
        "a 16-bit PNG", {"x.png": lambda p: _pil_save(p, "I;16")}, "valid", (), n=4
    )
    folder_case(
        "an RGBA PNG", {"x.png": lambda p: _pil_save(p, "RGBA")}, "valid", (), n=4
    )
    folder_case(
        "an RGB JPEG", {"x.jpg": lambda p: _pil_save(p, "RGB")}, "valid", (), n=4
    )
    folder_case(
        "a CMYK JPEG", {"x.jpg": lambda p: _pil_save(p, "CMYK")}, "valid", (), n=4
    )
    folder_case(
        "a palette PNG", {"x.png": lambda p: _pil_save(p, "P")}, "valid", (), n=4
    )
    folder_case("a 1-bit PNG", {"x.png": lambda p: _pil_save(p, "1")}, "valid", (), n=4)
    folder_case("an LA PNG", {"x.png": lambda p: _pil_save(p, "LA")}, "valid", (), n=4)
    folder_case(
        "a 16-bit TIFF", {"x.tif": lambda p: _pil_save(p, "I;16")}, "valid", (), n=4
    )
    folder_case(
        "a float TIFF in [0, 1]",
        {"x.tif": lambda p: _pil_save(p, "F")},
        "any",
        ("x.tif", "float"),
        n=4,
    )
    folder_case(
        "a float TIFF in [0, 1000]",
        {"x.tif": lambda p: _pil_save(p, "F", value=1000.0)},
        "any",
        ("x.tif", "float", "range"),
        n=4,
    )
    folder_case(
        "a 32-bit int TIFF above 65535",
        {"x.tif": lambda p: _pil_save(p, "I", value=70000)},
        "bad",
        ("x.tif",),
    )
    folder_case(
        "a BMP", {"x.bmp": lambda p: _pil_save(p, "RGB", fmt="BMP")}, "valid", (), n=4
    )
    folder_case("a PNG named .jpg", {"x.jpg": _png()}, "valid", (), n=4)
    folder_case(
        "a 2-frame TIFF",
        {"x.tif": lambda p: _multi_tiff(p)},
        "any",
        ("x.tif", "frame"),
        n=4,
    )
    folder_case("a 1x1 image", {"x.png": _png(size=(1, 1))}, "valid", (), n=4)
    folder_case("a 3000x1 image", {"x.png": _png(size=(1, 3000))}, "valid", (), n=4)
    folder_case(
        "a corrupt PNG (random bytes)",
        {"x.png": _bytes(np.random.RandomState(0).bytes(200))},
        "bad",
        ("x.png",),
    )
    folder_case("a zero-byte PNG", {"x.png": _bytes(b"")}, "bad", ("x.png",))
    folder_case(
        "a text file named .png", {"x.png": _bytes(b"hello world\n")}, "bad", ("x.png",)
    )
    folder_case("a truncated PNG", {"x.png": _truncated_png}, "bad", ("x.png",))
    folder_case(
        "a PNG header declaring 12000x12000 with little data",
        {"x.png": lambda p: write_raw_png(p, 12000, 12000, rows=10)},
        "bad",
        ("x.png",),
        isolate=True,
        mem_mb=200,
    )
    folder_case(
        "a decompression-bomb PNG 12000x12000 (~150 KB)",
        {"bomb.png": lambda p: write_raw_png(p, 12000, 12000)},
        "bad",
        ("bomb.png",),
        isolate=True,
        mem_mb=300,
        on_timeout="security",
    )
    folder_case(
        "a decompression-bomb PNG 30000x30000 1-bit",
        {"bomb.png": lambda p: write_raw_png(p, 30000, 30000, bit_depth=1)},
        "bad",
        ("bomb.png",),
        isolate=True,
        mem_mb=300,
        on_timeout="security",
    )
    folder_case(
        "a symlink to /etc/passwd named .png",
        {"x.png": _symlink_to("/etc/passwd")},
        "bad",
        ("x.png",),
    )
    folder_case(
        "ok.png and a dangling symlink named x.png",
        {"ok.png": _png(), "x.png": _symlink_to("/nonexistent/file")},
        "any",
        ("x.png",),
        n=4,
    )
    folder_case(
        "ok.png and a folder named x.png",
        {"ok.png": _png(), "x.png": lambda p: os.makedirs(p)},
        "any",
        ("x.png",),
        n=4,
    )
    folder_case(
        "ok.png and a FIFO named x.png",
        {"ok.png": _png(), "x.png": _fifo},
        "any",
        ("x.png",),
        n=4,
        isolate=True,
        timeout=15,
        on_timeout="security",
    )
    folder_case(
        "a hidden .x.png", {".x.png": _png(), "y.png": _png()}, "valid", (), n=4
    )
    folder_case("only a hidden file", {".x.png": _png()}, "bad", ("'a'", "/a", "a'"))
    folder_case(
        "a file name with a newline", {"new\nline.png": _png()}, "valid", (), n=4
    )
    folder_case("a file name with a tab", {"tab\t.png": _png()}, "valid", (), n=4)
    folder_case("a unicode file name", {"ünï 猫.png": _png()}, "valid", (), n=4)
    folder_case("a file name starting with '-'", {"-rf.png": _png()}, "valid", (), n=4)
    folder_case(
        "a 250-character file name", {"x" * 246 + ".png": _png()}, "valid", (), n=4
    )
    folder_case("a non-UTF-8 file name", {b"\xff\xfe.png": _png()}, "valid", (), n=4)
    folder_case("UPPER.PNG", {"UPPER.PNG": _png()}, "valid", (), n=4)
    folder_case(
        "a .gif (not a default extension)",
        {"x.gif": lambda p: _pil_save(p, "P", fmt="GIF"), "y.png": _png()},
        "valid",
        (),
        n=4,
    )
    folder_case(
        "images of different sizes, size=None",
        {"x.png": _png(size=(8, 8)), "y.png": _png(size=(9, 9))},
        "bad",
        ("size",),
        size=None,
    )
    for label, size, hints in [
        ("(0, 0)", (0, 0), ("size",)),
        ("(-1, 5)", (-1, 5), ("size",)),
        ("(8.5, 8)", (8.5, 8), ("size",)),
        ("'28'", "28", ("size",)),
        ("(28,)", (28,), ("size",)),
        ("(8, 8, 1)", (8, 8, 1), ("size",)),
        ("(True, 8)", (True, 8), ("size",)),
        ("8 (an int)", 8, ("size",)),
    ]:
        folder_case(
            f"plain PNGs, size={label}", {"x.png": _png()}, "bad", hints, size=size
        )
    folder_case(
        "plain PNGs, size=(100000, 100000)",
        {"x.png": _png()},
        "bad",
        ("size",),
        size=(100000, 100000),
        isolate=True,
    )
    folder_case(
        "plain PNGs, size=(1, 1)", {"x.png": _png()}, "valid", (), size=(1, 1), n=4
    )
    folder_case(
        "plain PNGs, size=[8, 8]", {"x.png": _png()}, "valid", (), size=[8, 8], n=4
    )
    folder_case(
        "plain PNGs, size=np.array([8, 8])",
        {"x.png": _png()},
        "valid",
        (),
        size=np.array([8, 8]),
        n=4,
    )
    for label, ext, kind, hints in [
        ("''", "", "bad", ("extensions",)),
        ("[]", [], "bad", ("extensions",)),
        ("'png' (no dot)", "png", "valid", ()),
        ("('.PNG',)", (".PNG",), "valid", ()),
        ("None", None, "bad", ("extensions",)),
        ("5", 5, "bad", ("extensions",)),
        ("('.txt',) (no image)", (".txt",), "bad", (".txt",)),
    ]:
        folder_case(
            f"plain PNGs, extensions={label}",
            {"x.png": _png()},
            kind,
            hints,
            extra=dict(extensions=ext),
            n=4,
        )

    def layout_case(
        label, build, kind, hints, n=None, fn_name="load_image_folder", **kw
    ):
        def fn(t):
            root = build()
            result = getattr(st().datasets, fn_name)(root, size=(8, 8))
            return _check_loaded(result, n=n)

        add(
            D,
            f"{fn_name}({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"{fn_name}(<{label}>, size=(8, 8))",
            **kw,
        )

    def layout(name, classes):
        def build():
            root = fresh_dir("data", name)
            for cls, n in classes.items():
                os.makedirs(os.path.join(root, cls))
                for i in range(n):
                    write_png(
                        os.path.join(root, cls, f"{i}.png"), np.full((8, 8), 20 * i)
                    )
            return root

        return build

    layout_case("a missing folder", lambda: S("data", "missing"), "bad", ("missing",))
    layout_case("a file", lambda: FX.file("text.txt"), "bad", ("text.txt",))
    layout_case("an empty folder", layout("empty", {}), "bad", ("empty",))
    layout_case(
        "a single class folder",
        layout("single", {"only": 3}),
        "any",
        ("only", "class"),
        n=3,
    )
    layout_case(
        "an empty class folder",
        layout("emptyclass", {"a": 3, "b": 0}),
        "bad",
        ("'b'", "/b", " b "),
    )
    layout_case(
        "images directly in the root",
        lambda: FX.file("images"),
        "bad",
        ("images", "sub-folder", "subfolder", "class"),
    )
    layout_case(
        "50 classes of one image",
        layout("many", {f"c{i:02d}": 1 for i in range(50)}),
        "valid",
        (),
        n=50,
    )
    layout_case(
        "class names with newline and unicode",
        layout("oddclass", {"new\nline": 2, "猫": 2}),
        "valid",
        (),
        n=4,
    )
    layout_case(
        "a hidden class folder",
        layout("hiddenclass", {".git": 2, "a": 2, "b": 2}),
        "valid",
        (),
        n=4,
    )

    def loop():
        root = layout("loop", {"a": 2, "b": 2})()
        os.symlink(".", os.path.join(root, "a", "loop.png"))
        os.symlink(root, os.path.join(root, "c"))
        return root

    layout_case("a symlink loop", loop, "any", ("loop", "c"))
    layout_case("None", lambda: None, "bad", ("path", "None"))
    layout_case("5", lambda: 5, "bad", ("path", "int"))
    layout_case(
        "bytes path",
        lambda: os.fsencode(FX.file("target")),
        "any",
        ("bytes", "path"),
        n=12,
    )

    # load_images
    def images_case(label, make, kind, hints, n=None, **kw):
        def fn(t):
            arg = make()
            if isinstance(arg, list):
                t(arg, "paths")
            result = st().datasets.load_images(arg, size=(8, 8))
            if not (isinstance(result, tuple) and len(result) == 2):
                raise Wrong(f"load_images returned {summarize(result)}")
            return _check_loaded(result, n=n)

        add(
            D,
            f"load_images({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"load_images(<{label}>, size=(8, 8))",
            **kw,
        )

    imgs = lambda: FX.file("images")  # noqa: E731
    images_case("a folder of 4 PNGs", imgs, "valid", (), n=4)
    images_case(
        "a list of 4 paths",
        lambda: sorted(os.path.join(imgs(), f) for f in os.listdir(imgs())),
        "valid",
        (),
        n=4,
    )
    images_case(
        "one file path", lambda: os.path.join(imgs(), "img0.png"), "valid", (), n=1
    )
    images_case("an empty list", lambda: [], "bad", ("empty", "no image", "paths"))
    images_case("an empty folder", lambda: FX.file("empty_dir"), "bad", ("empty_dir",))
    images_case(
        "a list with a missing file",
        lambda: [os.path.join(imgs(), "img0.png"), S("nope.png")],
        "bad",
        ("nope.png",),
    )
    images_case(
        "a list holding a folder",
        lambda: [imgs()],
        "bad",
        ("images", "folder", "directory"),
    )
    images_case(
        "a glob pattern", lambda: os.path.join(imgs(), "*.png"), "bad", ("*.png",)
    )
    images_case("a text file path", lambda: FX.file("text.txt"), "bad", ("text.txt",))
    images_case("None", lambda: None, "bad", ("None", "path"))
    images_case("5", lambda: 5, "bad", ("int", "path"))
    images_case(
        "a tuple of paths",
        lambda: tuple(sorted(os.path.join(imgs(), f) for f in os.listdir(imgs()))),
        "valid",
        (),
        n=4,
    )
    images_case(
        "a list of Path objects",
        lambda: [__import__("pathlib").Path(imgs(), "img0.png")],
        "valid",
        (),
        n=1,
    )
    images_case(
        "the same path twice",
        lambda: [os.path.join(imgs(), "img0.png")] * 2,
        "valid",
        (),
        n=2,
    )

    # load_idx
    def idx_case(label, make, kind, hints, n=None, **kw):
        def fn(t):
            args = make()
            result = st().datasets.load_idx(*args)
            return _check_loaded(result, n=n)

        add(
            D,
            f"load_idx({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"load_idx(<{label}>)",
            **kw,
        )

    def f(name, data, gz=False):
        path = S("files", name)
        if gz:
            with gzip.open(path, "wb") as fh:
                fh.write(data)
        else:
            write_bytes(path, data)
        return path

    imgs10 = idx_bytes((10, 4, 4), bytes(range(160)))
    labels10 = idx_bytes((10,), bytes(range(10)))
    idx_case(
        "10 images + 10 labels",
        lambda: (f("i.idx", imgs10), f("l.idx", labels10)),
        "valid",
        (),
        n=10,
    )
    idx_case(
        "gzip images + labels",
        lambda: (f("i.idx.gz", imgs10, True), f("l.idx.gz", labels10, True)),
        "valid",
        (),
        n=10,
    )
    idx_case("images only", lambda: (f("i.idx", imgs10),), "valid", (), n=10)
    idx_case("a missing file", lambda: (S("files", "none.idx"),), "bad", ("none.idx",))
    idx_case("a folder", lambda: (S("files"),), "bad", ("files", "folder", "directory"))
    idx_case("an empty file", lambda: (f("empty.idx", b""),), "bad", ("empty.idx",))
    idx_case(
        "a wrong magic number",
        lambda: (f("magic.idx", b"\x12\x34\x08\x03" + imgs10[4:]),),
        "bad",
        ("magic.idx",),
    )
    idx_case(
        "a truncated body",
        lambda: (f("trunc.idx", imgs10[:-5]),),
        "bad",
        ("trunc.idx",),
    )
    idx_case(
        "trailing bytes",
        lambda: (f("trail.idx", imgs10 + b"xx"),),
        "bad",
        ("trail.idx",),
    )
    idx_case(
        "a truncated header", lambda: (f("head.idx", imgs10[:6]),), "bad", ("head.idx",)
    )
    idx_case(
        "9 labels for 10 images",
        lambda: (f("i.idx", imgs10), f("l9.idx", idx_bytes((9,), bytes(9)))),
        "bad",
        ("l9.idx", "9", "10"),
    )
    idx_case(
        "an images file as the labels",
        lambda: (f("i.idx", imgs10), f("i2.idx", imgs10)),
        "bad",
        ("i2.idx",),
    )
    idx_case("labels as the images", lambda: (f("l.idx", labels10),), "bad", ("l.idx",))
    idx_case(
        "float32 images (type 0x0D)",
        lambda: (
            f(
                "float.idx",
                idx_bytes((2, 2, 2), np.full(8, 0.5, ">f4").tobytes(), 0x0D),
            ),
        ),
        "any",
        ("float.idx",),
    )
    idx_case(
        "int32 labels (type 0x0C)",
        lambda: (
            f("i.idx", imgs10),
            f("l32.idx", idx_bytes((10,), np.arange(10, dtype=">i4").tobytes(), 0x0C)),
        ),
        "any",
        ("l32.idx",),
    )
    idx_case(
        "0 dimensions",
        lambda: (f("dim0.idx", b"\x00\x00\x08\x00"),),
        "bad",
        ("dim0.idx",),
    )
    idx_case(
        "255 dimensions",
        lambda: (f("dim255.idx", b"\x00\x00\x08\xff" + b"\x00\x00\x00\x01" * 255),),
        "bad",
        ("dim255.idx",),
    )
    idx_case(
        "an unknown type code 0x42",
        lambda: (f("type.idx", idx_bytes((2, 2, 2), bytes(8), 0x42)),),
        "bad",
        ("type.idx",),
    )
    idx_case(
        "0 images",
        lambda: (f("zero.idx", idx_bytes((0, 4, 4), b"")),),
        "any",
        ("zero.idx", "no image", "0 image"),
    )
    idx_case(
        "2**31 images of 28x28 declared, 10 bytes given",
        lambda: (f("huge.idx", idx_bytes((2**31, 28, 28), bytes(10))),),
        "bad",
        ("huge.idx",),
        isolate=True,
        mem_mb=200,
    )
    idx_case(
        "dimensions multiplying past 2**64",
        lambda: (
            f("overflow.idx", idx_bytes((2**32 - 1, 2**32 - 1, 2**32 - 1), bytes(10))),
        ),
        "bad",
        ("overflow.idx",),
        isolate=True,
        mem_mb=200,
    )
    idx_case(
        "gzip with garbage after the header",
        lambda: (f("garbage.gz", b"\x1f\x8b\x08\x00" + bytes(50)),),
        "bad",
        ("garbage.gz",),
    )
    idx_case(
        "a truncated gzip",
        lambda: (
            write_bytes(S("files", "truncgz.idx.gz"), gzip.compress(imgs10)[:-20]),
        ),
        "bad",
        ("truncgz.idx.gz",),
    )

    def gzip_bomb():
        path = S("files", "bomb-idx.gz")
        if not os.path.exists(path):
            comp = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
            zeros = bytes(1 << 20)
            with open(path, "wb") as fh:
                fh.write(comp.compress(idx_bytes((10, 4, 4), bytes(160))))
                for _ in range(1024):  # 1 GB of trailing zeros, ~1 MB on disk
                    fh.write(comp.compress(zeros))
                fh.write(comp.flush())
        return path

    idx_case(
        "a 1 MB gzip declaring 10 images of 4x4 holding 1 GB",
        lambda: (gzip_bomb(),),
        "bad",
        ("bomb-idx.gz",),
        isolate=True,
        mem_mb=300,
        slow=True,
        timeout=120,
        on_timeout="security",
        prepare=gzip_bomb,
    )
    idx_case("None", lambda: (None,), "bad", ("None", "path", "images_file"))

    # load_mnist / load_fashion_mnist (paths)
    def mnist_case(label, call, kind, hints, **kw):
        add(
            D,
            label,
            lambda t: _check_loaded(call()),
            kind=kind,
            hints=hints,
            call=label,
            **kw,
        )

    d = st().datasets
    mnist_case(
        "load_mnist(path=<missing folder>)",
        lambda: d.load_mnist(S("files", "no-mnist")),
        "bad",
        ("no-mnist",),
    )
    mnist_case(
        "load_mnist(path=<empty folder>)",
        lambda: d.load_mnist(FX.file("empty_dir")),
        "bad",
        ("empty_dir", "train-images"),
    )
    mnist_case(
        "load_mnist(path=<a file>)",
        lambda: d.load_mnist(FX.file("text.txt")),
        "bad",
        ("text.txt",),
    )
    mnist_case(
        "load_mnist(split='bogus')",
        lambda: d.load_mnist(split="bogus"),
        "bad",
        ("split",),
    )
    mnist_case(
        "load_mnist(path=<empty folder>, split='bogus')",
        lambda: d.load_mnist(FX.file("empty_dir"), split="bogus"),
        "bad",
        ("split",),
    )
    mnist_case(
        "load_mnist(return_X_y='yes')",
        lambda: d.load_mnist(return_X_y="yes"),
        "any",
        ("return_X_y",),
    )
    mnist_case(
        "load_mnist(split='test') bundled",
        lambda: d.load_mnist(split="test"),
        "any",
        ("split", "test"),
    )
    mnist_case(
        "load_fashion_mnist(path=<missing folder>)",
        lambda: d.load_fashion_mnist(S("files", "no-fashion")),
        "bad",
        ("no-fashion",),
    )
    mnist_case(
        "load_fashion_mnist_subset(split='bogus')",
        lambda: d.load_fashion_mnist_subset(split="bogus"),
        "bad",
        ("split",),
    )
    mnist_case("load_mnist(path=5)", lambda: d.load_mnist(5), "bad", ("path", "int"))

    # load_medmnist
    def med(name, **arrays):
        def make():
            path = S("files", name)
            np.savez(path, **arrays)
            return path

        return make

    rng = np.random.RandomState(0)
    ti = rng.randint(0, 256, (6, 8, 8)).astype(np.uint8)
    tl = np.array([[0], [1], [0], [1], [0], [1]])

    def med_case(label, make, kind, hints, split="train", size=None, n=None, **kw):
        def fn(t):
            result = st().datasets.load_medmnist(make(), split=split, size=size)
            return _check_loaded(result, n=n)

        add(
            D,
            f"load_medmnist({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"load_medmnist(<{label}>, split={split!r}, size={size!r})",
            **kw,
        )

    med_case(
        "a valid file",
        med("m-ok.npz", train_images=ti, train_labels=tl),
        "valid",
        (),
        n=6,
    )
    med_case(
        "RGB images",
        med(
            "m-rgb.npz",
            train_images=rng.randint(0, 256, (6, 8, 8, 3)).astype(np.uint8),
            train_labels=tl,
        ),
        "valid",
        (),
        n=6,
    )
    med_case(
        "1-D labels",
        med("m-1d.npz", train_images=ti, train_labels=tl.ravel()),
        "valid",
        (),
        n=6,
    )
    med_case(
        "a valid file, size=(4, 4)",
        med("m-ok2.npz", train_images=ti, train_labels=tl),
        "valid",
        (),
        size=(4, 4),
        n=6,
    )
    med_case(
        "a missing file", lambda: S("files", "m-missing.npz"), "bad", ("m-missing.npz",)
    )
    med_case("a folder", lambda: S("files"), "bad", ("files", "folder", "directory"))
    med_case(
        "a text file",
        lambda: write_bytes(S("files", "m-text.npz"), b"hello"),
        "bad",
        ("m-text.npz",),
    )
    med_case("no train_images", med("m-nokey.npz", images=ti), "bad", ("train_images",))
    med_case(
        "object labels",
        med(
            "m-obj.npz",
            train_images=ti,
            train_labels=np.array([[0], [1], [0], [1], [0], ["x"]], dtype=object),
        ),
        "bad",
        ("object", "train_labels"),
    )
    med_case(
        "float images in [0, 1]",
        med("m-float.npz", train_images=ti / 255.0, train_labels=tl),
        "any",
        ("float", "uint8", "train_images"),
    )
    med_case(
        "uint16 images",
        med("m-u16.npz", train_images=ti.astype(np.uint16) * 257, train_labels=tl),
        "any",
        ("uint16", "train_images"),
    )
    med_case(
        "3-D volumes (n, 4, 8, 8)",
        med(
            "m-3d.npz",
            train_images=rng.randint(0, 256, (6, 4, 8, 8)).astype(np.uint8),
            train_labels=tl,
        ),
        "bad",
        ("train_images", "shape", "3-D", "3D"),
    )
    med_case(
        "5 labels for 6 images",
        med("m-len.npz", train_images=ti, train_labels=tl[:5]),
        "bad",
        ("5", "6"),
    )
    med_case(
        "negative labels",
        med("m-neg.npz", train_images=ti, train_labels=tl - 5),
        "any",
        ("label",),
    )
    med_case(
        "multi-label (n, 3) labels",
        med("m-multi.npz", train_images=ti, train_labels=np.zeros((6, 3), int)),
        "any",
        ("label", "multi"),
    )
    med_case(
        "empty arrays",
        med("m-empty.npz", train_images=ti[:0], train_labels=tl[:0]),
        "any",
        ("empty", "0 ", "no image"),
    )
    med_case(
        "split='bogus'",
        med("m-ok3.npz", train_images=ti, train_labels=tl),
        "bad",
        ("split",),
        split="bogus",
    )
    med_case(
        "split=None",
        med("m-ok4.npz", train_images=ti, train_labels=tl),
        "bad",
        ("split",),
        split=None,
    )
    med_case(
        "split='val' missing",
        med("m-ok5.npz", train_images=ti, train_labels=tl),
        "bad",
        ("val",),
        split="val",
    )
    med_case(
        "size=(0, 0)",
        med("m-ok6.npz", train_images=ti, train_labels=tl),
        "bad",
        ("size",),
        size=(0, 0),
    )
    med_case(
        "size=(8.5, 8)",
        med("m-ok7.npz", train_images=ti, train_labels=tl),
        "bad",
        ("size",),
        size=(8.5, 8),
    )

    cid = "datasets/load_medmnist(object labels holding a pickle)"

    def evil_med():
        path = S("files", "m-evil.npz")
        arr = np.empty((6, 1), dtype=object)
        arr[:] = 0
        arr[0, 0] = Evil(marker_for(cid))
        np.savez(path, train_images=ti, train_labels=arr)
        return path

    med_case(
        "object labels holding a pickle",
        evil_med,
        "bad",
        ("object",),
        accept_class="security",
    )

    def huge_npy_header():
        """A .npz whose train_images member declares 10**12 x 28 x 28 bytes."""
        path = S("files", "m-huge.npz")
        header = "{'descr': '|u1', 'fortran_order': False, 'shape': (1000000000000, 28, 28), }"
        header = header + " " * (63 - len(header) % 64) + "\n"
        npy = (
            b"\x93NUMPY\x01\x00"
            + struct.pack("<H", len(header))
            + header.encode()
            + bytes(100)
        )
        buf = io.BytesIO()
        np.save(buf, tl)
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("train_images.npy", npy)
            z.writestr("train_labels.npy", buf.getvalue())
        return path

    med_case(
        "a member declaring 10**12 images",
        huge_npy_header,
        "bad",
        ("m-huge.npz", "train_images"),
        isolate=True,
    )

    # make_target_task
    def mtt(label, args, kind, hints, **kw):
        def fn(t):
            X = t(FX.X.copy(), "X")
            y = t(FX.y.copy(), "y")
            a = dict(args)
            if "X" in a:
                X = a.pop("X")(X)
            if "y" in a:
                y = a.pop("y")(y)
            if isinstance(a.get("classes"), (list, np.ndarray)):
                t(a["classes"], "classes")
            Xt, yt = st().datasets.make_target_task(X, y, **a)
            if len(Xt) != len(yt):
                raise Wrong(f"{len(Xt)} samples for {len(yt)} labels")
            n_classes = len(a.get("classes", []))
            n_per = a.get("n_per_class")
            if isinstance(n_per, (int, np.integer)) and len(Xt) != n_classes * n_per:
                raise Wrong(f"{len(Xt)} samples, expected {n_classes} x {n_per}")
            return f"target task {np.shape(Xt)}"

        add(
            D,
            f"make_target_task({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"make_target_task(X, y, {label})",
            **kw,
        )

    mtt(
        "classes=[0, 1], n_per_class=5",
        dict(classes=[0, 1], n_per_class=5),
        "valid",
        (),
    )
    mtt(
        "classes=np.array([2, 0]), n_per_class=np.int64(3)",
        dict(classes=np.array([2, 0]), n_per_class=np.int64(3)),
        "valid",
        (),
    )
    mtt(
        "classes=[], n_per_class=5",
        dict(classes=[], n_per_class=5),
        "bad",
        ("classes",),
    )
    mtt(
        "classes=[0, 0], n_per_class=5",
        dict(classes=[0, 0], n_per_class=5),
        "bad",
        ("classes", "duplicate"),
    )
    mtt(
        "classes=[0, 7], n_per_class=5",
        dict(classes=[0, 7], n_per_class=5),
        "bad",
        ("7",),
    )
    mtt(
        "classes=[0, 1], n_per_class=0",
        dict(classes=[0, 1], n_per_class=0),
        "bad",
        ("n_per_class",),
    )
    mtt(
        "classes=[0, 1], n_per_class=-1",
        dict(classes=[0, 1], n_per_class=-1),
        "bad",
        ("n_per_class",),
    )
    mtt(
        "classes=[0, 1], n_per_class=1.5",
        dict(classes=[0, 1], n_per_class=1.5),
        "bad",
        ("n_per_class",),
    )
    mtt(
        "classes=[0, 1], n_per_class='5'",
        dict(classes=[0, 1], n_per_class="5"),
        "bad",
        ("n_per_class",),
    )
    mtt(
        "classes=[0, 1], n_per_class=21 (20 available)",
        dict(classes=[0, 1], n_per_class=21),
        "bad",
        ("21", "20"),
    )
    mtt(
        "classes=[0, 1], n_per_class=True",
        dict(classes=[0, 1], n_per_class=True),
        "any",
        ("n_per_class",),
    )
    mtt(
        "classes='01', n_per_class=5",
        dict(classes="01", n_per_class=5),
        "bad",
        ("classes",),
    )
    mtt("classes=5, n_per_class=5", dict(classes=5, n_per_class=5), "bad", ("classes",))
    mtt(
        "classes=[0, 1], n_per_class=5, random_state='x'",
        dict(classes=[0, 1], n_per_class=5, random_state="x"),
        "bad",
        ("random_state", "'x'"),
    )
    mtt(
        "classes=[0, 1], n_per_class=5, relabel='yes'",
        dict(classes=[0, 1], n_per_class=5, relabel="yes"),
        "any",
        ("relabel",),
    )
    mtt(
        "y 2-D",
        dict(classes=[0, 1], n_per_class=5, y=lambda y: np.c_[y, y]),
        "bad",
        ("y", "shape", "1d"),
    )
    mtt(
        "y shorter than X",
        dict(classes=[0, 1], n_per_class=5, y=lambda y: y[:-1]),
        "bad",
        ("60", "59"),
    )
    mtt(
        "y with NaN, classes=[0.0, 1.0]",
        dict(classes=[0.0, 1.0], n_per_class=5, y=lambda y: _with(np.nan, float)(y)),
        "any",
        ("nan",),
    )
    mtt(
        "string labels, classes=['b', 'a']",
        dict(
            classes=["b", "a"], n_per_class=5, y=lambda y: np.array(["a", "b", "c"])[y]
        ),
        "valid",
        (),
    )
    mtt(
        "X 3-D images",
        dict(classes=[0, 1], n_per_class=5, X=lambda X: X.reshape(60, 8, 8)),
        "valid",
        (),
    )
    mtt(
        "X a list",
        dict(classes=[0, 1], n_per_class=5, X=lambda X: X.tolist()),
        "valid",
        (),
    )


def _multi_tiff(path):
    from PIL import Image

    frames = [Image.fromarray(np.full((8, 8), v, np.uint8)) for v in (10, 200)]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    return path


# =============================================================================
# Area "cli": the skalltransfer command with bad arguments
# =============================================================================
def cases_cli(quick):
    T = lambda: FX.file("target")  # noqa: E731
    SRC = lambda: FX.file("sae.skops")  # noqa: E731
    MODEL = lambda: FX.file("all_sae.skops")  # noqa: E731
    IMGS = lambda: FX.file("images")  # noqa: E731

    def cli(label, argv, kind="bad", hints=(), check=None, guard=True, **kw):
        """``argv``: a list whose callables are evaluated when the case runs."""

        def fn(t):
            args = [a() if callable(a) else a for a in argv]
            holder[0].call = "skalltransfer " + " ".join(_quote(shown(a)) for a in args)
            ctx = no_long_runs() if guard else contextlib.nullcontext()
            with ctx:
                r = run_cli(args)
            if r.code == 0 and check is not None:
                check(r)
            return r

        holder = [None]
        text = " ".join(a if isinstance(a, str) else "<path>" for a in argv)
        holder[0] = add(
            "cli",
            label,
            fn,
            kind=kind,
            hints=hints,
            cli=True,
            call=f"skalltransfer {text}",
            **kw,
        )

    def out(name):
        return lambda: S("out", name)

    def model_ok(name):
        def check(r):
            path = S("out", name)
            model = st().load_model(path)
            check_proba(model.predict_proba(FX.Xt), len(FX.Xt), len(model.classes_))

        return check

    # generic
    cli("(no arguments)", [], hints=("command", "required", "demo"))
    cli("bogus-command", ["bogus-command"], hints=("bogus-command", "invalid choice"))
    cli("demo --bogus", ["demo", "--bogus"], hints=("--bogus",))
    cli("demo extra", ["demo", "extra"], hints=("extra",))

    # fit: arguments
    def base(*extra):
        return [
            "fit",
            "--target-dir",
            T,
            "--source",
            SRC,
            "--max-iter",
            "1",
            "--cv",
            "0",
            *extra,
        ]  # noqa: E731

    cli(
        "fit (valid, tiny source .skops)",
        base("--out", out("fit-ok.skops")),
        kind="valid",
        check=model_ok("fit-ok.skops"),
    )
    cli(
        "fit --cv 2 (valid)",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            SRC,
            "--max-iter",
            "1",
            "--cv",
            "2",
            "--out",
            out("fit-cv.skops"),
        ],
        kind="valid",
    )
    cli(
        "fit --out .joblib (valid)",
        base("--out", out("fit-ok-joblib.joblib")),
        kind="valid",
    )
    cli(
        "fit without --target-dir",
        ["fit", "--out", out("x.skops")],
        hints=("--target-dir",),
    )
    cli("fit without --out", ["fit", "--target-dir", T], hints=("--out",))
    cli(
        "fit --target-dir <missing>",
        ["fit", "--target-dir", S("nope"), "--source", SRC, "--out", out("x.skops")],
        hints=("nope",),
    )
    cli(
        "fit --target-dir <a file>",
        [
            "fit",
            "--target-dir",
            lambda: FX.file("text.txt"),
            "--source",
            SRC,
            "--out",
            out("x.skops"),
        ],
        hints=("text.txt",),
    )
    cli(
        "fit --target-dir <empty folder>",
        [
            "fit",
            "--target-dir",
            lambda: FX.file("empty_dir"),
            "--source",
            SRC,
            "--out",
            out("x.skops"),
        ],
        hints=("empty_dir",),
    )

    def single_class():
        root = fresh_dir("data", "cli-single")
        os.makedirs(os.path.join(root, "only"))
        for i in range(3):
            write_png(os.path.join(root, "only", f"{i}.png"), np.full((8, 8), 30 * i))
        return root

    def corrupt_target():
        root = fresh_dir("data", "cli-corrupt")
        for cls in ("a", "b"):
            os.makedirs(os.path.join(root, cls))
            write_png(os.path.join(root, cls, "ok.png"), np.full((8, 8), 50))
        write_bytes(os.path.join(root, "a", "bad.png"), b"garbage")
        return root

    def one_per_class():
        root = fresh_dir("data", "cli-onepc")
        for cls in ("a", "b"):
            os.makedirs(os.path.join(root, cls))
            write_png(os.path.join(root, cls, "0.png"), np.full((8, 8), 50))
        return root

    cli(
        "fit --target-dir <a single class folder>",
        ["fit", "--target-dir", single_class, "--source", SRC, "--out", out("x.skops")],
        hints=("only", "single", "class"),
    )
    cli(
        "fit --target-dir <with a corrupt image>",
        [
            "fit",
            "--target-dir",
            corrupt_target,
            "--source",
            SRC,
            "--out",
            out("x.skops"),
        ],
        hints=("bad.png",),
    )
    cli(
        "fit --target-dir <one image per class> --cv 2",
        [
            "fit",
            "--target-dir",
            one_per_class,
            "--source",
            SRC,
            "--cv",
            "2",
            "--max-iter",
            "1",
            "--out",
            out("x1.skops"),
        ],
        kind="any",
        hints=("--cv", "fold", "class"),
    )
    cli(
        "fit --out <missing folder>/m.skops",
        base("--out", lambda: S("out", "missing", "m.skops")),
        hints=("missing",),
    )
    cli("fit --out <a folder>", base("--out", lambda: S("out")), hints=("--out",))
    cli("fit --out m.txt", base("--out", out("m.txt")), hints=("m.txt", "--out"))
    cli("fit --out ''", base("--out", ""), hints=("--out",))

    def copy_of_source():
        path = S("files", "own-source.skops")
        shutil.copyfile(FX.file("sae.skops"), path)
        return path

    cli(
        "fit --source X.skops --out X.skops (would overwrite its source)",
        [
            *base()[:4],
            copy_of_source,
            *base()[5:],
            "--out",
            lambda: S("files", "own-source.skops"),
        ],
        hints=("--out", "--source", "overwrite"),
    )

    def beside_a_folder():
        os.makedirs(S("out", "plotdir_relation.png"), exist_ok=True)
        return S("out", "plotdir.skops")

    cli(
        "fit --out M.skops (M_relation.png is a folder)",
        base("--out", beside_a_folder),
        hints=("plotdir_relation.png", "folder"),
    )

    def report_of_another_model():
        for name in ("twin.joblib", "twin_report.json"):
            with open(S("out", name), "w") as f:
                f.write('{"model": "twin.joblib"}' if name.endswith("json") else "")
        return S("out", "twin.skops")

    cli(
        "fit --out M.skops (M_report.json is M.joblib's)",
        base("--out", report_of_another_model),
        hints=("twin.joblib", "report", "--out"),
    )
    if os.name == "posix":

        def ro_out():
            path = S("files", "ro-cli")
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o555)
            return os.path.join(path, "m.skops")

        cli(
            "fit --out <read-only folder>/m.skops",
            base("--out", ro_out),
            hints=("ro-cli", "--out"),
            isolate=True,
            drop_dac=True,
        )
    for opt, vals in [
        ("--max-iter", ["0", "-1", "abc", "1.5", "1e9"]),
        ("--cv", ["1", "-1", "abc", "100"]),
        ("--random-state", ["abc", "-1", "4294967296", "1.5"]),
        ("--n-transferred-layers", ["99", "-1", "abc", "1.5", "ALL"]),
    ]:
        for v in vals:
            kind = "bad"
            if opt == "--max-iter" and v == "0":
                kind = "any"
            if opt == "--cv" and v == "100":
                kind = "any"
            if opt == "--max-iter" and v == "1e9":
                kind = "bad"
            argv = [
                "fit",
                "--target-dir",
                T,
                "--source",
                SRC,
                "--cv",
                "0",
                "--out",
                out("x.skops"),
                opt,
                v,
            ]
            if opt != "--max-iter":
                argv[5:5] = ["--max-iter", "1"]
            cli(f"fit {opt} {v}", argv, kind=kind, hints=(opt, v))
    for size, kind in [
        ("0 0", "bad"),
        ("8", "bad"),
        ("a b", "bad"),
        ("-8 -8", "bad"),
        ("4 16", "valid"),
        ("9 9", "bad"),
        ("100000 100000", "bad"),
    ]:
        extra = (
            {"isolate": True, "mem_mb": 300, "on_timeout": "security"}
            if size.startswith("100000")
            else {}
        )
        cli(
            f"fit --size {size}",
            [
                "fit",
                "--target-dir",
                T,
                "--source",
                SRC,
                "--max-iter",
                "1",
                "--cv",
                "0",
                "--out",
                out("s.skops"),
                "--size",
                *size.split(),
            ],
            kind=kind,
            hints=("--size", size.split()[0]),
            **extra,
        )
    cli(
        "fit --source <missing>.skops",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            S("none.skops"),
            "--out",
            out("x.skops"),
        ],
        hints=("none.skops",),
    )
    cli(
        "fit --source <a folder>",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            lambda: S("files"),
            "--out",
            out("x.skops"),
        ],
        hints=("--source", "files"),
    )
    cli(
        "fit --source <text>.skops",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            lambda: write_bytes(S("files", "cli-text.skops"), b"hi"),
            "--out",
            out("x.skops"),
        ],
        hints=("cli-text.skops",),
    )
    cli(
        "fit --source <unfitted>.skops",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            lambda: FX.file("unfitted.skops"),
            "--out",
            out("x.skops"),
        ],
        hints=("unfitted", "fit"),
    )
    cli(
        "fit --source <non-square 63-input source>",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            lambda: FX.file("sae63.skops"),
            "--out",
            out("x.skops"),
        ],
        hints=("--size", "square"),
    )
    cli(
        "fit --source <non-square source> --size 7 9",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            lambda: FX.file("sae63.skops"),
            "--max-iter",
            "1",
            "--cv",
            "0",
            "--size",
            "7",
            "9",
            "--out",
            out("x79.skops"),
        ],
        kind="valid",
    )
    cli(
        "fit --source <SourceFeatures>.skops",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            lambda: FX.file("feats_sae.skops"),
            "--out",
            out("x.skops"),
        ],
        kind="any",
        hints=("SourceFeatures", "predict", "--source"),
    )
    cli(
        "fit --source <transfer model>.skops",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            MODEL,
            "--max-iter",
            "1",
            "--cv",
            "0",
            "--out",
            out("x-t.skops"),
        ],
        kind="any",
        hints=("--source",),
    )
    cli(
        "fit --source mnist --quick --source-model bogus",
        [
            "fit",
            "--target-dir",
            T,
            "--source-model",
            "bogus",
            "--quick",
            "--out",
            out("x.skops"),
        ],
        hints=("bogus", "--source-model"),
    )
    cli(
        "fit --x-key X --source <.skops> (ignored option)",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            SRC,
            "--x-key",
            "Z",
            "--max-iter",
            "1",
            "--cv",
            "0",
            "--out",
            out("xk.skops"),
        ],
        kind="any",
        hints=("--x-key",),
    )
    cli(
        "fit --cache-dir <a file> (mnist source)",
        [
            "fit",
            "--target-dir",
            T,
            "--quick",
            "--cache-dir",
            lambda: FX.file("text.txt"),
            "--out",
            out("x.skops"),
        ],
        hints=("text.txt", "--cache-dir"),
    )
    cli(
        "fit --cache-dir '' (mnist source)",
        [
            "fit",
            "--target-dir",
            T,
            "--quick",
            "--cache-dir",
            "",
            "--out",
            out("x.skops"),
        ],
        hints=("--cache-dir",),
    )

    # fit --source x.npz
    def npz_src(name, **arrays):
        def make():
            path = S("files", name)
            np.savez(path, **arrays)
            return path

        make.__name__ = name
        return make

    rng = np.random.RandomState(0)
    Xs = rng.rand(30, 64).astype(np.float32)
    ys = np.tile([0, 1, 2], 10)

    def npz_argv(src, *extra):
        return [
            "fit",
            "--target-dir",
            T,
            "--source",
            src,
            "--quick",
            "--max-iter",
            "1",
            "--cv",
            "0",  # noqa: E731
            "--cache-dir",
            lambda: S("cache", "cli-npz"),
            "--out",
            out("npz.skops"),
            *extra,
        ]

    cli(
        "fit --source x.npz (valid)",
        npz_argv(npz_src("src-ok.npz", X=Xs, y=ys)),
        kind="valid",
        guard=False,
    )
    cli(
        "fit --source x.npz without X",
        npz_argv(npz_src("src-nox.npz", images=Xs, y=ys)),
        hints=("--x-key", "X"),
    )
    cli(
        "fit --source x.npz --x-key images",
        npz_argv(npz_src("src-img.npz", images=Xs, y=ys), "--x-key", "images"),
        kind="valid",
        guard=False,
    )
    cli(
        "fit --source x.npz with uint8 0..255",
        npz_argv(npz_src("src-255.npz", X=(Xs * 255).astype(np.uint8), y=ys)),
        hints=("--scale",),
    )
    cli(
        "fit --source x.npz with 0..255 --scale 255",
        npz_argv(
            npz_src("src-255b.npz", X=(Xs * 255).astype(np.uint8), y=ys),
            "--scale",
            "255",
        ),
        kind="valid",
        guard=False,
    )
    cli(
        "fit --source x.npz with negative values",
        npz_argv(npz_src("src-neg.npz", X=Xs - 1, y=ys)),
        hints=("negative",),
    )
    cli(
        "fit --source x.npz with strings",
        npz_argv(npz_src("src-str.npz", X=np.full((30, 64), "a"), y=ys)),
        hints=("src-str.npz", "'X'"),
    )
    cli(
        "fit --source x.npz with NaN",
        npz_argv(npz_src("src-nan.npz", X=_set(Xs, np.nan), y=ys)),
        hints=("nan",),
    )
    cli(
        "fit --source x.npz with one class",
        npz_argv(npz_src("src-1c.npz", X=Xs, y=np.zeros(30, int))),
        hints=("class",),
        guard=False,
    )
    cli(
        "fit --source x.npz with 30 images, 29 labels",
        npz_argv(npz_src("src-len.npz", X=Xs, y=ys[:-1])),
        hints=("30", "29"),
    )
    cli(
        "fit --source x.npz with 3-D images",
        npz_argv(npz_src("src-3d.npz", X=Xs.reshape(30, 8, 8), y=ys)),
        kind="any",
        hints=("--source", "dim"),
    )
    for sc in ("0", "-1", "nan", "inf", "abc"):
        cli(
            f"fit --source x.npz --scale {sc}",
            npz_argv(npz_src("src-ok2.npz", X=Xs, y=ys), "--scale", sc),
            hints=("--scale", sc),
        )
    cid = "cli/fit --source <object-array npz with a pickle>"

    def evil_npz_src():
        path = S("files", "src-evil.npz")
        arr = np.empty(1, dtype=object)
        arr[0] = Evil(marker_for(cid))
        np.savez(path, X=arr, y=np.zeros(1))
        return path

    cli(
        "fit --source <object-array npz with a pickle>",
        npz_argv(evil_npz_src),
        hints=("object", "pickle"),
        accept_class="security",
    )

    # pickles on the command line
    for label, argv_fn, fname in [
        (
            "predict <pickle>.pkl <images>",
            lambda p: ["predict", p, IMGS],
            "cli-evil.pkl",
        ),
        (
            "predict <pickle>.joblib <images>",
            lambda p: ["predict", p, IMGS],
            "cli-evil.joblib",
        ),
        (
            "predict <pickle>.skops <images>",
            lambda p: ["predict", p, IMGS],
            "cli-evil.skops",
        ),
        (
            "fit --source <pickle>.joblib",
            lambda p: [
                "fit",
                "--target-dir",
                T,
                "--source",
                p,
                "--out",
                out("x.skops"),
            ],
            "cli-evil2.joblib",
        ),
        (
            "rank --source <pickle>.pkl",
            lambda p: ["rank", "--target-dir", T, "--source", p, "--source-model"],
            "cli-evil3.pkl",
        ),
        (
            "predict <pickle>.model <images>",
            lambda p: ["predict", p, IMGS],
            "cli-evil.model",
        ),
    ]:
        cid = f"cli/{label}"

        def make_path(fname=fname, cid=cid):
            return write_evil_pickle(S("files", fname), marker_for(cid))

        cli(
            label,
            argv_fn(make_path),
            hints=("--allow-pickle", "pickle", fname),
            accept_class="security",
        )
    cli(
        "predict <legit .joblib> --allow-pickle",
        ["predict", lambda: FX.file("all_sae.joblib"), IMGS, "--allow-pickle"],
        kind="valid",
    )
    cli(
        "predict <legit .joblib> (no flag)",
        ["predict", lambda: FX.file("all_sae.joblib"), IMGS],
        hints=("--allow-pickle",),
    )

    # predict
    def rows_ok(n_images):
        def check(r):
            lines = [ln for ln in r.out.splitlines() if ln.strip()]
            if len(lines) != n_images + 1:
                raise Wrong(
                    f"the table has {len(lines)} lines for {n_images} images (+ header): paths not escaped"
                )

        return check

    cli("predict (valid)", ["predict", MODEL, IMGS], kind="valid", check=rows_ok(4))

    # A report beside the model that ``fit`` did not write: its recorded bit
    # depth is not used, and the images load with the defaults (after a note).
    for depth in (99, "12", True, 12.5, -1, [12]):

        def model_with_report(depth=depth):
            model = S("files", f"report-{short(repr(depth), 20)}.skops")
            shutil.copyfile(FX.file("all_sae.skops"), model)
            info = {"size": [8, 8], "channels": 1, "intensity": "x",
                    "bit_depth": depth, "inverted": False}  # fmt: skip
            options = {"intensity": "auto", "invert": "auto", "color": "gray"}
            with open(model[: -len(".skops")] + "_report.json", "w") as f:
                json.dump({"images": {"options": options, "info": info}}, f)
            return model

        def noted(r):
            if "cannot read how the training images were loaded" not in r.err:
                raise Wrong(f"a crafted bit depth was used without a note: {r.err}")

        cli(
            f"predict <model whose report says bit_depth={depth!r}>",
            ["predict", model_with_report, IMGS],
            kind="valid",
            check=noted,
        )
    # A report whose values are of the wrong kind, or of another model.
    crafted_reports = {
        "intensity=['auto']": lambda r: r["images"]["options"].update(
            intensity=["auto"]
        ),
        "invert={'a': 1}": lambda r: r["images"]["options"].update(invert={"a": 1}),
        "inverted='false'": lambda r: r["images"]["info"].update(inverted="false"),
        "size=[8]": lambda r: r["images"]["info"].update(size=[8]),
        "model='M.joblib'": lambda r: r.update(model="x.joblib"),
        "nested 100,000 deep": None,
    }
    for name, damage in crafted_reports.items():

        def model_with_crafted_report(name=name, damage=damage):
            model = S("files", f"crafted-{short(name, 20)}.skops")
            shutil.copyfile(FX.file("all_sae.skops"), model)
            info = {"size": [8, 8], "channels": 1, "intensity": "x",
                    "bit_depth": 8, "inverted": False}  # fmt: skip
            options = {"intensity": "auto", "invert": "auto", "color": "gray"}
            report = {"model": "m.skops", "images": {"options": options, "info": info}}
            with open(model[: -len(".skops")] + "_report.json", "w") as f:
                if damage is None:
                    f.write("[" * 100_000 + "]" * 100_000)
                else:
                    damage(report)
                    json.dump(report, f)
            return model

        def noted(r):
            if "cannot read how the training images were loaded" not in r.err:
                raise Wrong(f"a crafted report was used without a note: {r.err}")

        cli(
            f"predict <model whose report says {name}>",
            ["predict", model_with_crafted_report, IMGS],
            kind="valid",
            check=noted,
        )
    cli(
        "predict --csv ''",
        ["predict", MODEL, IMGS, "--csv", ""],
        hints=("--csv", "file"),
    )
    cli(
        "predict --csv <a folder>",
        ["predict", MODEL, IMGS, "--csv", lambda: S("out")],
        hints=("--csv", "file"),
    )
    cli(
        "predict --size 16 4 (a conv model of 8x8 images)",
        ["predict", lambda: FX.file("all_conv32.skops"), IMGS, "--size", "16", "4"],
        hints=("--size", "8x8"),
    )
    cli(
        "predict --proba --csv (valid)",
        ["predict", MODEL, IMGS, "--proba", "--csv", out("p.csv")],
        kind="valid",
        check=rows_ok(4),
    )
    cli(
        "predict <conv32 model> (float32)",
        ["predict", lambda: FX.file("all_conv32.skops"), IMGS],
        kind="valid",
        check=rows_ok(4),
    )
    cli(
        "predict <missing model>",
        ["predict", S("none.skops"), IMGS],
        hints=("none.skops",),
    )
    cli(
        "predict <a folder as model>",
        ["predict", lambda: S("files"), IMGS],
        hints=("files", "model"),
    )
    cli(
        "predict <text>.skops",
        ["predict", lambda: write_bytes(S("files", "p-text.skops"), b"hi"), IMGS],
        hints=("p-text.skops",),
    )
    cli(
        "predict <unfitted>.skops",
        ["predict", lambda: FX.file("unfitted.skops"), IMGS],
        hints=("unfitted", "fit"),
    )
    cli(
        "predict <SourceFeatures>.skops",
        ["predict", lambda: FX.file("feats_sae.skops"), IMGS],
        hints=("SourceFeatures", "predict"),
    )
    cli(
        "predict <model> <missing images>",
        ["predict", MODEL, S("no-images")],
        hints=("no-images",),
    )
    cli(
        "predict <model> <empty folder>",
        ["predict", MODEL, lambda: FX.file("empty_dir")],
        hints=("empty_dir",),
    )
    cli(
        "predict <model> <corrupt image>",
        ["predict", MODEL, lambda: write_bytes(S("files", "corrupt.png"), b"xx")],
        hints=("corrupt.png",),
    )
    cli(
        "predict <model> <text file>",
        ["predict", MODEL, lambda: FX.file("text.txt")],
        hints=("text.txt",),
    )
    cli(
        "predict --size 4 16 (64 pixels)",
        ["predict", MODEL, IMGS, "--size", "4", "16"],
        kind="valid",
    )
    cli(
        "predict --size 9 9 (81 pixels)",
        ["predict", MODEL, IMGS, "--size", "9", "9"],
        hints=("--size",),
    )
    cli(
        "predict --size 0 0",
        ["predict", MODEL, IMGS, "--size", "0", "0"],
        hints=("--size",),
    )
    cli(
        "predict --csv <missing folder>/p.csv",
        ["predict", MODEL, IMGS, "--csv", lambda: S("out", "nodir", "p.csv")],
        hints=("nodir", "--csv"),
    )
    cli(
        "predict --csv <a folder>",
        ["predict", MODEL, IMGS, "--csv", lambda: S("out")],
        hints=("--csv",),
    )
    cli(
        "predict <non-square model> without --size",
        ["predict", lambda: FX.file("sae63.skops"), IMGS],
        hints=("--size",),
    )

    def odd_names():
        root = fresh_dir("data", "odd-names")
        for name in (
            "new\nline.png",
            "tab\there.png",
            "esc\x1b[31m.png",
            "back\\slash.png",
        ):
            write_png(os.path.join(root, name), np.full((8, 8), 90))
        return root

    cli(
        "predict <images with newline/tab/escape in names>",
        ["predict", MODEL, odd_names],
        kind="valid",
        check=rows_ok(4),
    )

    # rank
    rank = lambda *extra: ["rank", "--target-dir", T, *extra]  # noqa: E731
    cli(
        "rank --source <sae .skops> --source-model (valid)",
        rank("--source", SRC, "--source-model"),
        kind="valid",
    )
    cli(
        "rank --source <sae .skops> --method logme --source-model (valid)",
        rank("--source", SRC, "--method", "logme", "--source-model"),
        kind="valid",
    )
    cli(
        "rank --source-model (nothing to rank)",
        rank("--source-model"),
        hints=("--source", "nothing"),
    )
    cli(
        "rank --method bogus",
        rank("--source", SRC, "--method", "bogus"),
        hints=("bogus", "--method"),
    )
    cli(
        "rank --source <missing>",
        rank("--source", S("none.skops"), "--source-model"),
        hints=("none.skops",),
    )
    cli(
        "rank --source <non-square 63-input source>",
        rank("--source", lambda: FX.file("sae63.skops"), "--source-model"),
        hints=("square",),
    )
    cli(
        "rank --target-dir <missing>",
        ["rank", "--target-dir", S("nope"), "--source", SRC, "--source-model"],
        hints=("nope",),
    )
    cli(
        "rank --target-dir <single class>",
        ["rank", "--target-dir", single_class, "--source", SRC, "--source-model"],
        hints=("class",),
    )
    cli(
        "rank --source <unfitted>.skops",
        rank("--source", lambda: FX.file("unfitted.skops"), "--source-model"),
        hints=("unfitted", "fit"),
    )
    cli(
        "rank --source <transfer model>.skops",
        rank("--source", MODEL, "--source-model"),
        kind="any",
        hints=("--source",),
    )
    cli(
        "rank --random-state abc",
        rank("--source", SRC, "--source-model", "--random-state", "abc"),
        hints=("--random-state", "abc"),
    )
    cli("rank --source-model bogus", rank("--source-model", "bogus"), hints=("bogus",))
    cli(
        "rank (default sources; training replaced by a sentinel)",
        rank("--quick"),
        kind="valid",
    )

    # reproduce: argument errors only (the experiment is replaced by a sentinel)
    rep = lambda *extra: ["reproduce", "--out", out("rep"), *extra]  # noqa: E731
    for label, extra, hints in [
        ("--tasks 1,99", ("--tasks", "1,99"), ("99",)),
        ("--tasks 1", ("--tasks", "1"), ("--tasks", "1")),
        ("--tasks a,b", ("--tasks", "a,b"), ("a,b", "--tasks")),
        ("--tasks 1,1", ("--tasks", "1,1"), ("1,1", "--tasks", "duplicate")),
        ("--tasks -1,2", ("--tasks", "-1,2"), ("-1", "--tasks")),
        ("--n-per-class 0", ("--n-per-class", "0"), ("--n-per-class", "0")),
        ("--n-per-class -1", ("--n-per-class", "-1"), ("--n-per-class", "-1")),
        (
            "--n-per-class 100000",
            ("--n-per-class", "100000"),
            ("--n-per-class", "100000"),
        ),
        ("--n-per-class 1.5", ("--n-per-class", "1.5"), ("--n-per-class", "1.5")),
        ("--draws 1", ("--draws", "1"), ("--draws", "3")),
        ("--draws 2", ("--draws", "2"), ("--draws", "3")),
        ("--draws 0", ("--draws", "0"), ("--draws",)),
        ("--draws -1", ("--draws", "-1"), ("--draws",)),
        ("--profile bogus", ("--profile", "bogus"), ("bogus",)),
        ("--target bogus", ("--target", "bogus"), ("bogus",)),
        ("--random-state abc", ("--random-state", "abc"), ("abc", "--random-state")),
        ("--random-state -1", ("--random-state", "-1"), ("-1", "--random-state")),
        (
            "--random-state 4294967295",
            ("--random-state", "4294967295"),
            ("--random-state",),
        ),
    ]:
        cli(f"reproduce {label}", rep(*extra), hints=hints)
    cli(
        "reproduce --out <an existing file>",
        ["reproduce", "--out", lambda: FX.file("text.txt")],
        hints=("--out", "text.txt"),
    )
    cli(
        "reproduce --cache-dir <a file>",
        rep("--cache-dir", lambda: FX.file("text.txt")),
        kind="any",
        hints=("--cache-dir", "text.txt"),
    )
    cli(
        "reproduce --profile quick (valid; the experiment replaced by a sentinel)",
        rep("--profile", "quick"),
        kind="valid",
    )
    cli(
        "reproduce --tasks 0,1 2,3 --n-per-class 5 --draws 3 (valid; sentinel)",
        rep("--tasks", "0,1", "2,3", "--n-per-class", "5", "--draws", "3"),
        kind="valid",
    )

    # Options added since issue 27: evaluate, groups, select, intensity,
    # invert, color.
    CLI_MODEL = lambda: FX.file("cli_model.skops")  # noqa: E731
    GT = lambda: FX.file("target_groups")  # noqa: E731

    def fitg(*extra):
        return [
            "fit",
            "--target-dir",
            GT,
            "--source",
            SRC,
            "--max-iter",
            "1",
            "--cv",
            "2",
            "--out",
            out("g.skops"),
            *extra,
        ]  # noqa: E731

    def csv_file(name, text):
        def make():
            return write_bytes(
                S("files", name), text.encode() if isinstance(text, str) else text
            )

        return make

    good_groups = "".join(
        f"{cls}/patient{p}_{cls}_scan{m}.png,p{p}\n"
        for cls in ("cat", "dog")
        for p in range(3)
        for m in range(2)
    )
    cli(
        "fit --groups <valid CSV>",
        fitg("--groups", csv_file("groups.csv", "file,group\n" + good_groups)),
        kind="valid",
    )
    cli(
        "fit --groups <missing file>",
        fitg("--groups", lambda: S("files", "no-groups.csv")),
        hints=("no-groups.csv", "--groups"),
    )
    cli(
        "fit --groups <a folder>",
        fitg("--groups", lambda: S("files")),
        hints=("--groups", "files"),
    )
    cli(
        "fit --groups <empty file>",
        fitg("--groups", csv_file("g-empty.csv", "")),
        hints=("--groups", "g-empty.csv"),
    )
    cli(
        "fit --groups <one column>",
        fitg("--groups", csv_file("g-1col.csv", "a.png\nb.png\n")),
        hints=("--groups", "g-1col.csv", "column"),
    )
    cli(
        "fit --groups <unknown file names>",
        fitg("--groups", csv_file("g-unknown.csv", "x.png,1\ny.png,2\n")),
        hints=("--groups", "g-unknown.csv"),
    )
    cli(
        "fit --groups <binary garbage>",
        fitg("--groups", csv_file("g-bin.csv", bytes(range(256)) * 4)),
        hints=("--groups", "g-bin.csv"),
    )
    cli(
        "fit --groups <one group for every image>",
        fitg(
            "--groups",
            csv_file(
                "g-one.csv",
                "".join(
                    f"{cls}/patient{p}_{cls}_scan{m}.png,same\n"
                    for cls in ("cat", "dog")
                    for p in range(3)
                    for m in range(2)
                ),
            ),
        ),
        kind="any",
        hints=("group", "--groups", "--cv"),
    )
    cli(
        "fit --groups <a file listed twice with two groups>",
        fitg(
            "--groups",
            csv_file("g-dup.csv", good_groups + "cat/patient0_cat_scan0.png,other\n"),
        ),
        kind="any",
        hints=("--groups", "twice", "patient0_cat_scan0"),
    )
    cli(
        "fit --groups <CSV path with ../>",
        fitg(
            "--groups", csv_file("g-dotdot.csv", "../../etc/passwd,1\n" + good_groups)
        ),
        kind="any",
        hints=("--groups", "passwd"),
    )
    cli(
        "fit --group-pattern '^(patient\\d+)_' (valid)",
        fitg("--group-pattern", r"^(patient\d+)_"),
        kind="valid",
    )
    cli(
        "fit --group-pattern '(' (invalid regex)",
        fitg("--group-pattern", "("),
        hints=("--group-pattern", "("),
    )
    cli(
        "fit --group-pattern 'nomatch'",
        fitg("--group-pattern", "nomatch"),
        hints=("--group-pattern", "nomatch"),
    )
    cli(
        "fit --group-pattern '' (empty)",
        fitg("--group-pattern", ""),
        kind="any",
        hints=("--group-pattern",),
    )
    cli(
        "fit --groups and --group-pattern",
        fitg("--groups", csv_file("groups2.csv", good_groups), "--group-pattern", "x"),
        hints=("--group-pattern", "--groups", "not allowed"),
    )
    cli("fit --select bogus", fitg("--select", "bogus"), hints=("bogus", "--select"))
    cli("fit --select best (valid)", fitg("--select", "best"), kind="valid")
    cli(
        "fit --select best --cv 0",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            SRC,
            "--max-iter",
            "1",
            "--cv",
            "0",
            "--select",
            "best",
            "--out",
            out("sb.skops"),
        ],
        kind="any",
        hints=("--select", "--cv"),
    )
    for mode, kind in [
        ("bogus", "bad"),
        ("bits:0", "bad"),
        ("bits:99", "bad"),
        ("bits:abc", "bad"),
        ("bits:", "bad"),
        ("bits:8", "valid"),
        ("minmax", "valid"),
        ("per-image", "valid"),
        ("dtype", "valid"),
        ("BITS:8", "any"),
        ("range:0:1", "valid"),
        ("range:-1:2.5", "valid"),
        ("range:5:5", "bad"),
        ("range:2:1", "bad"),
        ("range:nan:1", "bad"),
        ("range:0:inf", "bad"),
        ("range:a:b", "bad"),
        ("range:1", "bad"),
    ]:
        cli(
            f"fit --intensity {mode}",
            base("--intensity", mode, "--out", out("i.skops")),
            kind=kind,
            hints=("--intensity", mode or "''"),
        )
    for mode in ("minmax", "per-image", "auto"):

        def nan_free(r):
            model = st().load_model(S("out", "const.skops"))
            P = model.predict_proba(FX.Xt)
            check_proba(P, len(FX.Xt), len(model.classes_))

        cli(
            f"fit --intensity {mode} on constant images",
            [
                "fit",
                "--target-dir",
                lambda: FX.file("target_constant"),
                "--source",
                SRC,
                "--max-iter",
                "1",
                "--cv",
                "0",
                "--intensity",
                mode,
                "--out",
                out("const.skops"),
            ],
            kind="any",
            hints=("--intensity", "constant", "range"),
            check=nan_free,
        )
    for inv, kind in [
        ("bogus", "bad"),
        ("auto", "valid"),
        ("yes", "valid"),
        ("YES", "any"),
    ]:
        cli(
            f"fit --invert {inv}",
            base("--invert", inv, "--out", out("inv.skops")),
            kind=kind,
            hints=("--invert", inv),
        )
    cli(
        "fit --invert (bare) --out",
        [
            "fit",
            "--target-dir",
            T,
            "--source",
            SRC,
            "--max-iter",
            "1",
            "--cv",
            "0",
            "--invert",
            "--out",
            out("inv2.skops"),
        ],
        kind="valid",
    )
    cli(
        "fit --color bogus",
        base("--color", "bogus", "--out", out("c.skops")),
        hints=("--color", "bogus"),
    )
    cli(
        "fit --color rgb (gray source)",
        base("--color", "rgb", "--out", out("c.skops")),
        hints=("--color", "rgb", "gray", "channel"),
    )
    # evaluate
    ev = lambda *extra: ["evaluate", CLI_MODEL, T, *extra]  # noqa: E731
    cli("evaluate (valid)", ev(), kind="valid")
    cli(
        "evaluate <missing model>",
        ["evaluate", S("none.skops"), T],
        hints=("none.skops",),
    )
    cli(
        "evaluate <missing folder>", ["evaluate", CLI_MODEL, S("nope")], hints=("nope",)
    )
    cli(
        "evaluate <a file as folder>",
        ["evaluate", CLI_MODEL, lambda: FX.file("text.txt")],
        hints=("text.txt",),
    )
    cli(
        "evaluate <folder of unknown classes>",
        ["evaluate", CLI_MODEL, lambda: FX.file("target28")],
        hints=("class", "'a'", "cat"),
    )
    cli(
        "evaluate <folder with a single class>",
        ["evaluate", CLI_MODEL, single_class],
        hints=("class", "only"),
    )
    cli(
        "evaluate <API model, classes 0/1>",
        ["evaluate", MODEL, T],
        hints=("class", "cat", "0"),
    )
    cli(
        "evaluate <pickle>.pkl",
        [
            "evaluate",
            lambda: write_evil_pickle(
                S("files", "ev-evil.pkl"), marker_for("cli/evaluate <pickle>.pkl")
            ),
            T,
        ],
        hints=("--allow-pickle",),
        accept_class="security",
    )
    cli(
        "evaluate --confusion <missing folder>/c.png",
        ev("--confusion", lambda: S("out", "nodir", "c.png")),
        hints=("--confusion", "nodir", "matplotlib"),
    )
    cli(
        "evaluate --confusion c.png (matplotlib missing)",
        ev("--confusion", out("c.png")),
        kind="any",
        hints=("--confusion", "matplotlib"),
    )
    cli(
        "evaluate --confusion <no format>",
        ev("--confusion", out("confusion")),
        hints=("--confusion", "format", ".png"),
    )
    cli(
        "evaluate --confusion <a folder>",
        ev("--confusion", lambda: S("out")),
        hints=("--confusion", "folder"),
    )
    cli(
        "evaluate --confusion ''",
        ev("--confusion", ""),
        hints=("--confusion", "format"),
    )

    def kmeans_model():
        from sklearn.cluster import KMeans

        path = S("files", "kmeans.joblib")
        import joblib

        joblib.dump(KMeans(2, n_init=1, random_state=0).fit(FX.X), path)
        return path

    cli(
        "evaluate <KMeans>.joblib --allow-pickle",
        ["evaluate", kmeans_model, T, "--allow-pickle"],
        hints=("KMeans", "classifier"),
    )
    cli("evaluate --size 9 9", ev("--size", "9", "9"), hints=("--size",))
    cli(
        "evaluate --intensity bogus",
        ev("--intensity", "bogus"),
        hints=("--intensity", "bogus"),
    )
    cli("evaluate --color bogus", ev("--color", "bogus"), hints=("--color", "bogus"))
    cli(
        "evaluate <SourceFeatures>.skops",
        ["evaluate", lambda: FX.file("feats_sae.skops"), T],
        hints=("SourceFeatures", "predict"),
    )
    cli(
        "predict --intensity bits:0",
        ["predict", MODEL, IMGS, "--intensity", "bits:0"],
        hints=("--intensity", "bits:0"),
    )
    cli(
        "predict --no-proba (valid)",
        ["predict", MODEL, IMGS, "--no-proba"],
        kind="valid",
    )
    cli(
        "rank --intensity minmax (valid)",
        rank("--source", SRC, "--source-model", "--intensity", "minmax"),
        kind="valid",
    )

    # Real run of the quick bundled-MNIST path (slow: trains a small source).
    cli(
        "fit --quick (bundled MNIST, real training)",
        [
            "fit",
            "--target-dir",
            lambda: FX.file("target28"),
            "--quick",
            "--max-iter",
            "1",
            "--cv",
            "0",
            "--cache-dir",
            lambda: S("cache", "cli-quick"),
            "--out",
            out("quick.skops"),
        ],
        kind="valid",
        guard=False,
        slow=True,
        timeout=300,
    )


# =============================================================================
# Area "active": query strategies and the active learner
# =============================================================================
def cases_active(quick):
    from skalltransfer import active

    def y_partial():
        y = FX.yt.astype(float)
        y[8:] = np.nan
        return y

    strategies = [
        (
            "RandomSampling(random_state=0)",
            lambda: active.RandomSampling(random_state=0),
        ),
        ("EntropySampling()", lambda: active.EntropySampling()),
        (
            "AIFTSampling(random_state=0)",
            lambda: active.AIFTSampling(random_state=0, n_augment=2),
        ),
        (
            "MMDCoreSetSampling(X_source=X)",
            lambda: active.MMDCoreSetSampling(
                X_source=FX.X, random_state=0, n_source_samples=20
            ),
        ),
    ]
    for slabel, make in strategies:
        for label, y, batch, clf, kind, hints in [
            ("batch_size=2", y_partial, 2, lambda: FX.all_sae, "valid", ()),
            ("batch_size=0", y_partial, 0, lambda: FX.all_sae, "bad", ("batch_size",)),
            (
                "batch_size=-1",
                y_partial,
                -1,
                lambda: FX.all_sae,
                "bad",
                ("batch_size",),
            ),
            (
                "batch_size=1.5",
                y_partial,
                1.5,
                lambda: FX.all_sae,
                "bad",
                ("batch_size",),
            ),
            (
                "batch_size=100 (16 unlabelled)",
                y_partial,
                100,
                lambda: FX.all_sae,
                "any",
                ("batch_size", "16"),
            ),
            (
                "every sample labelled",
                lambda: FX.yt.astype(float),
                2,
                lambda: FX.all_sae,
                "any",
                ("unlabel", "missing"),
            ),
            (
                "no sample labelled",
                lambda: np.full(24, np.nan),
                2,
                lambda: FX.all_sae,
                "any",
                ("label",),
            ),
            (
                "an unfitted classifier",
                y_partial,
                2,
                lambda: st().AllTransferClassifier(FX.sae),
                "bad",
                ("fitted", "fit"),
            ),
            (
                "clf=None",
                y_partial,
                2,
                lambda: None,
                "any",
                ("clf", "None", "classifier"),
            ),
            (
                "y shorter than X",
                lambda: y_partial()[:-1],
                2,
                lambda: FX.all_sae,
                "bad",
                ("24", "23"),
            ),
            (
                "X with 63 features",
                y_partial,
                2,
                lambda: FX.all_sae,
                "bad" if "Random" not in slabel else "any",
                ("63",),
            ),
            (
                "y strings with None as missing",
                lambda: np.array(["a", "b"] * 4 + [None] * 16, dtype=object),
                2,
                lambda: FX.all_sae,
                "any",
                ("missing_label", "None"),
            ),
        ]:

            def fn(t, make=make, y=y, batch=batch, clf=clf, label=label):
                strategy = make()
                X = FX.Xt[:, :63] if "63" in label else FX.Xt
                X = t(X.copy(), "X")
                yy = t(y(), "y")
                idx = strategy.query(X, yy, clf(), batch_size=batch)
                idx = np.asarray(idx)
                unl = (
                    np.flatnonzero(
                        st().active.is_unlabeled(
                            yy, getattr(strategy, "missing_label", np.nan)
                        )
                    )
                    if hasattr(st(), "active")
                    else None
                )
                if idx.ndim != 1 or len(set(idx.tolist())) != len(idx):
                    raise Wrong(f"query returned {idx!r}")
                if unl is not None and not set(idx.tolist()) <= set(unl.tolist()):
                    raise Wrong(
                        f"query picked labelled samples {sorted(set(idx.tolist()) - set(unl.tolist()))[:5]}"
                    )
                return f"picked {idx.tolist()}"

            add(
                "active",
                f"{slabel}.query({label})",
                fn,
                kind=kind,
                hints=hints,
                call=f"{slabel}.query(Xt, y, clf, batch_size={batch!r})  [{label}]",
            )

    import skalltransfer.active  # noqa: F401

    def learner(kwargs, fit_kw=None, y=None, kind="bad", hints=(), label=""):
        def fn(t):
            est = st().AllTransferClassifier(FX.sae, **TKW)
            kw = dict(kwargs)
            strat = kw.pop("strategy", active.RandomSampling(random_state=0))
            L = active.ActiveTransferLearner(
                kw.pop("estimator", est), strat, random_state=0, **kw
            )
            yy = t((y or (lambda: np.full(24, np.nan)))(), "y")
            X = t(FX.Xt.copy(), "X")
            fk = dict(fit_kw if fit_kw is not None else {"oracle": FX.yt})
            L.fit(X, yy, **fk)
            P = L.predict_proba(FX.Xt)
            check_proba(P, len(FX.Xt), len(L.classes_))
            return "learner fitted"

        add(
            "active",
            f"ActiveTransferLearner({label})",
            fn,
            kind=kind,
            hints=hints,
            call=f"ActiveTransferLearner(AllT(SAE), RandomSampling(0), {label}).fit(Xt, y_missing, oracle=yt)",
        )

    learner(
        dict(batch_size=2, n_rounds=2, initial_size=4),
        kind="valid",
        label="batch_size=2, n_rounds=2, initial_size=4",
    )
    for name, values in [
        ("batch_size", [0, -1, 1.5, "2", None]),
        ("n_rounds", [-1, 1.5, "2"]),
        ("initial_size", [-1, 1.5, 1000]),
        ("retrain", ["bogus", None, 1]),
        ("verbose", [-1, "loud"]),
    ]:
        for v in values:
            kind = "bad"
            if name == "initial_size" and v == 1000:
                kind = "any"
            learner(
                {name: v, "n_rounds": 1} if name != "n_rounds" else {name: v},
                kind=kind,
                hints=(name,),
                label=f"{name}={v!r}",
            )
    learner(dict(strategy=None), hints=("strategy",), label="strategy=None")
    learner(
        dict(strategy=object()), hints=("strategy", "query"), label="strategy=object()"
    )
    learner(dict(estimator=None), hints=("estimator",), label="estimator=None")
    learner(
        dict(n_rounds=1),
        fit_kw={"oracle": FX.yt[:-1]},
        hints=("oracle", "24"),
        label="oracle shorter than X",
    )
    learner(
        dict(n_rounds=1),
        fit_kw={"oracle": lambda idx: np.zeros(len(idx) + 1)},
        hints=("oracle",),
        label="an oracle returning one label too many",
    )
    learner(
        dict(n_rounds=1),
        fit_kw={"oracle": np.full(24, np.nan)},
        hints=("oracle", "label"),
        label="an oracle without labels",
    )
    learner(
        dict(n_rounds=1),
        fit_kw={},
        kind="any",
        hints=("oracle", "label"),
        label="no oracle, no label",
    )
    learner(
        dict(n_rounds=1),
        fit_kw={"oracle": FX.yt, "X_val": FX.Xt[:, :63], "y_val": FX.yt},
        hints=("63", "X_val"),
        label="X_val with 63 features",
    )
    learner(
        dict(n_rounds=1, missing_label=-1),
        y=lambda: np.full(24, -1),
        kind="valid",
        label="missing_label=-1",
    )
    learner(
        dict(n_rounds=1, missing_label="bogus"),
        kind="any",
        hints=("missing_label",),
        label="missing_label='bogus' (y all NaN)",
    )

    # helper functions
    def helper(label, call, kind, hints):
        add(
            "active",
            label,
            lambda t: summarize(call()),
            kind=kind,
            hints=hints,
            call=label,
        )

    P = lambda: np.tile([[[0.3, 0.7]]], (5, 3, 1))  # noqa: E731  (candidates, patches, classes)
    helper("aift_scores(P)", lambda: active.aift_scores(P()), "valid", ())
    helper(
        "aift_scores(P with a NaN)",
        lambda: active.aift_scores(_set(P(), np.nan)),
        "bad",
        ("nan",),
    )
    helper(
        "aift_scores(P rows not summing to 1)",
        lambda: active.aift_scores(P() * 3),
        "any",
        ("sum", "probabilit"),
    )
    helper(
        "aift_scores(1-D P)",
        lambda: active.aift_scores(P()[0, 0]),
        "bad",
        ("3D", "3-D", "shape", "dim"),
    )
    helper(
        "aift_scores(P, alpha=2)",
        lambda: active.aift_scores(P(), alpha=2),
        "bad",
        ("alpha",),
    )
    helper(
        "aift_scores(P, alpha=-1)",
        lambda: active.aift_scores(P(), alpha=-1),
        "bad",
        ("alpha",),
    )
    helper(
        "k_center_greedy(X, n_picks=100) (60 candidates)",
        lambda: active.k_center_greedy(FX.X, 100),
        "bad",
        ("n_picks", "100"),
    )
    helper(
        "k_center_greedy(X, n_picks=-1)",
        lambda: active.k_center_greedy(FX.X, -1),
        "bad",
        ("n_picks", "pick"),
    )
    helper(
        "k_center_greedy(X, n_picks=1.5)",
        lambda: active.k_center_greedy(FX.X, 1.5),
        "bad",
        ("n_picks",),
    )
    add(
        "active",
        "k_center_greedy(X, 2, first=99) (60 candidates)",
        lambda t: summarize(active.k_center_greedy(t(FX.X.copy(), "X"), 2, first=99)),
        hints=("first", "99"),
        accept_class="security",
        isolate=True,
        on_signal="security",
        call="k_center_greedy(X, 2, first=99)  [60 candidates]",
    )
    add(
        "active",
        "k_center_greedy(X, 2, first=10**9)",
        lambda t: summarize(
            active.k_center_greedy(t(FX.X.copy(), "X"), 2, first=10**9)
        ),
        hints=("first",),
        accept_class="security",
        isolate=True,
        on_signal="security",
        call="k_center_greedy(X, 2, first=10**9)",
    )
    helper(
        "k_center_greedy(X, 2, first=-1)",
        lambda: active.k_center_greedy(FX.X, 2, first=-1),
        "any",
        ("first", "-1"),
    )
    helper(
        "k_center_greedy(X, 2, centers=<3 columns>)",
        lambda: active.k_center_greedy(FX.X, 2, centers=FX.X[:2, :3]),
        "bad",
        ("centers", "3", "64"),
    )
    helper(
        "k_center_greedy(X with NaN, 2)",
        lambda: active.k_center_greedy(_set(FX.X, np.nan), 2),
        "bad",
        ("nan",),
    )
    helper(
        "random_shift_augment(X 63 features, 2, rng)",
        lambda: active.random_shift_augment(FX.X[:, :63], 2, np.random.RandomState(0)),
        "bad",
        ("square", "63"),
    )
    helper(
        "random_shift_augment(X, 0, rng)",
        lambda: active.random_shift_augment(FX.X, 0, np.random.RandomState(0)),
        "any",
        ("n_augment",),
    )
    helper(
        "random_shift_augment(X, -1, rng)",
        lambda: active.random_shift_augment(FX.X, -1, np.random.RandomState(0)),
        "bad",
        ("n_augment",),
    )
    helper(
        "random_shift_augment(X, 2, rng, max_shift=-1)",
        lambda: active.random_shift_augment(
            FX.X, 2, np.random.RandomState(0), max_shift=-1
        ),
        "bad",
        ("max_shift",),
    )
    helper(
        "random_shift_augment(X, 2, rng=0)",
        lambda: active.random_shift_augment(FX.X, 2, 0),
        "any",
        ("rng", "random"),
    )
    helper(
        "is_unlabeled([1, nan, None], None)",
        lambda: active.is_unlabeled(np.array([1, np.nan, None], dtype=object), None),
        "valid",
        (),
    )
    helper(
        "is_unlabeled(2-D y)",
        lambda: active.is_unlabeled(np.zeros((3, 2))),
        "any",
        ("1d", "1-D", "shape"),
    )


# =============================================================================
# Area "misc": the rest of the public API
# =============================================================================
def cases_misc(quick):
    def m(label, call, kind="bad", hints=(), **kw):
        add(
            "misc",
            label,
            lambda t: summarize(call(t)),
            kind=kind,
            hints=hints,
            call=label,
            **kw,
        )

    unfitted = [
        ("MPDBMClassifier()", lambda: st().MPDBMClassifier()),
        ("StackedAutoencoderClassifier()", lambda: st().StackedAutoencoderClassifier()),
        ("ConvAutoencoderClassifier()", lambda: st().ConvAutoencoderClassifier()),
        ("AllTransferClassifier(SAE)", lambda: st().AllTransferClassifier(FX.sae)),
        (
            "TruncatedTransferClassifier(SAE)",
            lambda: st().TruncatedTransferClassifier(FX.sae),
        ),
        ("SourceFeatures(SAE)", lambda: st().SourceFeatures(FX.sae)),
        (
            "DirectTransferClassifier(SAE)",
            lambda: st().DirectTransferClassifier(FX.sae),
        ),
    ]
    for label, make in unfitted:
        for method in (
            "predict",
            "predict_proba",
            "transform",
            "get_feature_names_out",
            "score",
        ):

            def call(t, make=make, method=method):
                est = make()
                if not hasattr(est, method):
                    return "no such method"
                f = getattr(est, method)
                return (
                    f()
                    if method == "get_feature_names_out"
                    else (f(FX.X, FX.y) if method == "score" else f(FX.X))
                )

            exists = hasattr(getattr(st(), label.split("(")[0]), method)
            if not exists:
                continue
            m(f"{label}.{method}(...) unfitted", call, hints=("fit", "fitted"))
    m(
        "SAE.fit(X) without y",
        lambda t: st().StackedAutoencoderClassifier(**KW["SAE"]).fit(FX.X),
        hints=("y",),
    )
    m(
        "clone(AllT(SAE)).fit(Xt, yt)",
        lambda t: check_fitted_model(
            *(lambda c: (c, c.fit(FX.Xt, FX.yt)))(
                __import__("sklearn.base", fromlist=["x"]).clone(FX.all_sae)
            ),
            FX.Xt,
        ),
        kind="valid",
    )
    m(
        "pickle round trip of AllT(SAE)",
        lambda t: check_proba(
            pickle.loads(pickle.dumps(FX.all_sae)).predict_proba(FX.Xt), 24, 2
        ),
        kind="valid",
    )
    m("copy.deepcopy(SourceData)", lambda t: repr(copy.deepcopy(FX.sd)), kind="valid")

    # get_cache_dir / clear_cache
    m("get_cache_dir(5)", lambda t: st().get_cache_dir(5), hints=("int", "path", "str"))
    m(
        "get_cache_dir('')",
        lambda t: shown(st().get_cache_dir("")),
        hints=("empty", "path", "''"),
    )
    m(
        "get_cache_dir('~/gcd')",
        lambda t: _expect_under_home(st().get_cache_dir("~/gcd")),
        kind="valid",
        cwd_writes=True,
    )
    m(
        "get_cache_dir(<a file>)",
        lambda t: st().get_cache_dir(FX.file("text.txt")),
        hints=("text.txt",),
    )
    m(
        "get_cache_dir('a\\0b')",
        lambda t: st().get_cache_dir(S("cache", "a\0b")),
        hints=("path", "null", "NUL", "\\x00"),
    )
    m(
        "clear_cache(<a file>)",
        lambda t: st().clear_cache(FX.file("text.txt")),
        kind="any",
        hints=("text.txt",),
    )
    m("clear_cache(5)", lambda t: st().clear_cache(5), hints=("int", "path", "str"))
    m(
        "clear_cache(<missing folder>)",
        lambda t: st().clear_cache(S("cache", "never-made")),
        kind="any",
        hints=("never-made",),
    )

    def clear_cache_foreign(t):
        root = fresh_dir("cache", "foreign")
        os.makedirs(os.path.join(root, "sources", "mine"))
        write_bytes(os.path.join(root, "sources", "notes.txt"), b"keep me")
        write_bytes(os.path.join(root, "keep.txt"), b"keep me")
        st().clear_cache(root)
        missing = [
            p
            for p in ("keep.txt", "sources/notes.txt", "sources/mine")
            if not os.path.exists(os.path.join(root, p))
        ]
        if missing:
            raise Wrong(f"clear_cache deleted files it did not write: {missing}")
        return "kept foreign files"

    m("clear_cache(<folder with foreign files>)", clear_cache_foreign, kind="valid")

    # prefit_sources
    def prefit(estimator, grid, **kw):
        return lambda t: st().prefit_sources(estimator(), grid, **kw)

    def allt():
        return st().AllTransferClassifier(
            st().StackedAutoencoderClassifier(**KW["SAE"]), source_data=FX.sd, **TKW
        )  # noqa: E731

    m(
        "prefit_sources(AllT(unfitted SAE, source_data), {'source__max_iter': [1, 2]})",
        prefit(allt, {"source__max_iter": [1, 2]}),
        kind="valid",
    )
    m(
        "prefit_sources(AllT(...), {'source__bogus': [1]})",
        prefit(allt, {"source__bogus": [1]}),
        hints=("bogus",),
    )
    m("prefit_sources(AllT(...), 5)", prefit(allt, 5), hints=("param_grid", "grid"))
    m("prefit_sources(None)", prefit(lambda: None, None), hints=("estimator", "None"))
    m(
        "prefit_sources(SAE)",
        prefit(lambda: st().StackedAutoencoderClassifier(), None),
        kind="any",
        hints=("source", "transfer"),
    )
    m(
        "prefit_sources(AllT(...), n_jobs='x')",
        prefit(allt, None, n_jobs="x"),
        hints=("n_jobs",),
    )
    m(
        "prefit_sources(AllT(...), {'source__hidden_layer_sizes': [(8.7,)]})",
        prefit(allt, {"source__hidden_layer_sizes": [(8.7,)]}),
        hints=("hidden_layer_sizes",),
    )

    # LayerStack
    W = lambda: [np.zeros((64, 8)), np.zeros((8, 3))]  # noqa: E731
    b = lambda: [np.zeros(8), np.zeros(3)]  # noqa: E731
    for label, make, kind, hints in [
        ("valid", lambda: st().LayerStack(W(), b()), "valid", ()),
        ("coefs=[]", lambda: st().LayerStack([], []), "bad", ("coefs",)),
        (
            "a bias of length 1",
            lambda: st().LayerStack(W(), [np.zeros(1), np.zeros(3)]),
            "bad",
            ("intercepts", "bias", "intercept"),
        ),
        (
            "mismatched layer sizes",
            lambda: st().LayerStack([np.zeros((64, 8)), np.zeros((9, 3))], b()),
            "bad",
            ("layer", "8", "9"),
        ),
        (
            "family='bogus'",
            lambda: st().LayerStack(W(), b(), family="bogus"),
            "bad",
            ("bogus", "family"),
        ),
        (
            "hidden_activation='bogus'",
            lambda: st().LayerStack(W(), b(), hidden_activation="bogus"),
            "bad",
            ("bogus", "activation"),
        ),
        (
            "output_activation='bogus'",
            lambda: st().LayerStack(W(), b(), output_activation="bogus"),
            "bad",
            ("bogus", "activation"),
        ),
        (
            "coefs of lists",
            lambda: st().LayerStack([w.tolist() for w in W()], b()),
            "any",
            ("coefs",),
        ),
        (
            "coefs with NaN",
            lambda: st().LayerStack([_set(W()[0], np.nan), W()[1]], b()),
            "any",
            ("nan", "finite"),
        ),
        (
            "coefs int",
            lambda: st().LayerStack([w.astype(int) for w in W()], b()),
            "any",
            ("dtype", "float"),
        ),
        (
            "family='conv' without config",
            lambda: st().LayerStack(W(), b(), family="conv"),
            "bad",
            ("config", "image_shape"),
        ),
        (
            "family='mpdbm' without visible_intercept",
            lambda: st().LayerStack(W(), b(), family="mpdbm"),
            "any",
            ("visible", "intercept"),
        ),
    ]:

        def call(t, make=make):
            stack = make()
            if hasattr(stack, "output_proba"):
                P = stack.output_proba(FX.X)
                check_proba(np.asarray(P), 60, np.shape(P)[1])
            return stack

        m(f"LayerStack({label})", call, kind=kind, hints=hints)

    # Deprecated and other helpers
    def threads(n):
        def call(t):
            with st().limit_threads(n):
                return "entered"

        return call

    m("with limit_threads(0)", threads(0), hints=("n_threads", "0"))
    m("with limit_threads(-1)", threads(-1), hints=("n_threads", "-1"))
    m("with limit_threads('x')", threads("x"), hints=("n_threads", "'x'"))
    m(
        "mk_mmd2(H, H[:, :3]) (different widths)",
        lambda t: st().mk_mmd2(FX.X, FX.X[:, :3]),
        hints=("feature", "3", "64", "column"),
    )
    m("mk_mmd2(H, H)", lambda t: float(st().mk_mmd2(FX.X, FX.X)), kind="any", hints=())
    m(
        "mk_mmd2([], [])",
        lambda t: st().mk_mmd2(np.zeros((0, 3)), np.zeros((0, 3))),
        hints=("sample", "empty"),
    )
    m("show_versions()", lambda t: st().show_versions(), kind="valid")
    m(
        "RelationDisplay.from_estimator(SAE) (matplotlib missing)",
        lambda t: st().RelationDisplay.from_estimator(FX.sae),
        kind="any",
        hints=("matplotlib", "relation", "transfer"),
    )
    m(
        "RelationDisplay.from_estimator(AllT(SAE))",
        lambda t: st().RelationDisplay.from_estimator(FX.all_sae),
        kind="any",
        hints=("matplotlib",),
    )
    m(
        "FilterDisplay.from_estimator(object())",
        lambda t: st().FilterDisplay.from_estimator(object()),
        hints=("object", "coefs", "estimator", "matplotlib"),
    )


def _expect_under_home(path):
    if not str(path).startswith(S("home")):
        raise Wrong(f"get_cache_dir('~/gcd') returned {shown(path)}, not under $HOME")
    if os.path.exists(S("cwd", "~")):
        raise Wrong("created a literal '~' folder")
    return shown(path)


# =============================================================================
# Building, running, reporting
# =============================================================================
AREAS = [
    "arrays",
    "labels",
    "params",
    "source",
    "metrics",
    "persist",
    "datasets",
    "cli",
    "active",
    "misc",
]


def build_cases(quick=False):
    CASES.clear()
    _IDS.clear()
    cases_arrays_predict(quick)
    cases_arrays_fit(quick)
    cases_arrays_labels(quick)
    cases_params(quick)
    cases_source(quick)
    cases_metrics(quick)
    cases_persist(quick)
    cases_datasets(quick)
    cases_cli(quick)
    cases_active(quick)
    cases_misc(quick)
    return list(CASES)


LEGEND = """\
Fixtures (the calls below use these names):
  X = np.random.RandomState(0).rand(60, 64)  (60 "8x8 images" in [0, 1]); y = np.tile([0, 1, 2], 20)
  Xt = the next rand(24, 64); yt = np.tile([0, 1], 12)
  KW['MPDBM'] = dict(hidden_layer_sizes=(8,), max_iter=2, n_mean_field_iter=2, discriminative_max_iter=2, random_state=0)
  KW['SAE'] = dict(hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=3, random_state=0)
  KW['Conv'] = dict(conv_layers=((2, 3),), hidden_layer_sizes=(8,), pretrain_max_iter=1, max_iter=1, random_state=0)
  MPDBM, SAE, Conv64 = the source classes with KW fitted on (X, y); Conv32 = Conv fitted on X.astype('float32')
  AllT(S) = AllTransferClassifier(S, max_iter=2, random_state=0).fit(Xt, yt); Trunc(SAE) = TruncatedTransferClassifier(SAE, cv=2, ...)
  Feats(S) = SourceFeatures(S).fit(Xt); Direct(SAE) = DirectTransferClassifier(SAE).fit(Xt, yt); MLP = MLPClassifier((8,)).fit(X, y)
  $S = the scratch directory; files named <...> are made by the case."""


def normalize(detail):
    """A grouping key: the message with numbers, quoted text and paths
    replaced."""
    text = re.sub(r"\[outcome: .*\]$", "", detail)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\$S/\S*", "<path>", text)
    text = re.sub(r"-?\d+(\.\d+)?(e[-+]?\d+)?", "N", text)
    text = re.sub(r"\(at [^)]*\)", "", text)
    return short(text, 150)


_EST_LABELS = sorted(
    {label for label, _, _ in PREDICTORS}
    | {label for label, _, _ in FITTERS}
    | {label for label, _, _ in METRIC_SOURCES}
    | {"Conv"},
    key=len,
    reverse=True,
)


def signature(r):
    """What groups the non-good outcomes of one root cause: the message, or
    for a silently accepted input, the input (the estimator left out)."""
    if r["detail"].startswith("accepted"):
        name = r["name"]
        for label in _EST_LABELS:
            name = name.replace(label, "<est>")
        name = re.sub(
            r"\.(predict_proba|predict|transform|score|fit)\(", ".<method>(", name
        )
        return f"accepted: {name}"
    return normalize(r["detail"])


def report(results, elapsed, quick):
    counts = dict.fromkeys(CLASSES, 0)
    per_area = {}
    for r in results:
        counts[r["cls"]] += 1
        per_area.setdefault(r["area"], dict.fromkeys(CLASSES, 0))[r["cls"]] += 1
    print()
    print(
        f"== skalltransfer bad-input catalogue: {len(results)} cases "
        f"({'quick' if quick else 'full'} run, {elapsed:.0f} s) =="
    )
    print()
    print("Counts per class:")
    for c in CLASSES:
        print(f"  {c:<13} {counts[c]:5d}")
    print()
    print("Counts per area:")
    print("  " + f"{'area':<10}{'total':>7}" + "".join(f"{c:>14}" for c in CLASSES))
    for area in AREAS:
        if area in per_area:
            row = per_area[area]
            print(
                "  "
                + f"{area:<10}{sum(row.values()):>7}"
                + "".join(f"{row[c]:>14}" for c in CLASSES)
            )
    bad = [r for r in results if r["cls"] not in GOOD]
    if not bad:
        print("\nEvery case is a clear error or works.")
        return
    print()
    print(LEGEND)
    order = ["security", "crash", "bug", "poor message"]
    print(
        "\nNon-good cases grouped by root cause (same message, or same input accepted):"
    )
    for c in order:
        group = [r for r in bad if r["cls"] == c]
        if not group:
            continue
        by_key = {}
        for r in group:
            by_key.setdefault(signature(r), []).append(r)
        print(f"\n### {c}: {len(group)} cases, {len(by_key)} groups")
        for key, rs in sorted(by_key.items(), key=lambda kv: -len(kv[1])):
            print(f"\n  [{len(rs)}x] {key}")
            for r in rs[:4]:
                print(f"    - {r['area']}: {r['call']}")
                print(f"        -> {short(r['detail'], 500)}")
            if len(rs) > 4:
                print(f"    ... and {len(rs) - 4} more (listed below)")
    print("\nEvery non-good case:")
    for c in order:
        for r in (r for r in bad if r["cls"] == c):
            print(f"  [{c}] {r['area']}: {short(r['call'], 200)}")
            print(f"      -> {short(r['detail'], 300)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="skip the slow cases and some variants"
    )
    parser.add_argument(
        "--area", action="append", choices=AREAS, help="run only this area (repeatable)"
    )
    parser.add_argument("--only", help="run only the cases whose id contains this text")
    parser.add_argument("--json", help="write every outcome to this JSON file")
    parser.add_argument(
        "--rerun", help="rerun only the non-good cases of a JSON file written by --json"
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch directory"
    )
    parser.add_argument("--child", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    global FX
    if args.child:
        setup_environment(args.scratch)
        warnings.simplefilter("ignore")
        FX = Fixtures()
        build_cases(quick=False)
        child_main(args.child)
        return 0

    scratch = tempfile.mkdtemp(prefix="skalltransfer-bad-inputs-", dir="/tmp")
    os.chmod(scratch, 0o755)
    try:
        return _run(args, scratch)
    finally:
        os.chdir(ORIGINAL_CWD)
        if args.keep:
            print(f"Scratch directory kept: {scratch}", file=sys.stderr)
        else:
            _chmod_all(scratch)
            shutil.rmtree(scratch, ignore_errors=True)


def _run(args, scratch):
    global FX
    setup_environment(scratch)
    FX = Fixtures()
    cases = build_cases(quick=args.quick)
    if args.quick:
        cases = [c for c in cases if not c.slow]
    if args.area:
        cases = [c for c in cases if c.area in args.area]
    if args.only:
        cases = [c for c in cases if args.only in c.id]
    if args.rerun:
        with open(args.rerun) as f:
            previous = json.load(f)
        wanted = {r["id"] for r in previous["results"] if r["cls"] not in GOOD}
        cases = [c for c in cases if c.id in wanted]
    if args.list:
        for c in cases:
            print(c.id, c.kind, "isolated" if c.isolate else "", sep="\t")
        print(f"{len(cases)} cases", file=sys.stderr)
        return 0

    start = time.perf_counter()
    results = []
    inproc = [c for c in cases if not c.isolate]
    isolated = [c for c in cases if c.isolate]
    print(
        f"Running {len(inproc)} cases in-process and {len(isolated)} in subprocesses "
        f"(scratch {scratch})",
        file=sys.stderr,
        flush=True,
    )
    warnings.simplefilter("ignore")

    def record(case, cls, detail, seconds):
        results.append(
            dict(
                id=case.id,
                area=case.area,
                name=case.name,
                call=shown(case.call),
                kind=case.kind,
                cls=cls,
                detail=shown(detail),
                seconds=round(seconds, 3),
            )
        )
        n = len(results)
        if n % 100 == 0 or case.isolate or seconds > 10:
            print(
                f"  [{n}/{len(cases)}] {time.perf_counter() - start:6.0f} s  {case.id[:90]} -> {cls}",
                file=sys.stderr,
                flush=True,
            )

    for case in inproc:
        t0 = time.perf_counter()
        cls, detail = execute(case)
        record(case, cls, detail, time.perf_counter() - t0)
    # Isolated cases: those that may crash the interpreter share a
    # subprocess (batches of 20); measured or privileged ones run alone.
    shared = [c for c in isolated if batchable(c)]
    alone = [c for c in isolated if not batchable(c)]
    batches = [shared[i : i + 20] for i in range(0, len(shared), 20)] + [
        [c] for c in alone
    ]
    for batch in batches:
        t0 = time.perf_counter()
        outcomes = run_batch(batch)
        seconds = (time.perf_counter() - t0) / len(batch)
        for case, cls, detail in outcomes:
            record(case, cls, detail, seconds)
    elapsed = time.perf_counter() - start
    report(results, elapsed, args.quick)
    if args.json:
        path = (
            args.json
            if os.path.isabs(args.json)
            else os.path.join(ORIGINAL_CWD, args.json)
        )
        with open(path, "w") as f:
            json.dump(
                {"quick": args.quick, "seconds": elapsed, "results": results},
                f,
                indent=1,
            )
        print(f"\nOutcomes written to {path}", file=sys.stderr)
    return 0


def _chmod_all(root):
    for dirpath, dirnames, _ in os.walk(root):
        for d in dirnames:
            try:
                os.chmod(os.path.join(dirpath, d), 0o755)
            except OSError:
                pass


ORIGINAL_CWD = os.getcwd()

if __name__ == "__main__":
    sys.exit(main())
