"""The essay's order: where each experiment stands in the roadmap (``/shared/roadmap.md``).

:data:`ROADMAP` is the one place the order lives: the essay's parts in reading order, each with
the ``SECTION`` prefixes of the experiments that belong to it, in the order the essay reaches
them. An experiment's place is the entry whose prefix is the longest its ``SECTION`` starts
with; experiments under the same prefix follow their names. An experiment whose ``SECTION``
starts with no prefix here is an error (:func:`place` raises): a new section is placed here by
hand, on purpose, not appended silently at the end.
"""

from __future__ import annotations

from collections.abc import Iterable

#: (the essay's part, the SECTION prefixes of its experiments in the essay's order). Where the
#: essay has one heading for several ideas (Calculus / Differentiation: the derivative, then
#: extrema, then the chain rule), the prefix includes the detail after the colon.
ROADMAP: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Calculus", (
        "Calculus / Differentiation: the derivative as a limit",
        "Calculus / Differentiation: critical points",
        "Calculus / Differentiation: the chain rule",
        "Calculus / Integration",
    )),
    ("Linear algebra", (
        "Linear algebra / Vector spaces",
        "Linear algebra / Basis and orthonormal basis",
        "Linear algebra / Linear transformations",
        "Linear algebra / Determinants",
        "Linear algebra / Eigenvalues",
        "Linear algebra / Matrix decompositions: the singular value decomposition",
        "Linear algebra / Matrix decompositions: principal component analysis",
    )),
    ("Multivariable calculus", (
        "Multivariable calculus / Differentiation in multiple variables: the gradient",
        "Multivariable calculus / Differentiation in multiple variables: gradient descent",
        # the essay: "modern gradient descent-based optimizers employ ... adaptive step size,
        # momentum", right after gradient descent
        "Optimisation: gradient descent and its modern variants",
        "Multivariable calculus / the total derivative and the chain rule",
        "Multivariable calculus / Higher-order derivatives",
    )),
    ("Probability theory", (
        "Probability theory / Probability",
        "Probability theory / Expected value",
        "Probability theory / Law of large numbers",
        "Probability theory / Law of large numbers: stochastic gradient descent",
        "Probability theory / Information theory: entropy",
        "Probability theory / Information theory: cross-entropy",
    )),
    # the kernels of every part above, timed: after the foundations they measure
    ("Benchmarks", ("All sections",)),
    ("Beyond the mathematical foundations", ("Beyond the mathematical foundations",)),
)

PREFIXES: tuple[str, ...] = tuple(p for _, prefixes in ROADMAP for p in prefixes)


class UnknownSection(ValueError):
    """An experiment's SECTION matches no entry of :data:`ROADMAP`."""


def place(section: str) -> tuple[int, str]:
    """(position in the roadmap, part name) of an experiment whose SECTION is ``section``.

    Raises:
      UnknownSection: no prefix of :data:`ROADMAP` begins ``section``.
    """
    matches = [(len(p), i) for i, p in enumerate(PREFIXES) if section.startswith(p)]
    if not matches:
        raise UnknownSection(
            f"section {section!r} is not in the roadmap order (mathml_jax/gallery/roadmap.py, "
            "ROADMAP): add its prefix where the essay reaches it")
    index = max(matches)[1]
    prefix = PREFIXES[index]
    part = next(part for part, prefixes in ROADMAP if prefix in prefixes)
    return index, part


def ordered(sections: dict[str, str]) -> list[str]:
    """The experiment names of ``{name: SECTION}`` in roadmap order (ties by name)."""
    return sorted(sections, key=lambda name: (place(sections[name])[0], name))


def parts_of(names: Iterable[str], sections: dict[str, str]) -> list[tuple[str, list[str]]]:
    """(part, its experiments) in roadmap order, for the table of contents."""
    out: list[tuple[str, list[str]]] = []
    for name in ordered({n: sections[n] for n in names}):
        part = place(sections[name])[1]
        if not out or out[-1][0] != part:
            out.append((part, []))
        out[-1][1].append(name)
    return out
