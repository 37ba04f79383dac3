"""One writer per output: a lock file beside what a run writes, so two runs never mix their work.

``mertool flow rois.h5 -o flow.h5`` started twice at once would write the same hidden
``.flow.h5.partial`` file (one truncating the other's samples) and rename it twice; two
``eval-loso`` runs computing the same fold would do the same work twice. :func:`acquire` takes
an exclusive lock on a file such as ``.flow.h5.lock`` and, when another live run holds it,
raises a :class:`~mertool.errors.StoreError` that names that run (process id, host, start time,
command) and what to do.

Where the platform has ``fcntl.flock`` (Linux, macOS) the lock is the kernel's: it goes away with
the process that held it, however that process ended (``kill -9``, a power cut of a cluster
node), so a lock is never left stale. Elsewhere the file is created exclusively and holds the
holder's process id; a file whose process is gone is stale and taken over. The lock file is
removed on release; the holder's details in it are only for the message.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import time
import weakref
from pathlib import Path

from mertool.errors import StoreError

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def lock_path_for(target: Path) -> Path:
    """The lock file of an output file: ``.NAME.lock`` beside it."""
    return target.with_name(f".{target.name}.lock")


def _holder_text() -> str:
    return json.dumps(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "?",
        }
    )


def _describe_holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another mertool run"
    if not isinstance(info, dict) or "pid" not in info:
        return "another mertool run"
    where = f"pid {info.get('pid')} on {info.get('host', '?')}, started {info.get('started', '?')}"
    command = info.get("command")
    return f"another mertool run ({where}" + (f": {command})" if command else ")")


def cannot_write_error(folder: Path, exc: OSError, what: str) -> StoreError:
    """A clear error for an output folder mertool may not write in (read-only, full, ...)."""
    if exc.errno == errno.ENOSPC:
        why = "no space left on the device"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "permission denied"
    elif exc.errno == errno.EROFS:
        why = "the file system is read-only"
    else:
        why = exc.strerror or str(exc)
    return StoreError(
        f"cannot write {what} in {folder}: {why}",
        hint="write the output somewhere writable (-o OTHER/PATH); nothing was changed there",
    )


#: Locks this process holds, by absolute path (see :func:`acquire`: a lock is per process).
_HELD: weakref.WeakValueDictionary[str, OutputLock] = weakref.WeakValueDictionary()


class OutputLock:
    """A held lock; :meth:`release` (or leaving the ``with`` block) lets the next run in."""

    def __init__(self, path: Path, fd: int | None):
        self.path = path
        self._fd = fd
        _HELD[os.path.abspath(path)] = self

    @property
    def held(self) -> bool:
        return self._fd is not None or (fcntl is None and self.path.exists())

    def release(self) -> None:
        if self._fd is None and fcntl is not None:
            return
        if _HELD.get(os.path.abspath(self.path)) is self:
            del _HELD[os.path.abspath(self.path)]
        try:
            self.path.unlink(missing_ok=True)  # while still holding it: nobody locks a dead file
        except OSError:
            pass
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:  # a dropped lock is released (the kernel would on exit anyway)
        try:
            self.release()
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass


def acquire(path: Path, what: str, hint: str) -> OutputLock:
    """Lock ``path`` (created if need be) for this process, or raise a :class:`StoreError`
    saying ``what`` is being written by which other run; ``hint`` says what to do.

    The lock belongs to the process: a second :func:`acquire` of a path this process already
    holds takes the lock over (the earlier :class:`OutputLock` lets go of nothing). That is the
    case of a run interrupted in-process whose traceback still holds its locks, followed by a
    resumed run (a Python session, a test); two processes never share a lock."""
    path = Path(path)
    previous = _HELD.get(os.path.abspath(path))
    if previous is not None and previous._fd is not None:
        fd, previous._fd = previous._fd, None
        return OutputLock(path, fd)
    for _ in range(20):  # the holder may remove the file between our open and our lock: retry
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | (0 if fcntl else os.O_EXCL), 0o644)
        except FileExistsError:  # pragma: no cover - Windows path
            if _stale(path):
                path.unlink(missing_ok=True)
                continue
            raise StoreError(f"{what} is being written by {_describe_holder(path)}", hint=hint) from None
        except OSError as exc:
            raise cannot_write_error(path.parent, exc, what) from exc
        if fcntl is None:  # pragma: no cover - Windows path
            os.write(fd, _holder_text().encode())
            os.close(fd)
            return OutputLock(path, None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise StoreError(f"{what} is being written by {_describe_holder(path)}", hint=hint) from None
            raise cannot_write_error(path.parent, exc, what) from exc
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # released and removed by its holder after our open: lock the new one
            os.close(fd)
            continue
        try:
            os.ftruncate(fd, 0)
            os.write(fd, _holder_text().encode())
        except OSError as exc:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise cannot_write_error(path.parent, exc, what) from exc
        return OutputLock(path, fd)
    raise StoreError(f"{what}: could not take the lock {path}", hint=hint)  # pragma: no cover


def _stale(path: Path) -> bool:  # pragma: no cover - Windows path
    """True when the process named in a lock file (on this host) is gone."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
        pid, host = int(info["pid"]), info.get("host")
    except (OSError, ValueError, KeyError, TypeError):
        return time.time() - path.stat().st_mtime > 60 if path.exists() else True
    if host not in (None, socket.gethostname()):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False
