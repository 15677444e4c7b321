"""Sphinx helpers for the skalltransfer documentation.

- :class:`ExampleOrder`: reading order of the gallery examples (a
  sphinx-gallery ``within_subsection_order`` key);
- :func:`api_entries` and :func:`missing_api_entries`: the names listed in
  ``api.rst`` and the public names missing from it;
- ``setup``: a Sphinx extension that warns (an error under ``-W``) when a
  public name is missing from ``api.rst``, and leaves the members inherited
  from scikit-learn out of the class pages.

Kept free of Sphinx imports at module level so that a test can import it
(``sys.path.insert(0, "docs/sphinxext")``) and call
:func:`missing_api_entries` directly.
"""

import importlib
import re
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent.parent

#: Modules whose ``__all__`` must be covered by ``api.rst``. The namespaces
#: ``sources``, ``transfer``, ``metrics``, ``plotting`` and ``model_selection``
#: re-export objects of
#: the top level; such a name is covered by the entry of the same object.
PUBLIC_MODULES = (
    "skalltransfer",
    "skalltransfer.sources",
    "skalltransfer.transfer",
    "skalltransfer.metrics",
    "skalltransfer.plotting",
    "skalltransfer.model_selection",
    "skalltransfer.datasets",
    "skalltransfer.active",
)

#: Public names that are not documented by an autosummary entry.
NOT_DOCUMENTED = {"__version__"}

#: Gallery examples in reading order; files not listed come last, by name.
EXAMPLE_ORDER = (
    "plot_relation.py",
    "plot_conv_source.py",
    "plot_schemes.py",
    "plot_cross_val_score.py",
    "plot_grid_search.py",
    "plot_image_folder.py",
    "plot_own_images.py",
    "plot_mmd_finetuning.py",
    "plot_active_learning.py",
)


class ExampleOrder:
    """Sort key of the gallery examples (see :data:`EXAMPLE_ORDER`)."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        rank = (
            EXAMPLE_ORDER.index(name) if name in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        )
        return (rank, name)

    def __repr__(self):
        return f"<{type(self).__name__}>"


_CURRENTMODULE = re.compile(r"^\.\. (?:current)?module::\s*(\S+)\s*$")
_AUTOSUMMARY = re.compile(r"^\.\. autosummary::\s*$")
_ENTRY = re.compile(r"^\s+([A-Za-z_][\w.]*)\s*$")
_OPTION = re.compile(r"^\s+:[\w-]+:")


def api_entries(path=DOCS_DIR / "api.rst"):
    """Fully qualified names listed in the autosummary tables of ``path``.

    The format is the one ``api.rst`` follows: a ``.. module::`` (or
    ``.. currentmodule::``) line, then ``.. autosummary::`` blocks whose
    entries are bare names, one per indented line, after the directive's
    options and a blank line.
    """
    names = set()
    module = None
    in_table = False
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _CURRENTMODULE.match(line)
        if match:
            module, in_table = match.group(1), False
            continue
        if _AUTOSUMMARY.match(line):
            in_table = True
            continue
        if not in_table or not line.strip() or _OPTION.match(line):
            continue
        match = _ENTRY.match(line)
        if match is None:
            # The first unindented line ends the table.
            in_table = False
            continue
        name = match.group(1)
        names.add(name if module is None else f"{module}.{name}")
    return names


def public_names(modules=PUBLIC_MODULES):
    """Fully qualified names of every ``__all__`` entry of ``modules``."""
    names = set()
    for module_name in modules:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", ()):
            if name not in NOT_DOCUMENTED:
                names.add(f"{module_name}.{name}")
    return names


def _resolve(qualified_name):
    """The object a fully qualified name refers to, or None if it does not
    import."""
    module_name, _, name = qualified_name.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None


def missing_api_entries(path=DOCS_DIR / "api.rst", modules=PUBLIC_MODULES):
    """Sorted public names that ``api.rst`` does not list.

    A name that ``api.rst`` does not list itself is covered when it is the
    same object as a listed one: ``skalltransfer.sources.MPDBMClassifier``
    by the entry of ``skalltransfer.MPDBMClassifier``.
    """
    listed = api_entries(path)
    documented = set()
    for name in listed:
        obj = _resolve(name)
        if obj is not None:
            documented.add(id(obj))
    return sorted(
        name
        for name in public_names(modules) - listed
        if _resolve(name) is None or id(_resolve(name)) not in documented
    )


def _check_api(app):
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    missing = missing_api_entries(Path(app.srcdir) / "api.rst")
    if missing:
        logger.warning(
            "api.rst does not list the public name(s) %s; add them to an "
            "autosummary table.",
            ", ".join(missing),
        )


def skip_sklearn_members(app, what, name, obj, skip, options):
    """Leave out the members estimators inherit from scikit-learn.

    ``get_params``, ``set_output``, ``set_*_request`` and the like are
    documented by scikit-learn; their docstrings also link to scikit-learn's
    own pages, which would be unresolved references here.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    module = getattr(obj, "__module__", None) or ""
    if module == "sklearn" or module.startswith("sklearn."):
        return True
    return None


_SHAPE_NAME = re.compile(r"(?<=[(, ])([A-Za-z]\w*_)(?=[,)])")
_SECTIONS = {
    "Parameters",
    "Returns",
    "Yields",
    "Raises",
    "Warns",
    "Other Parameters",
    "Attributes",
    "Methods",
    "See Also",
    "Notes",
    "Warnings",
    "References",
    "Examples",
}


def fix_docstring_markup(app, what, name, obj, options, lines):
    """Repair two docstring patterns that reST misreads (runs before numpydoc).

    - In a raw docstring, a long type line continued with a trailing
      backslash keeps the backslash (Python drops it, with the line break,
      in a normal docstring): such lines are joined as Python would.
    - In a type such as ``of shape (n_samples, n_features_in_)`` a bare name
      ending in an underscore is a reST reference to an unknown target: it
      is set as literal text instead.
    - numpydoc only recognises a section header (``See Also`` over a line of
      dashes) after a blank line; one is inserted where a docstring template
      left none.
    """
    joined = []
    for line in lines:
        if joined and joined[-1].endswith(" \\") and not joined[-1].endswith("\\\\"):
            joined[-1] = joined[-1][:-1] + line.lstrip()
        else:
            joined.append(line)
    fixed = []
    for i, line in enumerate(joined):
        if "shape (" in line and "``" not in line:
            line = _SHAPE_NAME.sub(r"``\1``", line)
        title = line.strip()
        underline = joined[i + 1].strip() if i + 1 < len(joined) else ""
        if (
            title in _SECTIONS
            and underline == "-" * len(title)
            and fixed
            and fixed[-1].strip()
        ):
            fixed.append("")
        fixed.append(line)
    lines[:] = fixed


def setup(app):
    app.connect("builder-inited", _check_api)
    app.connect("autodoc-skip-member", skip_sklearn_members)
    # numpydoc's own handler runs at the default priority (500).
    app.connect("autodoc-process-docstring", fix_docstring_markup, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
