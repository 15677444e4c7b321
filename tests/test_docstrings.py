"""Every public estimator and function documents every parameter: the
numpydoc Parameters section lists the signature's parameters in order, each
with a description. And the package states no measured results."""

import inspect
import pathlib
import re

import pytest

numpydoc = pytest.importorskip("numpydoc.docscrape")

import skalltransfer  # noqa: E402
import skalltransfer.active  # noqa: E402
import skalltransfer.datasets  # noqa: E402
import skalltransfer.metrics  # noqa: E402

DEPRECATED = {
    "clear_source_cache",
    "limit_threads",
    "mk_mmd2",
    "plot_filters",
    "thread_info",
}


def _public_objects():
    seen = {}
    for module in (skalltransfer, skalltransfer.metrics, skalltransfer.datasets,
                   skalltransfer.active):  # fmt: skip
        for name in module.__all__:
            obj = getattr(module, name)
            if name in DEPRECATED or not callable(obj):
                continue
            seen[f"{module.__name__}.{name}"] = obj
    return seen


def _documented(obj):
    doc = numpydoc.ClassDoc(obj) if inspect.isclass(obj) else numpydoc.FunctionDoc(obj)
    return doc


def _signature_names(obj):
    func = obj.__init__ if inspect.isclass(obj) else obj
    params = inspect.signature(func).parameters.values()
    return [
        p.name for p in params
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]  # fmt: skip


@pytest.mark.parametrize("name, obj", sorted(_public_objects().items()))
def test_every_parameter_is_documented_in_order(name, obj):
    doc = _documented(obj)
    documented = []
    for param in doc["Parameters"]:
        # "a, b : type" documents several parameters at once.
        documented += [p.strip() for p in param.name.split(",")]
    assert documented == _signature_names(obj)
    undescribed = [p.name for p in doc["Parameters"] if not "".join(p.desc).strip()]
    assert undescribed == []


# A number followed by "%", "points", "minutes" or "seconds": how a measured
# result reads. Format strings such as ``{x:.1%}`` do not match.
_MEASUREMENT = re.compile(
    r"(^|[ (/])[0-9]+(\.[0-9]+)? ?(%|points\b|minutes\b|seconds\b)"
)


def test_the_package_states_no_measured_results():
    # Measurements live on the benchmarks page (docs/benchmarks.rst), with
    # the command that produces them; docstrings, comments and --help say
    # what a parameter does and why, and point there.
    root = pathlib.Path(skalltransfer.__file__).parent
    hits = [
        f"{path.relative_to(root.parent)}:{number}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if _MEASUREMENT.search(line)
    ]
    assert hits == []
