"""``skalltransfer reproduce`` end to end, on a tiny profile."""

import json
import os
import warnings

import pytest

from skalltransfer.cli._main import main
from skalltransfer.reproduce._profiles import PROFILES, Profile

TINY = Profile(
    name="quick",
    hidden=(24, 24),
    narrow=(24, 4),
    mpdbm=dict(max_iter=2, n_mean_field_iter=3),
    sae=dict(pretrain_max_iter=1, max_iter=3),
    conv=dict(
        conv_layers=((4, 5), (8, 5)),
        hidden_layer_sizes=(16,),
        pretrain_max_iter=1,
        max_iter=2,
    ),
    tasks=((1, 3),),
    n_per_class=(5, 10),
    # Fewer than the 3 draws the command line accepts (--draws), to stay fast.
    n_draws=2,
    updates=10,
)


@pytest.fixture
def tiny_profile(monkeypatch):
    monkeypatch.setitem(PROFILES, "quick", TINY)


def test_reproduce_writes_report_results_and_figures(tiny_profile, tmp_path, capsys):
    out = tmp_path / "report"
    status = main(
        [
            "reproduce",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
        ]
    )
    assert status == 0
    report = (out / "report.md").read_text()
    for title in ("Table II", "Table III", "Table IV", "Table V", "Convolutional"):
        assert title in report
    assert "| AllTransferClassifier defaults (conv source) |" in report
    assert "| v = relation (MP-DBM) |" in report and "99.6" in report  # paper column
    results = json.loads((out / "results.json").read_text())
    # 15 methods x 2 sizes x 1 task, each with one score per draw.
    assert len(results["scores"]) == 30
    assert all(len(v) == 2 for v in results["scores"].values())
    assert all(0 <= s <= 1 for v in results["scores"].values() for s in v)
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {
        "relation_mpdbm.png",
        "relation_sae.png",
        "filters.png",
        "accuracy_vs_n.png",
    } <= figures
    for name in figures:
        assert f"figures/{name}" in report
    # A second run loads the four sources from the cache.
    main(
        [
            "reproduce",
            "--out",
            str(out),
            "--cache-dir",
            str(tmp_path / "c"),
            "--no-progress",
            "--n-per-class",
            "5",
        ]
    )
    again = json.loads((out / "results.json").read_text())
    assert all(t < 1.0 for t in again["source_fit_seconds"].values())
    assert set(again["source_fit_seconds"]) == {"mpdbm", "mpdbm_narrow", "sae", "conv"}
    assert len(again["scores"]) == 15


def test_reproduce_rejects_bad_tasks(capsys):
    assert main(["reproduce", "--tasks", "3"]) == 2
    assert "two or more distinct" in capsys.readouterr().err


def test_reproduce_on_full_fashion_mnist_with_a_four_class_task(tiny_profile, tmp_path):
    # The full profile's target: Debian's Fashion-MNIST IDX files, not the
    # bundled subset; CI installs them, so there they must be read.
    from skalltransfer.datasets import load_fashion_mnist

    try:
        load_fashion_mnist(split="test")
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Fashion-MNIST must be installed on CI: {exc}")
        pytest.skip(str(exc))
    out = tmp_path / "report"
    args = ["reproduce", "--out", str(out), "--cache-dir", str(tmp_path / "c")]
    args += ["--no-progress", "--target", "full", "--tasks", "0,1,7,8"]
    args += ["--n-per-class", "5"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(args) == 0
    # Falling back to the bundled subset would warn; it must not happen here.
    assert not [w for w in caught if "bundled subset" in str(w.message)]
    report = (out / "report.md").read_text()
    assert "full set" in report and "Sneaker" in report
    results = json.loads((out / "results.json").read_text())
    assert len(results["scores"]) == 15
    assert all(key.startswith("(0, 1, 7, 8)|5|") for key in results["scores"])
    # Four classes, 4,000 test images: chance is 25%, and a linear SVM on
    # 20 raw images already separates these clothes far better.
    assert results["scores"]["(0, 1, 7, 8)|5|Raw pixels + linear SVM"][0] > 0.6
