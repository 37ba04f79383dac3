"""The live view of a run: one bar over folds, one per running fold (epochs) with its loss and
validation UF1; it also keeps which folds finished and which failed, for the outcome."""

from __future__ import annotations

from typing import Any


class FoldProgress:
    """Takes the executors' events (``fold_start``, ``batch``, ``epoch``, ``fold_done``,
    ``fold_failed``) as ``view(kind, fold_name, ...)``."""

    def __init__(self, n_folds: int, epochs: int):
        from mertool.console import make_progress

        self.progress = make_progress()
        self.epochs = epochs
        self.total = self.progress.add_task("folds", total=n_folds, status="")
        self.tasks: dict[str, Any] = {}
        self.done: list[dict[str, Any]] = []
        self.failed: list[tuple[str, str]] = []

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def __call__(self, kind: str, *args) -> None:
        p = self.progress
        if kind == "fold_start":
            name, epochs = args
            self.tasks[name] = p.add_task(f"  {name}", total=epochs, status="")
        elif kind == "batch":
            name, b, n, loss = args
            if name in self.tasks:
                p.update(self.tasks[name], status=f"batch {b}/{n} loss {loss:.3f}")
        elif kind == "epoch":
            name, rec = args
            status = f"loss {rec['train_loss']:.3f}"
            if rec.get("val_uf1") is not None:
                status += f"  val loss {rec['val_loss']:.3f} UF1 {rec['val_uf1']:.3f}"
            if name in self.tasks:
                p.update(self.tasks[name], completed=rec["epoch"], status=status)
        elif kind in ("fold_done", "fold_failed"):
            name, payload = args
            task = self.tasks.pop(name, None)
            if task is not None:
                p.remove_task(task)
            if kind == "fold_done":
                self.done.append(payload)
                uf1 = payload.get("uf1")
                p.update(
                    self.total,
                    advance=1,
                    status=f"last: {name} acc {payload['accuracy']:.2f}"
                    + (f" UF1 {uf1:.2f}" if uf1 is not None else ""),
                )
            else:
                self.failed.append((name, payload))
                p.update(self.total, advance=1, status=f"[red]{name} failed[/]")
