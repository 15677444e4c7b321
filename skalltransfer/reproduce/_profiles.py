"""What ``skalltransfer reproduce`` runs: the profiles (sizes and budgets),
the paper's reported numbers and the compared methods."""

import math
from dataclasses import dataclass, field

from sklearn.svm import LinearSVC

from skalltransfer.datasets._tasks import DEVELOPMENT_TASKS
from skalltransfer.sources._autoencoder import StackedAutoencoderClassifier
from skalltransfer.transfer._alltransfer import AllTransferClassifier

# The paper's reported accuracies (%), MNIST -> X-ray CT lesions, 1,000
# training images per class, 280 test images.
PAPER = {
    "table2": {"relation": 99.6, "random": 97.5},
    "table3": {"(784, 500, 50, 10)": 99.3, "(784, 500, 500, 10)": 99.6},
    "table4": {"T=0": 93.2, "T=1": 98.2, "T=2": 98.5, "T=3 (all)": 99.6},
    "table5": {
        "Raw pixels + linear SVM": 97.5,
        "Stacked autoencoder (no transfer)": 98.2,
        "Stacked autoencoder (transfer)": 98.5,
        "T=2 + new hidden layer": 98.9,
        "T=3 (proposed)": 99.6,
    },
}


# The paper's MP-DBM source: trained by the multi-prediction objective only
# (the classifier's default adds a discriminative stage).
PAPER_MPDBM = dict(discriminative_max_iter=0)


@dataclass
class Profile:
    """Sizes and budgets of one reproduction run."""

    name: str
    hidden: tuple  # the main architecture, the paper's (500, 500)
    narrow: tuple  # Table III's alternative, the paper's (500, 50)
    mpdbm: dict = field(default_factory=dict)
    sae: dict = field(default_factory=dict)
    conv: dict = field(default_factory=dict)  # the convolutional source
    tasks: tuple = ((1, 3),)
    n_per_class: tuple = (10, 50, 100, 1000)
    n_draws: int = 3
    updates: int = 300  # fine-tuning budget in minibatch updates
    max_epochs: int = 100
    target: str = "subset"


PROFILES = {
    # Half-width networks and an update budget, to run in minutes with an
    # empty cache (timings: see the benchmarks page (docs/benchmarks.rst)).
    # The convolutional source keeps its defaults in both profiles: the row
    # then measures the source `skalltransfer fit` uses.
    "quick": Profile(
        name="quick",
        hidden=(250, 250),
        narrow=(250, 25),
        mpdbm=dict(max_iter=30, n_mean_field_iter=10),
        sae=dict(pretrain_max_iter=10, max_iter=60),
        tasks=((1, 3),),
        updates=300,
    ),
    # The paper's architectures, the development tasks, longer training.
    "full": Profile(
        name="full",
        hidden=(500, 500),
        narrow=(500, 50),
        mpdbm=dict(max_iter=60),
        sae=dict(),
        tasks=DEVELOPMENT_TASKS,
        updates=2000,
        target="full",
    ),
}


def _epochs(profile, n_samples, batch_size=32):
    """Epochs giving about ``profile.updates`` minibatch updates."""
    n_batches = max(1, math.ceil(n_samples / batch_size))
    return int(min(profile.max_epochs, max(3, math.ceil(profile.updates / n_batches))))


def methods(profile, sources, n_samples):
    """Every compared method as ``name -> estimator factory(seed)``."""
    epochs = _epochs(profile, n_samples)
    paper = dict(selection="peak", output_scale=1.0, max_iter=epochs)
    main, narrow, sae = sources["mpdbm"], sources["mpdbm_narrow"], sources["sae"]
    conv = sources["conv"]
    n_hidden = len(profile.hidden)

    def transfer(source, **kw):
        return lambda seed: AllTransferClassifier(
            source, random_state=seed, **{**paper, **kw}
        )

    def mpdbm(source, **kw):
        # The paper fine-tunes its MP-DBM with the training objective itself
        # (step 2e), not the package's default discriminative fine-tuning.
        return transfer(source, finetune_objective="multi_prediction", **kw)

    return {
        "MP-DBM relation": mpdbm(main),
        "MP-DBM random": mpdbm(main, selection="random"),
        "MP-DBM narrow": mpdbm(narrow),
        "MP-DBM T=0": mpdbm(main, n_transferred_layers=0),
        "MP-DBM T=1": mpdbm(main, n_transferred_layers=1),
        "MP-DBM T=2": mpdbm(main, n_transferred_layers=2),
        "MP-DBM T=2 + new layer": mpdbm(
            main, n_transferred_layers=n_hidden, extra_hidden_layer=profile.hidden[-1]
        ),
        "AllTransferClassifier defaults (MP-DBM)": lambda seed: AllTransferClassifier(
            main, random_state=seed, max_iter=epochs
        ),
        "SAE relation": transfer(sae),
        "SAE random": transfer(sae, selection="random"),
        "SAE no transfer": lambda seed: StackedAutoencoderClassifier(
            profile.hidden, random_state=seed, **profile.sae
        ),
        "Raw pixels + linear SVM": lambda seed: LinearSVC(random_state=seed),
        "AllTransferClassifier defaults (SAE)": lambda seed: AllTransferClassifier(
            sae, random_state=seed, max_iter=epochs
        ),
        "Conv T=0": lambda seed: AllTransferClassifier(
            conv, n_transferred_layers=0, random_state=seed, max_iter=epochs
        ),
        "AllTransferClassifier defaults (conv)": lambda seed: AllTransferClassifier(
            conv, random_state=seed, max_iter=epochs
        ),
    }
