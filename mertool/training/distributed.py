"""One training on several devices: ``mertool train ... --devices cuda:0,cuda:1`` (or ``cpu,cpu``).

mertool launches the processes itself (no ``torchrun`` line): :func:`train_distributed` starts one
process per listed device with torch.multiprocessing's *spawn* method, joined in a process group
on a free localhost port (NCCL for CUDA devices, gloo for ``cpu``, which makes the same code
testable without a GPU). Each process runs the ordinary :func:`mertool.training.trainer.train_file`
with a :class:`Shard`, which the training loop (:func:`mertool.training.loop.fit`) asks for:

- **Same start.** Every process builds the model from the seed, so the initial weights are equal
  before DistributedDataParallel wraps the model (and DDP broadcasts rank 0's anyway). The
  global random generator of ranks > 0 is then reseeded with a rank-dependent seed, so dropout
  masks differ between processes; rank 0 keeps the single-process stream.
- **Batches.** Every process draws the same shuffled *global* batches (``--batch-size``, seeded
  as in one process) and trains on its contiguous part of each (sizes differ by at most one).
  Its mean loss is weighted by ``part * world / global`` so DDP's average of the gradients is
  exactly the gradient of the global batch's mean loss. With online augmentation each process
  augments the whole global batch with the same seeded generator and keeps its part, so the
  augmented samples are those of one process. A final global batch smaller than the number of
  processes is skipped (one process skips only a batch of one).
- **BatchNorm.** Under plain DDP every process normalises with its own part's statistics and
  keeps its own running statistics (DDP then copies rank 0's buffers to the others at each
  forward). That is not single-process training, so every BatchNorm layer is made a
  :class:`GlobalBatchNorm` for the training forward pass: the per-channel sums are all-reduced
  (a differentiable all-reduce, on a process group of its own) and every process normalises
  with the statistics of the whole global batch and updates its running statistics with them,
  as one process would. torch's own ``SyncBatchNorm`` does the same on GPUs but refuses CPU
  tensors; ours runs on both, so the CPU tests check the code that GPUs run. Outside the
  training forward pass (evaluation, the recalibration of BatchNorm statistics) the layers are
  ordinary BatchNorm.
- **Validation, recalibration, selection** run in every process over the whole set (the same
  numbers in each, without communication); rank 0's validation score is broadcast so every
  process keeps the same epoch and stops at the same time.
- **Output.** Only rank 0 reports progress (to the launching process, which draws the progress
  bar) and writes the model file, in the same format as a single-process training (the layers'
  names and tensors are those of the plain model).

Float sums in a different order (parts instead of a whole batch, all-reduced gradients, one
thread per process) make the weights equal to one process's up to float error, not bit for bit;
tests/test_ddp.py states the tolerance. Dropout (different masks) and ``--loss-opt
class_weights=balanced`` (a weighted mean normalised per part) make a distributed training a
statistically equivalent run rather than the same numbers.
"""

from __future__ import annotations

import dataclasses
import os
import queue as _queue
from collections.abc import Callable
from typing import Any

import numpy as np

from mertool.errors import MertoolError

# ------------------------------------------------------------------------------------------------
# --devices


def parse_devices(spec: str) -> list[str]:
    """``cpu,cpu`` / ``cuda:0,cuda:1`` -> the device of each process; checked (see the docs)."""
    items = [d.strip().lower() for d in str(spec).split(",")]
    hint = "a comma list of cpu or cuda:N entries, one process each: --devices cuda:0,cuda:1 or cpu,cpu"
    if not spec or any(not d for d in items):
        raise MertoolError(f"--devices {spec!r}: empty entry", hint=hint)
    for d in items:
        if d != "cpu" and not (d.startswith("cuda:") and d[5:].isdigit()):
            raise MertoolError(f"--devices {spec}: unknown device {d!r}", hint=hint)
    kinds = {d.split(":")[0] for d in items}
    if len(kinds) > 1:
        raise MertoolError(
            f"--devices {spec} mixes cpu and cuda devices",
            hint="list only GPUs (cuda:0,cuda:1, NCCL) or only cpu entries (gloo)",
        )
    if "cuda" in kinds:
        import torch

        if not torch.cuda.is_available():
            raise MertoolError(
                f"--devices {spec}: no CUDA GPU is visible to torch",
                hint="check nvidia-smi and CUDA_VISIBLE_DEVICES, or use cpu entries",
            )
        count = torch.cuda.device_count()
        missing = [d for d in items if int(d[5:]) >= count]
        if missing:
            raise MertoolError(
                f"--devices {spec}: {', '.join(missing)} not present ({count} GPU(s): cuda:0..cuda:{count - 1})"
            )
        if len(set(items)) < len(items):
            raise MertoolError(
                f"--devices {spec} lists a GPU twice", hint="one process per GPU (NCCL needs distinct GPUs)"
            )
    return items


def backend(devices: list[str]) -> str:
    return "nccl" if devices[0].startswith("cuda") else "gloo"


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def part_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """Positions [lo, hi) of a global batch of ``n`` that process ``rank`` trains on."""
    q, r = divmod(n, world)
    lo = rank * q + min(rank, r)
    return lo, lo + q + (1 if rank < r else 0)


# ------------------------------------------------------------------------------------------------
# BatchNorm over the global batch

_SYNC = {"on": False}  # True only during the training forward pass of a distributed training


def _all_reduce_sum():
    import torch

    class AllReduceSum(torch.autograd.Function):
        """Sum over the processes; its gradient is the sum of the processes' gradients."""

        @staticmethod
        def forward(ctx, tensor, group):
            import torch.distributed as dist

            ctx.group = group
            out = tensor.clone()
            dist.all_reduce(out, group=group)
            return out

        @staticmethod
        def backward(ctx, grad):
            import torch.distributed as dist

            grad = grad.clone()
            dist.all_reduce(grad, group=ctx.group)
            return grad, None

    return AllReduceSum


def global_batchnorm_class():
    """The :class:`GlobalBatchNorm` class (built lazily: ``mertool --help`` never imports torch)."""
    global GlobalBatchNorm
    if GlobalBatchNorm is not None:
        return GlobalBatchNorm
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    all_reduce_sum = _all_reduce_sum()

    class _GlobalBatchNorm(_BatchNorm):
        """BatchNorm whose training forward pass uses the statistics of the global batch.

        Same parameters, buffers and names as the layer it replaces (and shares them with it);
        ordinary BatchNorm whenever it is not in the training forward pass of a distributed run.
        """

        group: Any = None

        def _check_input_dim(self, input):
            if input.dim() < 2:
                raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

        def forward(self, x):
            if not (_SYNC["on"] and self.training and self.group is not None):
                return super().forward(x)
            c = x.shape[1]
            dims = [0, *range(2, x.dim())]
            shape = [1, c] + [1] * (x.dim() - 2)
            # sums around a shift every process shares (the running mean, identical everywhere)
            # keep E[x^2] - E[x]^2 from cancelling in float32
            if self.running_mean is not None:
                shift = self.running_mean.detach().clone().to(x.dtype)
            else:
                shift = x.new_zeros(c)
            d = x - shift.view(shape)
            count = x.new_full((1,), float(x.numel() // c))
            stats = all_reduce_sum.apply(torch.cat([d.sum(dims), (d * d).sum(dims), count]), self.group)
            n = stats[2 * c]
            mean_d = stats[:c] / n
            var = (stats[c : 2 * c] / n - mean_d * mean_d).clamp_min(0)  # biased, as BatchNorm normalises
            mean = shift + mean_d
            y = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
            if self.affine:
                y = y * self.weight.view(shape) + self.bias.view(shape)
            if self.track_running_stats and self.running_mean is not None:
                with torch.no_grad():
                    self.num_batches_tracked.add_(1)
                    f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                    nn_ = float(n)
                    unbiased = var.detach() * (nn_ / (nn_ - 1) if nn_ > 1 else 1.0)
                    self.running_mean.mul_(1 - f).add_(mean.detach(), alpha=f)
                    self.running_var.mul_(1 - f).add_(unbiased, alpha=f)
            return y

    _GlobalBatchNorm.__name__ = _GlobalBatchNorm.__qualname__ = "GlobalBatchNorm"
    GlobalBatchNorm = _GlobalBatchNorm
    return GlobalBatchNorm


GlobalBatchNorm: Any = None


def convert_batchnorm(module, group) -> int:
    """Replace every BatchNorm layer under ``module`` by a :class:`GlobalBatchNorm` that shares
    its parameters and buffers; returns how many were replaced."""
    from torch.nn.modules.batchnorm import _BatchNorm

    cls = global_batchnorm_class()
    replaced = 0
    for name, child in list(module.named_children()):
        if isinstance(child, _BatchNorm) and not isinstance(child, cls):
            new = cls(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            new.running_mean = child.running_mean
            new.running_var = child.running_var
            new.num_batches_tracked = child.num_batches_tracked
            new.group = group
            new.train(child.training)
            module.add_module(name, new)
            replaced += 1
        else:
            replaced += convert_batchnorm(child, group)
    return replaced


# ------------------------------------------------------------------------------------------------
# one process's part


class _Positions:
    """A "dataset" whose batches are their own positions (to draw the shuffled batches exactly as
    :func:`mertool.training.loop.batches` does for the real set)."""

    def __init__(self, n: int):
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, positions):
        return list(positions)


class Shard:
    """What :func:`mertool.training.loop.fit` needs from a distributed training, in one process."""

    def __init__(self, rank: int, world: int, device: str):
        import torch.distributed as dist

        self.rank, self.world, self.device = rank, world, device
        self.bn_group = dist.new_group(list(range(world)))  # BatchNorm sums, apart from DDP's traffic
        self.net = None
        self.batchnorm_layers = 0

    def setup(self, model, seed: int) -> Shard:
        """Put ``model`` (built from the seed in every process) on this device, make its BatchNorm
        layers global, wrap it in DDP; reseed ranks > 0 for their own dropout masks."""
        import torch
        from torch.nn.parallel import DistributedDataParallel as DDP

        model.to(torch.device(self.device))
        self.batchnorm_layers = convert_batchnorm(model, self.bn_group)
        ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
        self.net = DDP(model, device_ids=ids, output_device=ids[0] if ids else None)
        if self.rank:
            torch.manual_seed(int(seed) + 1_000_003 * self.rank)
        return self

    def train(self) -> None:
        self.net.train()

    def forward(self, x, y):
        _SYNC["on"] = True
        try:
            return self.net(x, y)
        finally:
            _SYNC["on"] = False

    def batches(self, train_set, batch_size: int, generator):
        """``(inputs, labels, rows, n)``: this process's part of every global batch of ``n``."""
        from mertool.training.loop import batches

        for pos in batches(_Positions(len(train_set)), batch_size, True, generator):
            pos = [int(p) for p in pos]
            n = len(pos)
            lo, hi = part_bounds(n, self.rank, self.world)
            if getattr(train_set, "augment", None) is not None:
                # augment the whole global batch (same generator, same draws as one process)
                x, y, rows = train_set[pos]
                yield {k: v[lo:hi] for k, v in x.items()}, y[lo:hi], rows[lo:hi], n
            else:
                x, y, rows = train_set[pos[lo:hi]]
                yield x, y, rows, n

    def sum(self, values: list[float]) -> list[float]:
        import torch
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t)
        return [float(v) for v in t.cpu()]

    def agree(self, value: float) -> float:
        """Rank 0's ``value`` in every process."""
        import torch
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=self._comm_device())
        dist.broadcast(t, src=0)
        return float(t.item())

    def _comm_device(self) -> str:
        return self.device if self.device.startswith("cuda") else "cpu"


# ------------------------------------------------------------------------------------------------
# launching


@dataclasses.dataclass
class _Job:
    devices: list[str]
    port: int
    cfg: Any
    table: Any  # SampleTable with its inputs as shared-memory tensors
    output: str
    command: str | None
    threads: int
    events: Any  # a spawn-context queue: rank 0 -> the launching process


def train_distributed(
    devices: list[str],
    cfg,
    output,
    table,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_batch: Callable[[int, int, float], None] | None = None,
    command: str | None = None,
    threads: int = 0,
):
    """Train ``cfg`` on every sample of ``table`` with one process per device in ``devices`` and
    write the model file ``output`` (rank 0). ``on_epoch``/``on_batch`` are called here, in the
    launching process, with rank 0's numbers. Returns the :class:`~mertool.training.trainer.
    Trained` (its model read back from ``output``)."""
    import torch
    import torch.multiprocessing as mp

    from mertool.training.checkpoint import load_model
    from mertool.training.data import Normalizer
    from mertool.training.trainer import Trained

    world = len(devices)
    if world < 2:
        raise MertoolError("a distributed training needs at least two devices")
    if cfg.fit.batch_size < world:
        raise MertoolError(
            f"--batch-size {cfg.fit.batch_size} cannot be split across {world} devices",
            hint=f"--batch-size is the global batch: give at least {world}",
        )
    if not threads:
        threads = max(1, (os.cpu_count() or 1) // world)
    ctx = mp.get_context("spawn")
    events = ctx.Queue()
    shared = dataclasses.replace(
        table,
        inputs={
            k: torch.from_numpy(np.ascontiguousarray(v)).share_memory_() for k, v in table.inputs.items()
        },
        skipped=[],
    )
    job = _Job(list(devices), free_port(), cfg, shared, str(output), command, int(threads), events)
    procs = mp.start_processes(_worker, args=(job,), nprocs=world, join=False, start_method="spawn")
    done: dict[str, Any] | None = None
    errors: list[tuple[int, str, str | None]] = []

    def drain() -> None:
        nonlocal done
        while True:
            try:
                ev = events.get_nowait()
            except _queue.Empty:
                return
            kind = ev[0]
            if kind == "batch" and on_batch is not None:
                on_batch(*ev[1:])
            elif kind == "epoch" and on_epoch is not None:
                on_epoch(ev[1])
            elif kind == "done":
                done = ev[1]
            elif kind == "error":
                errors.append(ev[1:])

    try:
        while True:
            try:
                finished = procs.join(timeout=0.2)
            except Exception as exc:  # a process failed; torch has stopped the others
                drain()
                if errors:
                    rank, message, hint = errors[0]
                    raise MertoolError(message, hint=hint) from None
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise MertoolError(
                    f"a training process on {devices[getattr(exc, 'error_index', 0)]} failed: {first}",
                    hint="run with one device to see the error in full",
                ) from None
            drain()
            if finished:
                break
    except BaseException:
        for p in procs.processes:
            if p.is_alive():
                p.terminate()
        for p in procs.processes:
            p.join(5)
        raise
    drain()
    events.close()
    if done is None:
        raise MertoolError("the distributed training ended without a result from rank 0")
    model = load_model(output).build("cpu")
    return Trained(
        model,
        done["result"],
        Normalizer.from_dict(done["normalizer"]),
        np.asarray(done["train_rows"], np.int64),
        np.asarray(done["val_rows"], np.int64),
        list(done["val_groups"]),
    )


def _worker(rank: int, job: _Job) -> None:
    try:
        _run_rank(rank, job)
    except MertoolError as exc:
        job.events.put(("error", rank, f"{job.devices[rank]} (rank {rank}): {exc.message}", exc.hint))
        raise
    except KeyboardInterrupt:
        raise SystemExit(130) from None


def _run_rank(rank: int, job: _Job) -> None:
    import datetime

    import torch
    import torch.distributed as dist

    from mertool.training.trainer import train_file

    device = job.devices[rank]
    world = len(job.devices)
    torch.set_num_threads(job.threads)
    if device.startswith("cuda"):
        torch.cuda.set_device(torch.device(device))
    dist.init_process_group(
        backend(job.devices),
        init_method=f"tcp://127.0.0.1:{job.port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(minutes=30),
    )
    try:
        table = dataclasses.replace(job.table, inputs={k: v.numpy() for k, v in job.table.inputs.items()})
        shard = Shard(rank, world, device)
        lead = rank == 0

        def on_epoch(rec: dict[str, Any]) -> None:
            job.events.put(("epoch", rec))

        def on_batch(b: int, n: int, loss: float) -> None:
            job.events.put(("batch", b, n, loss))

        trained, _ = train_file(
            None,
            job.cfg,
            job.output if lead else None,
            device,
            on_epoch if lead else None,
            on_batch if lead else None,
            table=table,
            command=job.command,
            ddp=shard,
        )
        if lead:
            job.events.put(
                (
                    "done",
                    {
                        "result": trained.result,
                        "normalizer": trained.normalizer.to_dict(),
                        "train_rows": trained.train_rows.tolist(),
                        "val_rows": trained.val_rows.tolist(),
                        "val_groups": list(trained.val_groups),
                        "batchnorm_layers": shard.batchnorm_layers,
                    },
                )
            )
    finally:
        dist.destroy_process_group()


def describe(devices: list[str]) -> str:
    return f"{', '.join(devices)} (DistributedDataParallel, {len(devices)} processes, {backend(devices)})"


__all__ = [
    "Shard",
    "backend",
    "convert_batchnorm",
    "describe",
    "parse_devices",
    "part_bounds",
    "train_distributed",
]
