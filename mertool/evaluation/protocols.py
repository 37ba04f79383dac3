"""Evaluation protocols: which samples train and which test, fold by fold.

Every protocol partitions the samples into folds whose test sets are disjoint and cover every
sample once, and whose training sets never share a *group* with the test set. The group of a
sample is ``dataset/subject`` (subject names of different datasets may collide: SMIC ``s1`` is
not CASME II's ``sub01``, but two datasets could both have a ``01``); a sample without a subject
is its own group.

``loso``       leave one subject out: one fold per group (DESIGN section 3).
``composite``  the MEGC2019 composite protocol of paper 004: LOSO over (dataset, subject) pairs of
               a file holding several datasets, with UF1/UAR reported for the whole (Full) and
               for each dataset's share of the pooled predictions. The folds are those of LOSO;
               the label map defaults to ``megc2019``.
``kfold:K``    stratified K-fold as paper 001 describes it (each emotion spread as evenly as
               possible over the folds), **subject-independent**: whole subjects are dealt to
               folds so that every class is spread evenly. Paper 001 splits samples, which lets
               one person's clips sit in both train and test; DESIGN section 3 forbids that, so
               mertool keeps subjects whole and says so in the report.
``split``      the dataset's fixed train/test split (``split`` attribute, RAF-DB), one fold.

:func:`validation_split` carves the early-stopping validation set out of a fold's *training*
groups; :func:`select_folds` picks the folds a run computes (``--folds``, ``--shard i/n``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from mertool.errors import MertoolError

PROTOCOLS = ("loso", "kfold:K", "composite", "split")


@dataclass(frozen=True)
class Protocol:
    name: str  # "loso", "kfold", "composite", "split"
    k: int = 0  # folds for kfold

    def __str__(self) -> str:
        return f"kfold:{self.k}" if self.name == "kfold" else self.name


def parse_protocol(text: str) -> Protocol:
    """``loso`` | ``composite`` | ``split`` | ``kfold`` (5) | ``kfold:K``."""
    t = text.strip().lower()
    if t in ("loso", "composite", "split"):
        return Protocol(t)
    m = re.fullmatch(r"kfold(?::(\d+))?", t)
    if m:
        k = int(m.group(1) or 5)
        if k < 2:
            raise MertoolError(f"--protocol {text}: k-fold needs at least 2 folds")
        return Protocol("kfold", k)
    raise MertoolError(f"unknown protocol {text!r}", hint="one of: loso, kfold:5 (any K), composite, split")


@dataclass(frozen=True)
class Fold:
    """One fold: test and training sample indices (into the loaded sample table)."""

    name: str
    test: np.ndarray
    train: np.ndarray
    test_groups: tuple[str, ...] = field(default=())

    @property
    def dirname(self) -> str:
        """A file-system-safe folder name for this fold."""
        return re.sub(r"[^A-Za-z0-9._-]", "_", self.name.replace("/", "__"))


def sample_groups(datasets: list[str], subjects: list[str | None], ids: list[str]) -> list[str]:
    """The LOSO group of every sample: ``dataset/subject``, or the sample id without a subject."""
    out = []
    for ds, subj, sid in zip(datasets, subjects, ids):
        out.append(f"{ds}/{subj}" if subj not in (None, "") else f"{ds}/{sid}")
    return out


def loso_folds(groups: list[str]) -> list[Fold]:
    """One fold per group, sorted by group name."""
    g = np.asarray(groups, dtype=object)
    idx = np.arange(len(groups))
    folds = []
    for name in sorted(set(groups)):
        mask = g == name
        folds.append(Fold(name, idx[mask], idx[~mask], (name,)))
    return folds


def stratified_group_kfold(groups: list[str], labels: np.ndarray, k: int, seed: int) -> list[Fold]:
    """K folds of whole groups, each class spread as evenly as possible over the folds.

    Groups are dealt largest first (ties broken by a seeded shuffle) to the fold where adding
    them least increases the sum over folds and classes of (count - class_total / k)^2, the
    smaller fold winning ties. Deterministic for a given seed.
    """
    labels = np.asarray(labels, dtype=np.int64)
    names = sorted(set(groups))
    if len(names) < k:
        raise MertoolError(
            f"k-fold with k={k} needs at least {k} subjects; the data has {len(names)}",
            hint=f"use --protocol kfold:{max(2, len(names))} or --protocol loso",
        )
    num_classes = int(labels.max()) + 1 if labels.size else 1
    g = np.asarray(groups, dtype=object)
    counts = {n: np.bincount(labels[g == n], minlength=num_classes) for n in names}
    target = sum(counts.values()) / k
    rng = np.random.default_rng(seed)
    order = list(rng.permutation(len(names)))
    order.sort(key=lambda i: -int(counts[names[i]].sum()))  # stable: size first, shuffled ties
    fold_counts = np.zeros((k, num_classes), dtype=np.float64)
    assign: dict[str, int] = {}
    for i in order:
        c = counts[names[i]]
        # increase of sum over folds and classes of (count - target)^2 if the group joins fold f
        cost = [float((c * (2.0 * (fold_counts[f] - target) + c)).sum()) for f in range(k)]
        best = min(range(k), key=lambda f: (round(cost[f], 9), fold_counts[f].sum(), f))
        fold_counts[best] += c
        assign[names[i]] = best
    idx = np.arange(len(groups))
    fold_of = np.array([assign[x] for x in groups])
    folds = []
    for f in range(k):
        mask = fold_of == f
        test_groups = tuple(sorted(n for n, a in assign.items() if a == f))
        folds.append(Fold(f"fold{f + 1}", idx[mask], idx[~mask], test_groups))
    return folds


def split_folds(splits: list[str | None]) -> list[Fold]:
    """The fixed train/test split of a still-image dataset (``split`` attribute)."""
    s = np.asarray([x or "" for x in splits], dtype=object)
    idx = np.arange(len(splits))
    test = idx[s == "test"]
    train = idx[s == "train"]
    if not len(test) or not len(train):
        raise MertoolError(
            "--protocol split needs samples with split=train and split=test (RAF-DB has them)",
            hint="use --protocol loso or kfold:5 for clip datasets",
        )
    return [Fold("split", test, train, ("split=test",))]


def make_folds(
    protocol: Protocol,
    groups: list[str],
    labels: np.ndarray,
    splits: list[str | None] | None = None,
    seed: int = 0,
) -> list[Fold]:
    """The folds of ``protocol`` over the loaded samples."""
    if protocol.name in ("loso", "composite"):
        return loso_folds(groups)
    if protocol.name == "kfold":
        return stratified_group_kfold(groups, labels, protocol.k, seed)
    if protocol.name == "split":
        return split_folds(splits or [None] * len(groups))
    raise MertoolError(f"unknown protocol {protocol.name!r}")


def check_folds(folds: list[Fold], groups: list[str], n: int, require_cover: bool = True) -> None:
    """Assert the rules: disjoint test sets, no group in both train and test of a fold."""
    g = np.asarray(groups, dtype=object)
    seen = np.zeros(n, dtype=bool)
    for fold in folds:
        overlap = set(g[fold.test]) & set(g[fold.train])
        if overlap:
            raise AssertionError(f"fold {fold.name}: subject(s) {sorted(overlap)} in both train and test")
        if seen[fold.test].any():
            raise AssertionError(f"fold {fold.name}: a test sample is in another fold's test set")
        seen[fold.test] = True
    if require_cover and not seen.all():
        raise AssertionError(f"{int((~seen).sum())} sample(s) are in no fold's test set")


def validation_split(
    train: np.ndarray, groups: list[str], n_val_groups: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Split a fold's training indices into (train, validation, validation groups).

    The validation set is ``n_val_groups`` whole training groups chosen with ``seed``: it never
    holds a test sample (the test fold is not passed in at all). At least one group stays for
    training; with fewer than two training groups there is no validation set.
    """
    train = np.asarray(train, dtype=np.int64)
    if n_val_groups <= 0:
        return train, np.zeros(0, dtype=np.int64), []
    g = np.asarray(groups, dtype=object)
    names = sorted(set(g[train]))
    n_val = min(n_val_groups, len(names) - 1)
    if n_val <= 0:
        return train, np.zeros(0, dtype=np.int64), []
    rng = np.random.default_rng(seed)
    chosen = sorted(names[i] for i in rng.permutation(len(names))[:n_val])
    mask = np.isin(g[train], chosen)
    return train[~mask], train[mask], chosen


def parse_shard(text: str) -> tuple[int, int]:
    """``i/n`` (1-based) -> (i, n)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m or not (1 <= int(m.group(1)) <= int(m.group(2))):
        raise MertoolError(f"--shard {text!r}: expected i/n with 1 <= i <= n, e.g. 2/4")
    return int(m.group(1)), int(m.group(2))


def select_folds(folds: list[Fold], names: list[str] | None = None, shard: str | None = None) -> list[Fold]:
    """The folds a run computes: ``names`` (a fold name, or a bare subject when unambiguous)
    and/or shard ``i/n`` (fold j, counting from 0 in name order, belongs to shard j mod n + 1)."""
    chosen = list(folds)
    if names:
        by_name = {f.name: f for f in folds}
        picked: list[Fold] = []
        for raw in names:
            name = raw.strip()
            if not name:
                continue
            if name in by_name:
                f = by_name[name]
            else:
                hits = [f for f in folds if f.name.split("/")[-1] == name or f.dirname == name]
                if len(hits) != 1:
                    what = "matches several folds" if hits else "is no fold"
                    raise MertoolError(
                        f"--folds: {name!r} {what}",
                        hint="fold names: "
                        + ", ".join(f.name for f in folds[:12])
                        + (" …" if len(folds) > 12 else ""),
                    )
                f = hits[0]
            if f not in picked:
                picked.append(f)
        chosen = picked
    if shard:
        i, n = parse_shard(shard)
        order = {f.name: j for j, f in enumerate(sorted(folds, key=lambda f: f.name))}
        chosen = [f for f in chosen if order[f.name] % n == i - 1]
    return chosen
