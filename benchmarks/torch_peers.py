"""The PyTorch peers of ``bench_alltransfer.py``: what a deep-learning
practitioner would run instead of this package (PyTorch is a benchmark-only
extra, never a dependency of the package).

Every peer uses the architecture of the default
:class:`~skalltransfer.ConvAutoencoderClassifier` source: conv 5 x 5 x 32,
ReLU, 2 x 2 max-pooling, conv 5 x 5 x 64, ReLU, 2 x 2 max-pooling, dense
256, ReLU, a softmax output ("same" zero padding, stride 1; PyTorch's
default initialisation). Training draws a new random integer shift of
``[-2, 2]`` pixels per image and axis every time an image enters a minibatch
(zeros enter at the border, as the package's ``shift_augmentation``), and
runs Adam for a budget of minibatch *updates*, not epochs: 20 images are one
minibatch per epoch, so an epoch budget would give tiny targets a handful of
steps.

- ``PyTorch scratch``: the network from random initialisation, lr 1e-3.
- ``PyTorch fine-tune``: the standard transfer recipe. The network is
  pretrained, supervised, on the same 5,000 bundled MNIST digits as the
  package's sources (Adam 1e-3, batch 64, 15 epochs, the same shifts); the
  target gets a new output layer and every layer is fine-tuned, lr 1e-4.
- ``PyTorch probe``: a logistic regression (standardised features, ``C`` by
  inner cross-validation) on the pretrained network's dense (256) features.

The pretrained weights are cached under the benchmark cache directory
(:func:`skalltransfer.get_cache_dir`, ``SKALLTRANSFER_CACHE``), in
``torch_peers/``, as a plain ``.npz`` of arrays (read with
``allow_pickle=False``) keyed by the pretraining settings, the digits'
checksum and the PyTorch version.

Each fit is seeded by its draw: ``torch.manual_seed(seed)`` for the
initialisation of new layers, a ``torch.Generator`` seeded alike for the
minibatch order and the shifts. PyTorch runs on as many threads as the
package's kernels (the BLAS thread limit in force, e.g. ``OMP_NUM_THREADS``).
"""

import hashlib
import importlib.util
import json
import math
import os
import time

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

IMAGE_SHAPE = (28, 28)
MAX_SHIFT = 2
# The pretraining a practitioner would run on the 5,000 digits.
PRETRAIN = {
    "data": "load_mnist()",
    "epochs": 15,
    "batch_size": 64,
    "learning_rate": 1e-3,
    "max_shift": MAX_SHIFT,
    "seed": 0,
}
SCRATCH_LR = 1e-3
FINETUNE_LR = 1e-4
BATCH_SIZE = 32
UPDATES = 400
PROBE_CS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


def available():
    """Whether PyTorch can be imported."""
    return importlib.util.find_spec("torch") is not None


def n_threads():
    """Threads of the package's kernels in this run: the BLAS limit in force
    (``OMP_NUM_THREADS``, ``threadpoolctl``)."""
    from skalltransfer._kernels._threads import n_threads as kernel_threads

    return kernel_threads()


def make_network(n_classes):
    """The default conv source's architecture as a ``torch.nn.Sequential``;
    its last module is the output layer, ``network[:-1]`` gives the dense
    (256) features."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 256),
        nn.ReLU(),
        nn.Linear(256, n_classes),
    )


def as_images(X):
    """Flattened rows (n, 784) in [0, 1] as a float32 tensor (n, 1, 28, 28)."""
    import torch

    X = np.ascontiguousarray(X, dtype=np.float32).reshape(-1, 1, *IMAGE_SHAPE)
    return torch.from_numpy(X)


def random_shifts(images, max_shift, generator):
    """``images`` (n, C, H, W) each shifted by its own random integers in
    ``[-max_shift, max_shift]`` along both axes, zeros entering at the
    border."""
    import torch
    import torch.nn.functional as F

    if not max_shift:
        return images
    n, _, H, W = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(H))[:, None, :, None]  # (n, 1, H, 1)
    cols = (dx[:, None] + torch.arange(W))[:, None, None, :]  # (n, 1, 1, W)
    batch = torch.arange(n)[:, None, None, None]
    channel = torch.arange(images.shape[1])[None, :, None, None]
    return padded[batch, channel, rows, cols]


def train(network, images, labels, *, epochs, batch_size, learning_rate, generator):
    """Adam on the cross-entropy, shuffled minibatches with new random shifts
    each time an image enters one; returns the mean loss of the last epoch."""
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    loss_fn = torch.nn.CrossEntropyLoss()
    network.train()
    n = len(images)
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            batch = random_shifts(images[rows], MAX_SHIFT, generator)
            optimizer.zero_grad()
            loss = loss_fn(network(batch), labels[rows])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(rows)
    network.eval()
    return total / n


def outputs(module, X, chunk=1000):
    """``module``'s outputs for rows ``X``, as a NumPy array (no gradient,
    chunks of ``chunk`` images)."""
    import torch

    module.eval()
    images = as_images(X)
    with torch.no_grad():
        return np.concatenate(
            [
                module(images[i : i + chunk]).numpy()
                for i in range(0, len(images), chunk)
            ]
        )


# -- the network pretrained on the digits -------------------------------------
_PRETRAINED = {}


def _pretrain_key(X, y, pretrain):
    import torch

    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    settings = {
        **pretrain,
        "architecture": "conv32x5-pool-conv64x5-pool-dense256",
        "data_sha256": digest.hexdigest(),
        "torch": torch.__version__,
    }
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[
        :32
    ]


def pretrained_state(pretrain=PRETRAIN, cache=True, verbose=True):
    """The state dict (name -> float32 array) of the network pretrained on
    the 5,000 bundled digits with the settings ``pretrain``: read from
    ``<cache dir>/torch_peers/pretrained_<key>.npz``, or trained (in this
    process's thread setting) and written there; with ``cache=False``
    trained afresh and kept in memory only (once per process)."""
    import torch

    from skalltransfer import get_cache_dir
    from skalltransfer.datasets import load_mnist

    X, y = load_mnist()
    key = _pretrain_key(X, y, pretrain)
    if key in _PRETRAINED:
        return _PRETRAINED[key]
    directory = os.path.join(get_cache_dir(), "torch_peers")
    path = os.path.join(directory, f"pretrained_{key}.npz")
    state = None
    if cache and os.path.exists(path):
        try:
            with np.load(path, allow_pickle=False) as f:
                state = {name: f[name] for name in f.files}
            reference = make_network(10).state_dict()
            if set(state) != set(reference) or any(
                state[k].shape != tuple(v.shape) for k, v in reference.items()
            ):
                raise ValueError("arrays do not match the network")
        except (OSError, ValueError) as exc:
            print(f"discarding the cached PyTorch pretraining {path}: {exc}")
            state = None
    if state is None:
        start = time.perf_counter()
        torch.set_num_threads(n_threads())
        torch.manual_seed(pretrain["seed"])
        generator = torch.Generator().manual_seed(pretrain["seed"])
        network = make_network(10)
        loss = train(
            network,
            as_images(X),
            torch.from_numpy(np.asarray(y, dtype=np.int64)),
            epochs=pretrain["epochs"],
            batch_size=pretrain["batch_size"],
            learning_rate=pretrain["learning_rate"],
            generator=generator,
        )
        state = {k: v.detach().numpy().copy() for k, v in network.state_dict().items()}
        where = "not cached"
        if cache:
            os.makedirs(directory, exist_ok=True)
            tmp = f"{path}.{os.getpid()}.tmp.npz"
            np.savez(tmp, **state)
            os.replace(tmp, path)
            where = f"cached in {path}"
        if verbose:
            print(
                f"PyTorch pretraining on the digits ({pretrain['epochs']} epochs): "
                f"{time.perf_counter() - start:.0f} s, last-epoch loss {loss:.4f}, "
                f"{where}",
                flush=True,
            )
    _PRETRAINED[key] = state
    return state


def pretrained_network(n_classes, seed, pretrain=PRETRAIN, cache=True):
    """The network pretrained with ``pretrain`` (:func:`pretrained_state`)
    under a new output layer of ``n_classes`` units (PyTorch's default
    initialisation under ``torch.manual_seed(seed)``)."""
    import torch

    state = pretrained_state(pretrain, cache)
    torch.manual_seed(seed)
    network = make_network(n_classes)
    body = {k: torch.from_numpy(v) for k, v in state.items() if not k.startswith("9.")}
    missing, unexpected = network.load_state_dict(body, strict=False)
    assert sorted(missing) == ["9.bias", "9.weight"] and not unexpected
    return network


# -- the peers as scikit-learn classifiers ------------------------------------
class TorchConvClassifier(ClassifierMixin, BaseEstimator):
    """The conv network trained on the target: from random initialisation
    (``pretrain=None``) or fine-tuned, every layer, from the network
    pretrained on the digits with the settings ``pretrain`` (a new output
    layer). At least ``updates`` minibatch updates, in whole epochs."""

    def __init__(
        self,
        pretrain=None,
        learning_rate=1e-3,
        updates=UPDATES,
        batch_size=BATCH_SIZE,
        cache=True,
        random_state=0,
    ):
        self.pretrain = pretrain
        self.cache = cache
        self.learning_rate = learning_rate
        self.updates = updates
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X, y):
        import torch

        torch.set_num_threads(n_threads())
        self.classes_, codes = np.unique(y, return_inverse=True)
        k, seed = len(self.classes_), int(self.random_state)
        if self.pretrain is not None:
            self.network_ = pretrained_network(k, seed, self.pretrain, self.cache)
        else:
            torch.manual_seed(seed)
            self.network_ = make_network(k)
        batches = math.ceil(len(X) / self.batch_size)
        self.n_epochs_ = math.ceil(self.updates / batches)
        self.n_updates_ = self.n_epochs_ * batches
        self.loss_ = train(
            self.network_,
            as_images(X),
            torch.from_numpy(codes.astype(np.int64)),
            epochs=self.n_epochs_,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            generator=torch.Generator().manual_seed(seed),
        )
        return self

    def predict(self, X):
        import torch

        torch.set_num_threads(n_threads())
        return self.classes_[outputs(self.network_, X).argmax(axis=1)]


class TorchProbeClassifier(ClassifierMixin, BaseEstimator):
    """Logistic regression on the pretrained network's dense (256) features
    (standardised; ``C`` by stratified inner cross-validation)."""

    def __init__(self, pretrain=PRETRAIN, Cs=PROBE_CS, cache=True, random_state=0):
        self.pretrain = pretrain
        self.Cs = Cs
        self.cache = cache
        self.random_state = random_state

    def _features(self, X):
        import torch

        torch.set_num_threads(n_threads())
        if not hasattr(self, "body_"):
            self.body_ = pretrained_network(10, 0, self.pretrain, self.cache)[:-1]
        return outputs(self.body_, X)

    def fit(self, X, y):
        per_class = np.bincount(np.unique(y, return_inverse=True)[1]).min()
        cv = StratifiedKFold(min(3, per_class), shuffle=True, random_state=0)
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        self.search_ = GridSearchCV(
            probe, {"logisticregression__C": list(self.Cs)}, cv=cv
        )
        self.search_.fit(self._features(X), y)
        self.classes_ = self.search_.classes_
        return self

    def predict(self, X):
        return self.search_.predict(self._features(X))


def peers(updates=UPDATES, quick=False):
    """The three peers as ``name -> factory(seed, n_per_class)``, as
    ``bench_alltransfer.PEERS``. With ``quick`` (a smoke run) the network is
    pretrained for one epoch, afresh, and never read from or written to the
    disk cache."""
    pretrain = {**PRETRAIN, "epochs": 1} if quick else PRETRAIN
    cache = not quick

    def conv(pretrained, learning_rate):
        return lambda seed, n: TorchConvClassifier(
            pretrain=pretrain if pretrained else None,
            learning_rate=learning_rate,
            updates=updates,
            cache=cache,
            random_state=seed,
        )

    return {
        "PyTorch scratch": conv(False, SCRATCH_LR),
        "PyTorch fine-tune": conv(True, FINETUNE_LR),
        "PyTorch probe": lambda seed, n: TorchProbeClassifier(
            pretrain, cache=cache, random_state=seed
        ),
    }
