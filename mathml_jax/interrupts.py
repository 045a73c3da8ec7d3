"""Interrupts and concurrency: SIGTERM as an interrupt, and the INCOMPLETE marker of a folder.

- :func:`sigterm_as_interrupt` makes SIGTERM raise :class:`Terminated`, a ``KeyboardInterrupt``,
  so a terminated run takes the same path as Ctrl-C: ``atomic_write`` removes its temporary
  file, a streamed count keeps its partial result, and the folder is marked incomplete.
  SIGTERM's default action would kill the process with no Python code run at all.
- :func:`claim` writes ``INCOMPLETE`` into a run (or sweep) folder before anything else: it
  holds the pid of the run using the folder (the lock: a second run refuses while that pid
  lives; a dead pid's marker is stale and taken over) and stays there until the folder is
  complete, so a run killed by SIGKILL leaves a folder marked incomplete, never a
  ``metrics.json`` that looks complete. :func:`release` removes it; :func:`mark` records why
  a folder stays incomplete (interrupted, with which signal, in which phase).
- :func:`clear_previous` removes what an earlier run in the same folder left (its outputs,
  stray temporary files, its marker) so a rerun into the folder starts clean.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

#: the marker of a folder whose run has not finished (or never will)
MARKER = "INCOMPLETE"

#: exit status of a run stopped by a signal (the shell's 128 + signal number)
EXIT_SIGINT, EXIT_SIGTERM = 130, 143

#: files every run writes (besides its figures and texts)
RUN_FILES = ("metrics.json", "claims.md", "series.npz", "error.txt")
FIGURE_FORMATS = ("png", "pdf", "svg", "gif")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process was, like Ctrl-C's KeyboardInterrupt."""


class FolderInUse(Exception):
    """Another live run holds the folder's marker."""


#: the signals received since the last :func:`reset` (a streamed count catches the interrupt
#: itself: the runner reads here that one came, and which)
received: list[str] = []


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001 - the signal module's signature
    received.append("SIGTERM")
    raise Terminated("SIGTERM")


def _on_sigint(signum, frame) -> None:  # noqa: ARG001
    received.append("SIGINT")
    raise KeyboardInterrupt


def _unraisable(u) -> None:
    """``sys.unraisablehook``: an interrupt raised where Python cannot propagate it (a signal
    that arrived in a garbage-collection callback or a ``__del__``: "Exception ignored in")
    is delivered again a moment later, where it can be raised."""
    if u.exc_type is not None and issubclass(u.exc_type, KeyboardInterrupt):
        sig = signal.SIGTERM if issubclass(u.exc_type, Terminated) else signal.SIGINT
        threading.Timer(0.01, os.kill, (os.getpid(), sig)).start()
        return
    _previous_hook(u)


_previous_hook = sys.unraisablehook


def _install() -> dict:
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, _on_sigterm)}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not if ignored
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, _on_sigint)
    global _previous_hook
    if sys.unraisablehook is not _unraisable:
        _previous_hook = sys.unraisablehook
    sys.unraisablehook = _unraisable
    return previous


def install() -> None:
    """SIGTERM raises :class:`Terminated` and SIGINT KeyboardInterrupt (both recorded in
    :data:`received`) in the main thread, for the life of the process (run.py)."""
    if threading.current_thread() is threading.main_thread():
        _install()


@contextmanager
def signals_as_interrupts() -> Iterator[None]:
    """:func:`install` for the block (main thread only; elsewhere the block runs unchanged);
    the previous handlers are restored after it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hook = sys.unraisablehook
    previous = _install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.unraisablehook = hook


def reset() -> None:
    received.clear()


def signal_name(e: BaseException | None = None) -> str:
    """The signal behind interrupt ``e`` (or, without one, the last signal received)."""
    if e is not None:
        return "SIGTERM" if isinstance(e, Terminated) else "SIGINT"
    return received[-1] if received else "SIGINT"


def exit_status(e: BaseException | None = None) -> int:
    return EXIT_SIGTERM if signal_name(e) == "SIGTERM" else EXIT_SIGINT


# ----------------------------------------------------------------------------- the marker

def _start_time(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (Linux), to tell a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, start: str | None = None) -> bool:
    """Whether process ``pid`` lives (and, given its recorded start time, is the same
    process, not a later one that got the same pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    now = _start_time(pid)
    return start is None or now is None or now == start


def read_marker(folder: str | os.PathLike) -> dict | None:
    """The content of ``folder``'s marker: {} when unreadable, None when there is none."""
    path = Path(folder) / MARKER
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return {}
    try:
        out = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return out if isinstance(out, dict) else {}


def holder(folder: str | os.PathLike) -> dict | None:
    """The marker of ``folder`` when another live process holds it, else None."""
    info = read_marker(folder)
    if info is None:
        return None
    if not info:  # being written this instant, or damaged: in use only if brand new
        try:
            age = time.time() - (Path(folder) / MARKER).stat().st_mtime
        except OSError:
            return None
        return {"pid": "?"} if age < 5 else None
    pid = info.get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or info.get("status") != "running":
        return None
    return info if alive(pid, info.get("start")) else None


def _write(path: Path, info: dict, *, exclusive: bool) -> None:
    text = json.dumps(info, indent=1) + "\n"
    if exclusive:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return
    from mathml_jax.writer import atomic_write_text

    atomic_write_text(path, text)


def claim(folder: str | os.PathLike, what: str) -> Path:
    """Marks ``folder`` (created if missing) as in use by this process for ``what`` (an
    experiment's name, or "sweep").

    Raises:
      FolderInUse: another live run holds the folder.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    info = {"status": "running", "what": what, "pid": os.getpid(),
            "start": _start_time(os.getpid()), "since": time.strftime("%Y-%m-%dT%H:%M:%S")}
    path = folder / MARKER
    try:
        _write(path, info, exclusive=True)
        return path
    except FileExistsError:
        pass
    other = holder(folder)
    if other is not None:
        raise FolderInUse(f"it is in use by another run ({other.get('what', 'a run')}, "
                          f"pid {other.get('pid')}, since {other.get('since', '?')})")
    _write(path, info, exclusive=False)  # ours already, or stale: taken over
    if (read_marker(folder) or {}).get("pid") != os.getpid():  # lost a race for a stale one
        raise FolderInUse("another run took it this instant")
    return path


def mark(folder: str | os.PathLike, status: str, reason: str) -> None:
    """Keeps ``folder`` marked incomplete, recording ``status`` and ``reason``."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    info = read_marker(folder) or {}
    info.update(status=status, reason=reason, at=time.strftime("%Y-%m-%dT%H:%M:%S"))
    _write(folder / MARKER, info, exclusive=False)


def release(folder: str | os.PathLike) -> None:
    """Removes ``folder``'s marker if this process holds it (the folder is complete)."""
    info = read_marker(folder)
    if info is not None and info.get("pid") in (os.getpid(), None):
        (Path(folder) / MARKER).unlink(missing_ok=True)


def stray_temporaries(folder: str | os.PathLike) -> list[Path]:
    """The temporary files :mod:`mathml_jax.writer` makes (``.<name>.<random>.tmp`` and
    ``.<stem>.tmp.<ext>``), left behind only by a process killed while writing."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.startswith(".")
                  and (p.name.endswith(".tmp") or ".tmp." in p.name))


def clear_previous(folder: str | os.PathLike, output_names: Iterable[str]) -> list[Path]:
    """Removes what an earlier run left in ``folder``: its fixed files (metrics.json,
    claims.md, series.npz, error.txt), the figures and texts named ``output_names`` (every
    format), stray temporary files. Nothing else: a folder given by the user may hold
    files of its own. Returns what was removed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    names = set(RUN_FILES)
    for n in output_names:
        names |= {f"{n}.{ext}" for ext in FIGURE_FORMATS} | {f"{n}.md"}
    gone = [folder / n for n in sorted(names) if (folder / n).is_file()]
    gone += stray_temporaries(folder)
    for p in gone:
        p.unlink(missing_ok=True)
    return gone
