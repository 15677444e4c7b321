"""Sphinx configuration for skalltransfer.

Build (from this directory)::

    python -m sphinx -W --keep-going -b html . _build/html

Environment variables read by the build:

``SKALLTRANSFER_DOCS_QUICK``
    Set to ``1`` for the reduced gallery used in CI: every example in
    ``examples/`` reads this variable itself and shrinks its source network,
    its source data, the epochs and the target data, so the whole gallery
    runs in about a minute on two cores and the build in about two.
    The examples then show the workflow, not representative accuracies.
    Unset (or ``0``) for the full gallery of the published documentation.
    Keep it quick: sphinx-gallery prints each example's running time, and
    ``sg_execution_times.rst`` lists them after a build.

``SKALLTRANSFER_DOCS_INTERSPHINX``
    Set to ``1`` to link to the Python, NumPy, SciPy, scikit-learn, joblib
    and matplotlib documentation. Off by default, because intersphinx
    downloads the inventories and an offline build would warn (an error
    under ``-W``). Without it, references to those projects render as plain
    text.

Pass ``-D plot_gallery=0`` to build the pages without running the examples.

Formulas are rendered by MathJax from ``_static/mathjax/`` of the built
pages, a copy the ``sphinx-mathjax-offline`` package (in the ``docs`` extra)
puts there, so they render without a network connection.
"""

import os
import sys
from pathlib import Path

import skalltransfer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "sphinxext"))


def _flag(name):
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


QUICK = _flag("SKALLTRANSFER_DOCS_QUICK")
INTERSPHINX = _flag("SKALLTRANSFER_DOCS_INTERSPHINX")

# -- project ---------------------------------------------------------------------
project = "skalltransfer"
author = "The skalltransfer developers"
copyright = "The skalltransfer developers"
release = skalltransfer.__version__
version = release

# -- extensions ------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax 3 from the package, copied into _static/mathjax/: no CDN.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "skt_docs",  # sphinxext/skt_docs.py: api.rst completeness check
]
if INTERSPHINX:
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable/", None),
        "scipy": ("https://docs.scipy.org/doc/scipy/", None),
        "sklearn": ("https://scikit-learn.org/stable/", None),
        "joblib": ("https://joblib.readthedocs.io/en/stable/", None),
        "matplotlib": ("https://matplotlib.org/stable/", None),
    }

templates_path = ["_templates"]
exclude_patterns = ["_build", "examples"]
root_doc = "index"
default_role = "literal"
add_module_names = False
nitpicky = False

# autodoc / autosummary: stub pages go to generated/ (git-ignored).
autosummary_generate = True
autodoc_typehints = "none"
autodoc_default_options = {"member-order": "bysource"}

# numpydoc renders the docstrings; the class template lists the members.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True

# -- sphinx-gallery --------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "skt_docs.ExampleOrder",
    "doc_module": ("skalltransfer",),
    "backreferences_dir": "generated/backreferences",
    "image_scrapers": ("matplotlib",),
    "remove_config_comments": True,
    "download_all_examples": False,
    "matplotlib_animations": False,
    "min_reported_time": 1,
    # A failing example fails the build.
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# -- HTML ------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skalltransfer {release}"
html_theme_options = {
    "show_toc_level": 2,
    "navigation_depth": 2,
    "show_prev_next": True,
}
html_show_sourcelink = False
