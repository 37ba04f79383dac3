"""Which torch devices a run uses."""

from __future__ import annotations

from mertool.errors import MertoolError


def resolve_device(device: str) -> list[str]:
    """``auto`` -> every CUDA GPU if any, else cpu; ``cuda`` -> every GPU; ``cuda:1`` as given."""
    import torch

    d = (device or "auto").lower()
    if d == "cpu":
        return ["cpu"]
    if d in ("auto", "cuda"):
        if torch.cuda.is_available():
            return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        if d == "cuda":
            raise MertoolError(
                "--device cuda: no CUDA GPU is visible to torch", hint="use --device cpu or auto"
            )
        return ["cpu"]
    if d.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise MertoolError(f"--device {device}: no CUDA GPU is visible to torch")
        return [d]
    raise MertoolError(f"unknown --device {device!r}", hint="auto, cpu, cuda or cuda:N")
