"""Folds as Ray tasks: one fold of one configuration is one task, on a local Ray instance or on
a cluster (docs/cluster.md).

:class:`RayExecutor` implements the executor interface of :mod:`mertool.folds.executors`: the
driver puts the :class:`~mertool.folds.executors.FoldJob` (sample table and configuration) into
Ray's object store **once** (``ray.put``) and submits one task per fold with ``cpus_per_fold``
CPUs and ``gpus_per_fold`` GPUs (fractions allowed: four small folds may share a GPU). Each task
returns the fold's :class:`~mertool.folds.fold.FoldOutput`; the driver writes it into the results
directory itself, as the local executor's driver does, so the workers need no shared file system
and ``--resume``, ``compare`` and the report work unchanged.

Faults: a task whose worker process dies (killed, out of memory, node lost) is retried up to
``max_retries`` times (:data:`MAX_RETRIES`, Ray's own retry), then reported as failed by name
while the other folds go on; an exception inside a fold is not retried (it would fail again) and
is reported the same way. Ctrl-C in the driver cancels every task still on the cluster
(``ray.cancel``); every fold finished before it is on disk for ``--resume``.

Checked before any fold starts (:meth:`RayExecutor.prepare`): the address is reachable, the
cluster has a node with the CPUs and GPUs one fold asks for, and every node's workers import
mertool at the driver's version (one tiny probe task per node). Each failure is one
:class:`~mertool.errors.MertoolError` naming the cause and what to do.

Ray is imported here only, lazily: ``mertool --help`` and the local executor never import it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mertool import __version__
from mertool.errors import MertoolError
from mertool.evaluation.protocols import Fold
from mertool.folds.executors import Emit, FoldJob, OnOutput

#: How many times a fold whose worker died is run again before it is reported as failed
#: (Ray's ``max_retries``; an exception raised by the fold itself is never retried).
MAX_RETRIES = 3
#: Seconds to wait for a TCP connection to the cluster's address, and for the probe tasks.
CONNECT_TIMEOUT_S = 5.0
PROBE_TIMEOUT_S = 120.0

#: Set by :func:`request_stop` (the table runner's main thread on Ctrl-C): every RayExecutor.run
#: in progress, in any thread, cancels its tasks and raises KeyboardInterrupt in its own thread.
STOP = threading.Event()

_LOCK = threading.RLock()
_STATE: dict[str, Any] = {"address": None, "probed": set(), "started": False}
_REMOTE: dict[str, Any] = {}

INSTALL_HINT = (
    f"install mertool {__version__} on every node with the driver's Python (pip install -e /path/to/mertool, "
    "or a Ray runtime_env / container image that has it), then re-run"
)


def _ray():
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a dependency
        raise MertoolError(
            f"--executor ray needs the ray package ({exc})", hint="pip install 'ray>=2.60' (or: make install)"
        ) from exc
    return ray


def request_stop() -> None:
    """Ask every running :meth:`RayExecutor.run` (any thread) to cancel its tasks and stop."""
    STOP.set()


# ------------------------------------------------------------------------------------------------
# connecting


def _host_port(address: str) -> tuple[str, int] | None:
    """``host:port`` of a GCS or ``ray://`` address (None for ``auto``/``local``)."""
    rest = address.split("://", 1)[1] if "://" in address else address
    if address in ("auto", "local") or ":" not in rest:
        return None
    host, _, port = rest.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise MertoolError(
            f"--address {address!r}: expected auto, HOST:PORT (a Ray head node) or ray://HOST:PORT (Ray Client)",
            hint="e.g. --address auto on a cluster node, --address ray://head.example.org:10001 from outside",
        ) from None


def reachable(address: str, timeout: float = CONNECT_TIMEOUT_S) -> tuple[bool, str]:
    """Whether something listens at ``address`` (a TCP connection; starts and joins nothing).
    ``auto`` looks for a Ray instance started on this machine (``ray start``)."""
    hp = _host_port(address)
    if hp is None:
        if address == "auto":
            try:
                from ray._private.utils import read_ray_address  # ray's own lookup (a private API)
            except ImportError:  # pragma: no cover - another Ray release: let ray.init look
                return True, "auto"
            found = os.environ.get("RAY_ADDRESS") or read_ray_address()
            return (
                (True, f"local cluster at {found}") if found else (False, "no Ray instance on this machine")
            )
        return True, address
    try:
        with socket.create_connection(hp, timeout=timeout):
            return True, f"{hp[0]}:{hp[1]} accepts connections"
    except OSError as exc:
        return False, f"{hp[0]}:{hp[1]}: {exc.strerror or exc}"


def connect(address: str | None = None, num_cpus: int | None = None) -> str:
    """Join the Ray cluster at ``address`` (``auto``, ``HOST:PORT``, ``ray://HOST:PORT``), or start
    a local instance on this machine when it is None; a process already connected stays
    connected (tests, the table runner's rows). Returns a description of the cluster."""
    ray = _ray()
    with _LOCK:
        if address:
            ok, why = reachable(address)
            if not ok:
                raise MertoolError(
                    f"no Ray cluster reachable at --address {address} ({why}); nothing was run",
                    hint="start one (ray start --head on the head node; docs/cluster.md), check the address "
                    "and port (HOST:6379 on a cluster node, ray://HOST:10001 from outside), or leave "
                    "--address out to run on a local Ray instance",
                )
        if ray.is_initialized():
            current = _STATE["address"]
            if address and current and address != current:
                raise MertoolError(
                    f"this process is already connected to the Ray cluster at {current}, not {address}",
                    hint="run one address per process",
                )
            return _describe_cluster(ray)
        kwargs: dict[str, Any] = {"logging_level": "WARNING"}
        if not address:  # options of a new instance (Ray refuses them when joining one)
            kwargs.update(num_cpus=num_cpus, include_dashboard=False)
        try:
            ray.init(address=address or "local", **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise MertoolError(
                f"could not join the Ray cluster at {address or 'a new local instance'}: {exc}",
                hint="check that the driver and the cluster run the same Ray and Python versions "
                "(mertool doctor; ray --version on the head node) and that the address is right",
            ) from exc
        _STATE["address"] = address
        _STATE["started"] = not address
        return _describe_cluster(ray)


def _alive_nodes(ray) -> list[dict[str, Any]]:
    return [n for n in ray.nodes() if n.get("Alive")]


def _describe_cluster(ray) -> str:
    nodes = _alive_nodes(ray)
    total = ray.cluster_resources()
    where = _STATE["address"] or "a local Ray instance"
    return f"{where}: {len(nodes)} node(s), {total.get('CPU', 0):g} CPU(s), {total.get('GPU', 0):g} GPU(s)"


# ------------------------------------------------------------------------------------------------
# the probe: does every node's Python import mertool, at our version?

_PROBE_SOURCE = """
def probe():
    import sys
    try:
        import mertool
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "python": sys.executable}
    return {"ok": True, "version": mertool.__version__, "python": sys.executable,
            "file": getattr(mertool, "__file__", None)}
"""


def _probe_function():
    """The probe as a function of a module no worker needs (so cloudpickle sends it by value:
    a worker without mertool can still run it and say so)."""
    namespace: dict[str, Any] = {"__name__": "mertool_ray_probe"}
    exec(compile(_PROBE_SOURCE, "<mertool ray probe>", "exec"), namespace)  # noqa: S102 - our own source
    return namespace["probe"]


def probe_workers(timeout: float = PROBE_TIMEOUT_S) -> list[dict[str, Any]]:
    """Run the probe once on every alive node; raise the clear error when a node's workers cannot
    import mertool or have another version. Returns the probes' answers."""
    ray = _ray()
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(_probe_function())
    refs = {
        f"{n['NodeManagerAddress']} ({n['NodeID'][:8]})": remote.options(
            num_cpus=0,
            max_retries=1,
            scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False),
        ).remote()
        for n in _alive_nodes(ray)
    }
    answers = []
    for node, ref in refs.items():
        try:
            answer = ray.get(ref, timeout=timeout)
        except ray.exceptions.GetTimeoutError:
            ray.cancel(ref, force=True)
            raise MertoolError(
                f"the Ray workers on node {node} did not answer a probe task within {timeout:g} s",
                hint="check that the node is healthy (ray status) and has a free worker slot",
            ) from None
        except ray.exceptions.RayError as exc:
            raise MertoolError(
                f"a probe task failed on node {node}: {_short(exc)}", hint=INSTALL_HINT
            ) from None
        if not answer["ok"]:
            raise MertoolError(
                f"the Ray workers on node {node} cannot import mertool ({answer['error']}; "
                f"python {answer['python']}); nothing was run",
                hint=INSTALL_HINT,
            )
        if answer["version"] != __version__:
            raise MertoolError(
                f"the Ray workers on node {node} run mertool {answer['version']} ({answer['file']}), "
                f"the driver mertool {__version__}; results would mix versions, nothing was run",
                hint=INSTALL_HINT,
            )
        answers.append({"node": node, **answer})
    return answers


def check_resources(cpus_per_fold: float, gpus_per_fold: float) -> None:
    """One fold's CPUs and GPUs must fit on one alive node, or its task would wait forever."""
    ray = _ray()
    nodes = _alive_nodes(ray)
    total = ray.cluster_resources()
    if gpus_per_fold > 0 and not total.get("GPU"):
        raise MertoolError(
            f"--gpus-per-fold {gpus_per_fold:g} asks for a GPU, but the Ray cluster ({_describe_cluster(ray)}) "
            "has none; nothing was run",
            hint="leave --gpus-per-fold out to train on CPUs, or start the workers on GPU nodes "
            "(ray start --num-gpus N; docs/cluster.md)",
        )
    fits = [
        n
        for n in nodes
        if n["Resources"].get("CPU", 0) >= cpus_per_fold and n["Resources"].get("GPU", 0) >= gpus_per_fold
    ]
    if not fits:
        biggest = max(
            ((n["Resources"].get("CPU", 0), n["Resources"].get("GPU", 0)) for n in nodes), default=(0, 0)
        )
        raise MertoolError(
            f"no node of the Ray cluster has --cpus-per-fold {cpus_per_fold:g} CPU(s) and "
            f"--gpus-per-fold {gpus_per_fold:g} GPU(s) (the largest has {biggest[0]:g} CPU(s), "
            f"{biggest[1]:g} GPU(s)); nothing was run",
            hint="ask for less per fold (--cpus-per-fold, --gpus-per-fold) or add bigger nodes",
        )


# ------------------------------------------------------------------------------------------------
# the task


def _run_fold(job: FoldJob, fold: Fold, device: str, threads: int, model_module: tuple[str, str] | None):
    """One fold on a Ray worker: ``("ok", FoldOutput)`` or ``("failed", reason)``. A worker that
    dies here is retried by Ray; an exception of the fold is an answer, not a retry."""
    import importlib

    import torch

    if model_module:  # an architecture registered outside the package (a user's or a test's model)
        name, folder = model_module
        if name not in sys.modules:
            try:
                importlib.import_module(name)
            except ImportError:
                if folder and folder not in sys.path:
                    sys.path.insert(0, folder)
                importlib.import_module(name)
    torch.set_num_threads(max(1, threads))
    from mertool.env import set_cv2_threads

    set_cv2_threads(1)
    try:
        return "ok", job.compute(fold, device, _no_events)
    except MertoolError as exc:
        return "failed", exc.message
    except Exception:  # noqa: BLE001 - reported to the driver with the traceback, never swallowed
        return "failed", traceback.format_exc(limit=8)


def _no_events(*args: Any) -> None:
    """Epoch and batch events stay on the worker (the driver shows folds done and failed)."""


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _model_module(job: FoldJob) -> tuple[str, str] | None:
    from mertool.models.registry import model_spec

    name = model_spec(job.cfg.arch).builder.__module__
    if not name or name.startswith("mertool."):
        return None
    mod = sys.modules.get(name)
    path = getattr(mod, "__file__", None)
    return name, str(Path(path).resolve().parent) if path else ""


# ------------------------------------------------------------------------------------------------
# the executor


@dataclass
class RayExecutor:
    """Folds as Ray tasks (module docstring). ``address``: None starts a local Ray instance,
    ``auto`` / ``HOST:PORT`` / ``ray://HOST:PORT`` joins a cluster."""

    address: str | None = None
    cpus_per_fold: float = 1.0
    gpus_per_fold: float = 0.0
    threads: int = (
        0  # intra-op threads per fold; 0: 1 on CPU (numbers as the local executor's), else cpus_per_fold
    )
    max_retries: int = MAX_RETRIES
    device: str = "auto"  # the run's --device: auto, cpu or cuda (cuda needs gpus_per_fold > 0)
    num_cpus: int | None = None  # CPUs of a local instance (None: all cores)
    cluster: str = field(default="", init=False)

    def __post_init__(self) -> None:
        if self.cpus_per_fold <= 0:
            raise MertoolError(f"--cpus-per-fold {self.cpus_per_fold:g}: must be more than 0")
        if self.gpus_per_fold < 0:
            raise MertoolError(f"--gpus-per-fold {self.gpus_per_fold:g}: must be 0 or more")
        if self.gpus_per_fold > 1 and self.gpus_per_fold != int(self.gpus_per_fold):
            raise MertoolError(
                f"--gpus-per-fold {self.gpus_per_fold:g}: above 1 it must be a whole number (Ray's rule)"
            )
        dev = self.device.split(":")[0]
        if dev == "cuda" and not self.gpus_per_fold:
            raise MertoolError(
                "--device cuda with --executor ray needs --gpus-per-fold (e.g. 1, or 0.25 to share a GPU "
                "among four folds)"
            )
        if dev not in ("auto", "cpu", "cuda"):
            raise MertoolError(f"--device {self.device} with --executor ray: use auto, cpu or cuda")
        if dev == "cpu" and self.gpus_per_fold:
            raise MertoolError("--device cpu and --gpus-per-fold contradict each other: drop one")

    @property
    def devices(self) -> list[str]:
        """The device every fold trains on (Ray hands a GPU task its GPU as cuda:0)."""
        return ["cuda:0" if self.gpus_per_fold else "cpu"]

    @property
    def fold_threads(self) -> int:
        if self.threads:
            return self.threads
        return 1 if not self.gpus_per_fold else max(1, int(self.cpus_per_fold))

    def plan(self, n_todo: int) -> tuple[int, int]:
        """(folds in flight at most, intra-op threads per fold): every fold is submitted at once."""
        return max(1, n_todo), self.fold_threads

    def prepare(self) -> str:
        """Connect and check the cluster (address, resources, mertool on every node) before any
        fold starts; once per process and address."""
        self.cluster = connect(self.address, self.num_cpus)
        check_resources(self.cpus_per_fold, self.gpus_per_fold)
        ray = _ray()
        key = (self.address, tuple(sorted(n["NodeID"] for n in _alive_nodes(ray))))
        with _LOCK:
            if key not in _STATE["probed"]:
                probe_workers()
                _STATE["probed"].add(key)
        return self.cluster

    def describe(self, n_todo: int) -> str:
        res = f"{self.cpus_per_fold:g} CPU" + (f", {self.gpus_per_fold:g} GPU" if self.gpus_per_fold else "")
        return (
            f"Ray ({self.cluster or self.address or 'local instance'}): one task per fold ({res}, "
            f"{self.fold_threads} thread(s)), retried up to {self.max_retries} time(s) if its worker dies"
        )

    def run(self, job: FoldJob, folds: list[Fold], emit: Emit, on_output: OnOutput) -> None:
        if not folds:
            return
        ray = _ray()
        self.prepare()
        with _LOCK:
            if "fold" not in _REMOTE:
                _REMOTE["fold"] = ray.remote(_run_fold)
        sizes = {
            "num_cpus": self.cpus_per_fold,
            "num_gpus": self.gpus_per_fold,
            "max_retries": self.max_retries,
            "retry_exceptions": False,
        }
        job_ref = ray.put(job)  # the sample table reaches the object store once, not once per fold
        module = _model_module(job)
        pending: dict[Any, str] = {}
        for fold in folds:
            ref = (
                _REMOTE["fold"]
                .options(name=f"mertool fold {fold.name}", **sizes)
                .remote(job_ref, fold, self.devices[0], self.fold_threads, module)
            )
            pending[ref] = fold.name
        try:
            while pending:
                if STOP.is_set():
                    raise KeyboardInterrupt
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                if ready:
                    more, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
                    ready = list(dict.fromkeys([*ready, *more]))
                for ref in ready:
                    self._collect(ray, ref, pending.pop(ref), emit, on_output)
        except BaseException:
            if isinstance(sys.exc_info()[1], KeyboardInterrupt):
                self._keep_finished(ray, pending, emit, on_output)
            for ref in pending:
                try:
                    ray.cancel(ref, force=True)
                except Exception:  # noqa: BLE001 - a task that just finished cannot be cancelled
                    pass
            raise

    def _collect(self, ray, ref, name: str, emit: Emit, on_output: OnOutput) -> None:
        try:
            status, value = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            emit("fold_failed", name, "cancelled")
            return
        except ray.exceptions.RayTaskError as exc:  # raised on the worker before the fold ran
            emit("fold_failed", name, f"failed on its Ray worker: {_short(exc)}")
            return
        except ray.exceptions.RayError as exc:  # worker died more often than max_retries, node lost, OOM
            emit(
                "fold_failed",
                name,
                f"its Ray worker died {self.max_retries + 1} time(s), the last: {type(exc).__name__} "
                f"({_short(exc)})",
            )
            return
        if status == "ok":
            on_output(value)
        else:
            emit("fold_failed", name, value)

    def _keep_finished(self, ray, pending: dict[Any, str], emit: Emit, on_output: OnOutput) -> None:
        """On Ctrl-C: write the folds that finished but were not collected yet."""
        try:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0)
            for ref in ready:
                self._collect(ray, ref, pending.pop(ref), emit, on_output)
        except Exception:  # noqa: BLE001 - best effort; the run stops either way
            pass


# ------------------------------------------------------------------------------------------------
# mertool doctor


def ray_checks() -> list[tuple[str, bool, str, str | None]]:
    """``(name, ok, found, repair)`` rows for ``mertool doctor``: Ray's version and, when
    ``RAY_ADDRESS`` is set, whether a cluster answers there (a TCP connection: nothing is
    started or joined)."""
    import importlib.metadata

    try:
        version = importlib.metadata.version("ray")
    except importlib.metadata.PackageNotFoundError:
        return [("ray", False, "not installed (--executor ray unavailable)", "pip install 'ray>=2.60'")]
    rows: list[tuple[str, bool, str, str | None]] = [("ray", True, version, None)]
    address = os.environ.get("RAY_ADDRESS")
    if address:
        try:
            ok, why = reachable(address)
        except MertoolError as exc:
            ok, why = False, exc.message
        rows.append(
            (
                "ray cluster",
                ok,
                f"RAY_ADDRESS={address}: {why}",
                None if ok else "start it (ray start --head) or fix RAY_ADDRESS; docs/cluster.md",
            )
        )
    else:
        rows.append(
            ("ray cluster", True, "RAY_ADDRESS not set (--executor ray starts a local instance)", None)
        )
    return rows
