"""The gallery: every experiment at its default config, its figures, numbers and checked claims,
with an index for a reader (``index.md``) and for a browser (``index.html``).

    python -m mathml_jax.gallery                      # every experiment -> results/gallery/
    python -m mathml_jax.gallery --only eigen svd     # these, then the index from all folders
    python -m mathml_jax.gallery --index-only         # the index from the files alone
    python -m mathml_jax.gallery --check [NAME ...]   # rerun, compare with the committed files

``results/gallery/<name>/`` holds the experiment's figures, ``claims.md`` and ``metrics.json``
(and any Markdown text it writes). Experiments are found through the registry
(``experiments.available()``) and ordered as the essay reaches them
(:data:`mathml_jax.gallery.roadmap.ROADMAP`). The modules:

- :mod:`~mathml_jax.gallery.roadmap`: the order of the essay's sections;
- :mod:`~mathml_jax.gallery.build`: running the experiments (progress, timings), the check;
- :mod:`~mathml_jax.gallery.index` and :mod:`~mathml_jax.gallery.html`: the two pages, written
  from the gallery's files and the experiment modules only;
- :mod:`~mathml_jax.gallery.check`: what counts as drift, and the tolerances.
"""

from mathml_jax.gallery.roadmap import ROADMAP, UnknownSection, ordered, place

__all__ = ["ROADMAP", "UnknownSection", "ordered", "place"]
