"""The MEGC2019 composite: SMIC-HS + CASME II + SAMM under one 3-class label map.

Layout: a ROOT holding the three datasets as subfolders, under any names (``CASME2/``, ``SAMM/``,
``SMIC/``...). Each part is found by running the ``casme2``/``casme2-cropped``, ``samm`` and
``smic``/``smic-cropped`` detectors on the subfolders and read by that reader. The composite is
the union of the parts' samples whose ``megc2019`` label is not None (DATASETS.md section 11):
442 = SMIC 164 + CASME II 145 + SAMM 133 over 68 subjects on the real data. Samples keep their own
ids and ``dataset`` field (casme2/samm/smic) so results can be broken down per dataset; subjects
stay distinct across parts (``sub01``, ``006``, ``s1``), so LOSO runs over the (dataset, subject)
pairs.

When ROOT also holds a MEGC list csv (``combined_3_class2_for_optical_flow.csv``: columns
``dataset, sub, filename_o, label``; label 0=negative 1=positive 2=surprise), the composite is
restricted to the listed samples and takes the list's labels; SMIC ``s01``/``s01_ne_01`` are
matched to the folders ``s1``/``s1_ne_01``, SAMM ``6`` or ``006`` to ``006``. Rows that match no
sample, label disagreements and labelled samples the list leaves out are reported as quirks.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from mertool.datasets import casme2, samm, smic
from mertool.datasets.base import DatasetRead, Quirk, Sample, register, relpath
from mertool.datasets.frames import list_dir
from mertool.datasets.labels import LABEL_MAPS
from mertool.datasets.tables import Table, as_int, as_text
from mertool.errors import DatasetError

NAME = "megc2019"
LABEL_MAP = "megc2019"
#: The parts in the order the composite lists them, each with its readers (preferred first).
PARTS: dict[str, tuple[tuple[str, Callable[[Path], bool], Callable[[Path], DatasetRead]], ...]] = {
    "casme2": (
        ("casme2", casme2.detect_raw, casme2.read_casme2),
        ("casme2-cropped", casme2.detect_cropped, casme2.read_casme2_cropped),
    ),
    "samm": (("samm", samm.detect, samm.read_samm),),
    "smic": (
        ("smic", smic.detect_band("HS", False), lambda root: smic.read(root, "HS", False)),
        ("smic-cropped", smic.detect_band("HS", True), lambda root: smic.read(root, "HS", True)),
    ),
}
LIST_COLUMNS = ("dataset", "sub", "filename_o", "label")
LIST_NAME = "combined_3_class2_for_optical_flow.csv"


def find_parts(root: Path) -> tuple[dict[str, tuple[str, Path]], list[Quirk]]:
    """``{part: (reader name, subfolder)}`` for the parts found among ``root``'s subfolders."""
    found: dict[str, tuple[str, Path]] = {}
    quirks: list[Quirk] = []
    dirs, _ = list_dir(root)
    for d in dirs:
        for part, readers in PARTS.items():
            reader = next((name for name, detect, _ in readers if _safe(detect, d)), None)
            if reader is None:
                continue
            if part in found:
                quirks.append(
                    Quirk(relpath(d, root), f"another {part} folder; {found[part][1].name}/ was read instead")
                )
            else:
                found[part] = (reader, d)
    return found, quirks


def _safe(detect: Callable[[Path], bool], folder: Path) -> bool:
    try:
        return bool(detect(folder))
    except OSError:
        return False


def detect(root: Path) -> bool:
    """Two or more of CASME II, SAMM and SMIC as subfolders of ``root``."""
    dirs, _ = list_dir(root)
    if len(dirs) > 12:  # a dataset's own subject folders, not a composite root
        return False
    parts, _ = find_parts(root)
    return len(parts) >= 2


def find_list(root: Path) -> list[Path]:
    """MEGC list csv files in ``root`` (by their columns); the usual name first."""
    _, files = list_dir(root)
    lists = []
    for f in files:
        if f.suffix.lower() != ".csv":
            continue
        try:
            Table.read(f, required=LIST_COLUMNS)
        except DatasetError:
            continue
        lists.append(f)
    return sorted(lists, key=lambda p: (p.name != LIST_NAME, p.name))


@register(
    NAME,
    "MEGC2019 composite: SMIC-HS + CASME II + SAMM as subfolders of one root, 3 classes "
    "(+ optional combined_3_class2_for_optical_flow.csv list)",
    detect,
    label_maps=("megc2019", "native"),
    default_label_map=LABEL_MAP,
    aliases=("megc",),
    title="MEGC2019 composite",
    accepts=lambda root: bool(find_parts(root)[0]),
)
def read_megc2019(root: Path) -> DatasetRead:
    root = Path(root)
    parts, quirks = find_parts(root)
    if not parts:
        raise DatasetError(
            f"{root}: no CASME II, SAMM or SMIC folder among its subfolders",
            hint="put the three datasets as they were unpacked into one folder (e.g. CASME2/, SAMM/, SMIC/)",
        )
    reads: list[DatasetRead] = []
    for part in PARTS:
        if part not in parts:
            quirks.append(Quirk(".", f"no {part} folder found; the composite has no {part} samples"))
            continue
        reader_name, folder = parts[part]
        reader = next(r for n, _, r in PARTS[part] if n == reader_name)
        part_read = reader(folder)
        prefix = relpath(folder, root)
        part_read.quirks = [_prefixed(q, prefix) for q in part_read.quirks]
        reads.append(part_read)
    lists = find_list(root)
    for extra in lists[1:]:
        quirks.append(Quirk(relpath(extra, root), f"another MEGC list; {lists[0].name} was used"))
    result = compose(reads, root, lists[0] if lists else None)
    result.quirks = quirks + result.quirks
    return result


def _prefixed(q: Quirk, prefix: str) -> Quirk:
    if Path(q.file).is_absolute() or prefix == ".":
        return q
    return Quirk(f"{prefix}/{q.file}" if q.file != "." else prefix, q.message, q.row)


def compose(parts: Sequence[DatasetRead], root: Path, megc_list: Path | None = None) -> DatasetRead:
    """The MEGC2019 composite of already-read parts (each a CASME II, SAMM or SMIC-HS read).

    Without ``megc_list``: every sample whose ``megc2019`` label is not None, in part order.
    With it: the listed samples only, labelled as the list says (quirks for disagreements).
    """
    quirks: list[Quirk] = [q for p in parts for q in p.quirks]
    files: list[Path] = [f for p in parts for f in p.annotation_files]
    pool = [s for p in parts for s in p.samples]
    if megc_list is None:
        samples = [s for s in pool if s.labels.get(LABEL_MAP) is not None]
    else:
        samples, list_quirks = _restrict(pool, megc_list, root)
        quirks += list_quirks
        files.append(megc_list)
    order = {d: i for i, d in enumerate(PARTS)}
    samples.sort(key=lambda s: order.get(s.dataset, len(order)))  # stable: part order, then as read
    return DatasetRead(NAME, Path(root), samples, quirks, annotation_files=files, default_label_map=LABEL_MAP)


def list_key(dataset: str, sub: object, clip: object) -> tuple[str, str | None, str | None]:
    """A MEGC list row's (dataset, subject, clip) in the readers' spelling (``s01`` -> ``s1``...)."""
    dataset = (as_text(dataset) or "").lower()
    text = as_text(clip)
    if dataset == "casme2":
        return dataset, casme2.subject_id(sub), text
    if dataset == "samm":
        return dataset, samm.subject_id(sub), text
    if dataset == "smic":
        return dataset, smic.subject_id(sub), smic.clip_name(text) if text else None
    return dataset, as_text(sub), text


def _list_label(value: object) -> str | None:
    classes = LABEL_MAPS[LABEL_MAP].classes
    n = as_int(value)
    if n is not None:
        return classes[n] if 0 <= n < len(classes) else None
    text = (as_text(value) or "").lower()
    return text if text in classes else None


def _restrict(pool: list[Sample], megc_list: Path, root: Path) -> tuple[list[Sample], list[Quirk]]:
    table = Table.read(megc_list, required=LIST_COLUMNS)
    rel = relpath(megc_list, root)
    quirks: list[Quirk] = []
    by_key: dict[tuple[str, str, str], Sample] = {}
    for s in pool:
        by_key.setdefault((s.dataset, s.subject, s.clip), s)
        by_key.setdefault((s.dataset, s.subject, s.clip.lower()), s)
    have_parts = {s.dataset for s in pool}
    chosen: dict[str, Sample] = {}
    no_part: Counter[str] = Counter()
    for row in table:
        dataset, subject, clip = list_key(row.get("dataset"), row.get("sub"), row.get("filename_o"))
        label = _list_label(row.get("label"))
        where = f"{dataset} {row.get('sub')} {row.get('filename_o')}"
        if label is None:
            quirks.append(
                Quirk(rel, f"{where}: label {row.get('label')!r} is not 0, 1 or 2; row skipped", row.number)
            )
            continue
        if dataset not in have_parts:
            no_part[dataset] += 1
            continue
        sample = None
        if subject is not None and clip is not None:
            sample = by_key.get((dataset, subject, clip)) or by_key.get((dataset, subject, clip.lower()))
        if sample is None:
            quirks.append(
                Quirk(rel, f"{where}: matches no sample read from the {dataset} folder", row.number)
            )
            continue
        if sample.id in chosen:
            quirks.append(Quirk(rel, f"{where}: {sample.id} listed twice; this row skipped", row.number))
            continue
        own = sample.labels.get(LABEL_MAP)
        if own != label:
            quirks.append(
                Quirk(
                    rel,
                    f"{sample.id}: the list says {label}, its emotion {sample.emotion!r} gives "
                    f"{own or 'no MEGC2019 label'}; the list's label is used",
                    row.number,
                )
            )
            sample = dataclasses.replace(sample, labels={**sample.labels, LABEL_MAP: label})
        chosen[sample.id] = sample
    for dataset, n in sorted(no_part.items()):
        quirks.append(
            Quirk(rel, f"{n} row(s) for {dataset!r}: no such dataset among the parts read; skipped")
        )
    left_out = Counter(s.dataset for s in pool if s.labels.get(LABEL_MAP) is not None and s.id not in chosen)
    for dataset, n in sorted(left_out.items()):
        quirks.append(
            Quirk(rel, f"{n} {dataset} sample(s) with a MEGC2019 label are not in the list; left out")
        )
    return list(chosen.values()), quirks
