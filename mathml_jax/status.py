"""The one vocabulary of outcomes: integer codes returned by kernels inside ``jit``, turned
into words outside it (in the manner of optimistix's ``RESULTS``).

Two enumerations, each member an ``int`` (usable in ``jnp.where`` and comparable with the
int32 arrays kernels return) with a short ``word`` and a one-sentence ``message``:

- :class:`Status`: how an iterative run ended (CONVERGED, NOT_CONVERGED, DIVERGED,
  LEFT_INTERVAL).
- :class:`Kind`: what the second-order test says a critical point is (MINIMUM, MAXIMUM,
  SADDLE, DEGENERATE). DEGENERATE is one code in every dimension: a zero second derivative
  in one variable (x^3, x^4 at 0) and a Hessian eigenvalue within tolerance of zero with no
  sign change in several are the same outcome, "the second-order test does not decide".

Gradient descent records *when* a run diverged as a step index (``diverged_at``, with
:data:`NOT_DIVERGED` = -1 for never); :func:`describe_divergence` gives its words.

Example::

    status = newton_from_starts(...).status          # int32 array, inside jit
    Status.words(status)                              # ["converged", "diverged", ...]
    Status(int(status[0])).message
"""

from __future__ import annotations

import enum

import numpy as np

NOT_DIVERGED = -1  # diverged_at of a run that never diverged


class _Vocabulary(enum.IntEnum):
    """Integer codes with a word and a message each."""

    def __new__(cls, value: int, word: str, message: str):
        obj = int.__new__(cls, value)
        obj._value_ = value
        obj.word = word
        obj.message = message
        return obj

    @classmethod
    def words(cls, codes=None) -> list[str]:
        """The words of ``codes`` (any int array or sequence; outside ``jit``), or of every
        code in order when ``codes`` is None."""
        if codes is None:
            return [m.word for m in cls]
        return [cls(int(c)).word for c in np.asarray(codes).ravel()]

    @classmethod
    def messages(cls, codes=None) -> list[str]:
        """As :meth:`words`, the messages."""
        if codes is None:
            return [m.message for m in cls]
        return [cls(int(c)).message for c in np.asarray(codes).ravel()]


class Status(_Vocabulary):
    """How an iterative run ended."""

    CONVERGED = 0, "converged", "the stopping test passed"
    NOT_CONVERGED = 1, "not converged", "the step budget ran out before the stopping test passed"
    DIVERGED = 2, "diverged", ("an iterate became non-finite or left the ball it must stay in; "
                               "the last good iterate is kept")
    LEFT_INTERVAL = 3, "left the interval", "the iterate left the search interval"


class Kind(_Vocabulary):
    """The second-order test's verdict on a critical point."""

    MINIMUM = 0, "minimum", "positive definite second derivative: a strict local minimum"
    MAXIMUM = 1, "maximum", "negative definite second derivative: a strict local maximum"
    SADDLE = 2, "saddle", "second derivative of both signs: a saddle point"
    DEGENERATE = 3, "degenerate", ("a zero second derivative (eigenvalue within tolerance of 0) "
                                   "and no sign change: the second-order test is inconclusive")


def describe_divergence(diverged_at, quantity: str | None = None) -> str:
    """Words for a divergence step index: "diverged at step k" (with the quantity that became
    non-finite first, "diverged at step k (sd)", when given), or "did not diverge" for
    :data:`NOT_DIVERGED`."""
    k = int(diverged_at)
    if k < 0:
        return "did not diverge"
    return f"{Status.DIVERGED.word} at step {k}" + (f" ({quantity})" if quantity else "")


def divergence_summary(diverged_at, labels, unit: str = "step") -> str:
    """One line for a batch of runs: "2 of 3 runs diverged: start -1 at step 12, ..." or
    "no run diverged"; ``labels`` name the runs, ``unit`` what ``diverged_at`` counts."""
    k = np.asarray(diverged_at).ravel()
    bad = [f"{lab} at {unit} {int(i)}" for lab, i in zip(labels, k, strict=True) if i >= 0]
    if not bad:
        return "no run diverged"
    more = f" and {len(bad) - 4} more" if len(bad) > 4 else ""
    return f"{len(bad)} of {k.size} runs diverged: " + "; ".join(bad[:4]) + more
