"""Sphinx configuration of the skprob documentation.

Build with ``make html`` in this folder (warnings are errors). The gallery
executes every script in ``../examples``; set ``SKPROB_EXAMPLES_FAST=1`` to
run them on shrunken data, in a few seconds each. The build needs no network
access, and neither do the pages it writes: no intersphinx inventories are
fetched, and MathJax is served from the build's own ``_static`` folder (the
``sphinx-mathjax-offline`` package of the ``docs`` extra ships it).
"""

import importlib.metadata

from docutils import nodes

from skprob import __version__

project = "skprob"
author = "the skprob developers"
copyright = "the skprob developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "literal"

# -- autodoc / autosummary / numpydoc --------------------------------------
autosummary_generate = True
autodoc_typehints = "none"
# Methods are documented by the autosummary class template, so numpydoc does
# not add its own (duplicate) member tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# -- math, rendered without a network ----------------------------------------
# MathJax 3 from the sphinx-mathjax-offline package, copied into _static/mathjax
# (its own Sphinx extension does not declare parallel safety, so only its files
# are used). Without it the pages would load MathJax from a CDN and show raw
# LaTeX offline.
try:
    _MATHJAX_FILES = importlib.metadata.distribution("sphinx-mathjax-offline").locate_file(
        "sphinx-mathjax-offline/static"
    )
except importlib.metadata.PackageNotFoundError as error:
    raise RuntimeError(
        'The documentation needs sphinx-mathjax-offline: pip install -e ".[docs]"'
    ) from error
mathjax_path = "mathjax/tex-chtml.js"

# -- sphinx-gallery ---------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skprob",),
    "reference_url": {"skprob": None},
    "backreferences_dir": "gen_modules/backreferences",
    "remove_config_comments": True,
    "show_memory": False,
    # No sg_execution_times.rst in the source tree (it would be an untracked file).
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skprob {version}"
html_static_path = ["_static", str(_MATHJAX_FILES)]
html_css_files = ["skprob.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    # The "on this page" column only on the top-level and user-guide pages: API
    # and gallery pages (no pattern matches them) give its width to code and
    # printed output, where it would list one or two headings.
    "secondary_sidebar_items": {
        "*": ["page-toc"],
        "user_guide/*": ["page-toc"],
    },
}
html_show_sourcelink = False

# -- links into scikit-learn's documentation ----------------------------------
# Methods inherited from scikit-learn (score, get_params, the metadata-routing
# setters) have docstrings that refer to labels and glossary terms of
# scikit-learn's own documentation. Resolve exactly those to its pages, without
# fetching an intersphinx inventory (the build needs no network access).
_SKLEARN_DOCS = "https://scikit-learn.org/stable/"
_SKLEARN_TARGETS = {
    "r2_score": "modules/model_evaluation.html#r2-score",
    "accuracy_score": "modules/model_evaluation.html#accuracy-score",
    "metadata_routing": "metadata_routing.html",
    "meta-estimator": "glossary.html#term-meta-estimator",
}


def _link_sklearn_target(app, env, node, contnode):
    """Turn an unresolved reference to one of scikit-learn's labels into a link."""
    page = _SKLEARN_TARGETS.get(node.get("reftarget"))
    if node.get("refdomain") != "std" or page is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=_SKLEARN_DOCS + page)
    reference += contnode
    return reference


def setup(app):
    app.connect("missing-reference", _link_sklearn_target)
