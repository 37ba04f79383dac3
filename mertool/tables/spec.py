"""The vocabulary of the table targets (``make table-*``); the papers' own modules
(:mod:`.paper_000` … :mod:`.paper_004`) say what each table runs and what the paper published.

An :class:`Experiment` names the dataset roots it needs (Make variables, :data:`DATA_VARS`), the
prepared inputs its runs read (:data:`PREPS`: the pipeline commands with their options, each
step cached), and one :class:`RowSpec` per row of the paper's table (:class:`PaperTable`): the
``eval-loso`` runs behind the row (``--preset`` plus the row's switches), and which number of
which run fills which of the paper's columns (:data:`METRICS`). The smoke twin runs the very
same commands on synthetic data (:data:`SMOKE_DATA`), with the sizes and epochs of
:attr:`Experiment.smoke` instead of the preset's: one epoch, small inputs.

:mod:`.registry` gathers the papers' targets; the runner (:mod:`.runner`) executes them; nothing
here runs anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# ------------------------------------------------------------------------------------------------
# data: Make variables -> dataset readers


@dataclass(frozen=True)
class DataVar:
    """A dataset root given on the make command line (``CASME2=/path``)."""

    var: str
    readers: tuple[str, ...]  # readers that may read the root, preferred first
    name: str  # the dataset as people call it
    hint: str  # what the folder holds

    def message(self, target: str) -> str:
        return f"{target} needs {self.name}: set {self.var}=/path/to/{self.var} ({self.hint})"


DATA_VARS: dict[str, DataVar] = {
    d.var: d
    for d in (
        DataVar(
            "CASME2", ("casme2", "casme2-cropped"), "CASME II", "the folder holding CASME2-coding-*.xlsx"
        ),
        DataVar(
            "SAMM", ("samm",), "SAMM", "the folder holding SAMM_Micro_FACS_Codes_v2.xlsx and 006/, 007/, ..."
        ),
        DataVar(
            "SMIC",
            ("smic", "smic-cropped"),
            "SMIC-HS",
            "the folder holding SMIC_all_raw/ (or SMIC_all_cropped/)",
        ),
        DataVar("CKPLUS", ("ckplus",), "CK+", "the folder holding cohn-kanade-images/ and Emotion/"),
        DataVar("RAFDB", ("rafdb",), "RAF-DB (basic)", "the folder holding EmoLabel/ and Image/aligned/"),
        DataVar(
            "WIDERFACE",
            ("widerface",),
            "WIDER FACE",
            "the folder holding wider_face_split/, WIDER_train/, WIDER_val/",
        ),
    )
}


# ------------------------------------------------------------------------------------------------
# input preparation: pipeline commands, each step's output cached


@dataclass(frozen=True)
class Step:
    """One command of a preparation chain: a mertool stage (``detect-faces`` …) with its options,
    or ``frames-as-samples`` (:func:`mertool.tables.frames.expand_frames`, paper 003)."""

    command: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prep:
    """A prepared sample file: a source (one dataset root, or the MEGC2019 composite of three)
    and the chain of steps that turns it into what the models read."""

    name: str
    data: tuple[str, ...]  # Make variables; several = a composite root of symlinks
    reader: str | None  # --dataset for detect-faces (None: the reader that detects the root)
    steps: tuple[Step, ...]
    description: str = ""


MEGC_PARTS = {"CASME2": "CASME2", "SAMM": "SAMM", "SMIC": "SMIC"}  # Make variable -> folder name


def _rois15(name: str, var: str, description: str) -> Prep:
    """Paper 001's input: the full face (224 px) and the 15 ROIs (64 px) at onset, middle and apex."""
    crop = ("--regions", "face,rois15", "--size", "224", "--roi-size", "64", "--frames", "onset,middle,apex")
    return Prep(name, (var,), None, (Step("detect-faces"), Step("crop-rois", crop)), description)


PREPS: dict[str, Prep] = {
    p.name: p
    for p in (
        Prep(
            "megc2019-flow",
            ("CASME2", "SAMM", "SMIC"),
            "megc2019",
            (
                Step("detect-faces"),
                # D&C-RoIs only where the dataset labels no apex (SMIC); the labelled apex elsewhere
                Step("spot-apex", ("--method", "label", "--fallback", "dc-rois")),
                Step("crop-rois", ("--regions", "face", "--frames", "onset,apex")),
                Step("flow"),
            ),
            "MEGC2019 composite (a root of symlinks CASME2/ SAMM/ SMIC/ read as megc2019), TV-L1 flow "
            "onset->apex + strain + |apex - onset| (paper 004)",
        ),
        Prep(
            "megc2019-frames",
            ("CASME2", "SAMM", "SMIC"),
            "megc2019",
            (Step("detect-faces"), Step("spot-apex", ("--method", "label", "--fallback", "dc-rois"))),
            "MEGC2019 composite, every aligned frame of each clip (the first two steps of "
            "megc2019-flow, shared with it): the clip volume LBP-TOP reads",
        ),
        Prep(
            "casme2-face-au5",
            ("CASME2",),
            None,
            (
                Step("detect-faces"),
                Step("crop-rois", ("--regions", "face,au5", "--size", "282", "--roi-size", "112")),
            ),
            "CASME II aligned face (282 px) and the 5 AU regions (112 px) at onset/middle/apex (paper 002)",
        ),
        Prep(
            "casme2-apex-face",
            ("CASME2",),
            None,
            (
                Step("detect-faces", ("--size", "224")),
                Step("crop-rois", ("--regions", "face", "--frames", "apex", "--keep-frames")),
            ),
            "CASME II face at the apex frame (224 px), every aligned frame kept (paper 003)",
        ),
        Prep(
            "casme2-every-frame",
            ("CASME2",),
            None,
            (
                Step("detect-faces", ("--size", "224")),
                Step("crop-rois", ("--regions", "face", "--frames", "apex", "--keep-frames")),
                Step("frames-as-samples"),
            ),
            "CASME II, every frame of every clip as its own sample (same subject, same label; paper 003)",
        ),
        _rois15(
            "samm-face-rois15",
            "SAMM",
            "SAMM full face (224 px) and paper 001's 15 ROIs (64 px) at onset, middle and apex",
        ),
        _rois15(
            "ckplus-face-rois15",
            "CKPLUS",
            "CK+ sequences (neutral -> peak) cut like SAMM, for paper 001's pre-training",
        ),
        Prep(
            "rafdb-face",
            ("RAFDB",),
            None,
            (
                Step("detect-faces"),
                Step("crop-rois", ("--regions", "face", "--frames", "apex", "--size", "224")),
            ),
            "RAF-DB basic aligned images, face at 224 px, its fixed train/test split (paper 000)",
        ),
        Prep(
            "widerface-yolo",
            ("WIDERFACE",),
            None,
            (Step("detector-prepare"),),
            "WIDER FACE in YOLO format (paper 000)",
        ),
    )
}


# ------------------------------------------------------------------------------------------------
# runs and rows


@dataclass(frozen=True)
class Pretrain:
    """``mertool train`` on another prepared input; its model file goes in as ``--opt pretrained=FILE``."""

    input: str
    args: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """One ``mertool eval-loso`` run on a prepared input (``kind="eval"``), or one detector
    training + evaluation (``kind="detector"``: ``args`` = the model name)."""

    input: str
    args: tuple[str, ...]
    pretrain: Pretrain | None = None
    kind: str = "eval"


@dataclass(frozen=True)
class RowSpec:
    """One paper row: its runs (by key) and, for cost columns, a row of
    :data:`mertool.models.paper_table.ROWS` ``(source, row)`` giving the model at the paper's input."""

    name: str
    runs: dict[str, Run] = field(default_factory=dict)
    cost: tuple[str, str] | None = None
    columns: tuple[tuple[str, str], ...] | None = None  # overrides the experiment's (mixed tables)


@dataclass(frozen=True)
class Experiment:
    target: str
    rows: tuple[RowSpec, ...]
    columns: tuple[tuple[str, str], ...]  # per paper column: (run key or "cost", metric)
    smoke: dict[str, str | None] = field(default_factory=dict)  # eval-loso/train overrides, smoke only
    notes: tuple[str, ...] = ()

    @property
    def data(self) -> tuple[str, ...]:
        """The Make variables this target needs, in DATA_VARS order."""
        need: set[str] = set()
        for row in self.rows:
            for run in row.runs.values():
                need.update(PREPS[run.input].data)
                if run.pretrain:
                    need.update(PREPS[run.pretrain.input].data)
        return tuple(v for v in DATA_VARS if v in need)

    def row_columns(self, row: RowSpec) -> tuple[tuple[str, str], ...]:
        return row.columns or self.columns


#: metric -> what it is (the report's legend). ``DS.uf1``/``DS.uar``: pooled predictions restricted
#: to dataset DS of a composite; ``det.*``: the detector's validation numbers.
METRICS = {
    "uf1": "UF1: mean per-class F1 of the pooled confusion matrix",
    "uar": "UAR: mean per-class recall of the pooled confusion matrix",
    "accuracy": "accuracy over the pooled predictions (0-1)",
    "acc%": "accuracy over the pooled predictions, in %",
    "precision": "macro precision: mean over the classes present",
    "recall": "macro recall (= UAR)",
    "f1": "macro F1 (= UF1)",
    "auc": "macro one-vs-rest ROC-AUC",
    "params": "parameters at the paper's input (mertool.models.complexity)",
    "params_m": "parameters in millions",
    "flops": "multiply-accumulates of one forward pass (what papers call FLOPs)",
    "gflops": "multiply-accumulates in G",
    "ms": "median CPU latency of one forward pass, batch 1, on this machine",
    "fps": "1000 / ms (batch 1, CPU, this machine)",
    "det.precision": "detector precision (ultralytics validator, WIDER FACE val)",
    "det.recall": "detector recall",
    "det.map50": "detector mAP@0.5",
}
for _ds in ("smic", "casme2", "samm"):
    METRICS[f"{_ds}.uf1"] = f"UF1 of the {_ds} part of the composite's pooled predictions"
    METRICS[f"{_ds}.uar"] = f"UAR of the {_ds} part of the composite's pooled predictions"


# ------------------------------------------------------------------------------------------------
# the papers' own numbers


@dataclass(frozen=True)
class PaperRow:
    name: str
    values: tuple[float | str | None, ...]


@dataclass(frozen=True)
class PaperTable:
    """A paper's table as published: its columns exactly as the paper reports them and one
    :class:`PaperRow` per row; ``None`` where the paper reports nothing ("—")."""

    target: str
    paper: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[PaperRow, ...]
    notes: str = ""
    literature: tuple[PaperRow, ...] = field(default=())  # other methods' rows, printed as given

    def row(self, name: str) -> PaperRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(name)


def paper_row(name: str, *values: float | str | None) -> PaperRow:
    """``paper_row("S+D", 0.6474, 0.6332)``: one published row."""
    return PaperRow(name, tuple(values))


def published(
    target: str,
    title: str,
    columns: tuple[str, ...],
    *rows: PaperRow,
    notes: str = "",
    literature: tuple[PaperRow, ...] = (),
) -> PaperTable:
    """The published table of ``target``; the paper is the target's (``table-004-3``: ``004``)."""
    return PaperTable(target, target.split("-")[1], title, columns, rows, notes, literature)


# ------------------------------------------------------------------------------------------------
# smoke data: tiny synthetic sets (mertool synth) standing in for each Make variable


@dataclass(frozen=True)
class SynthSet:
    """A synthetic set written once and shared by every smoke twin that needs it."""

    name: str
    layout: str  # mertool synth --layout
    subjects: int
    clips_per_subject: int
    fps: float | None = None
    size: tuple[int, int] = (256, 192)
    duration_ms: tuple[float, float] = (100.0, 140.0)
    seed: int = 0


SYNTH_SETS: dict[str, SynthSet] = {
    s.name: s
    for s in (
        # 2 subjects per dataset: 6 LOSO folds over 18 clips
        SynthSet("megc2019", "megc2019", 2, 3),
        # 3 subjects: 3 LOSO folds; 100 fps keeps clips at ~12 frames (paper 003's every-frame row)
        SynthSet("casme2", "casme2", 3, 3, fps=100.0),
        # 5 subjects: kfold:5 needs one subject per fold at least
        SynthSet("samm", "samm", 5, 2),
    )
}

#: Make variable -> (synthetic set, what stands in): a folder of the set, or a tree built from it
#: (:mod:`mertool.tables.stills`: RAF-DB-like and CK+-like layouts made of the synthetic frames).
SMOKE_DATA: dict[str, tuple[str, str]] = {
    "CASME2": ("casme2", "CASME2"),
    "SAMM": ("samm", "SAMM"),
    "SMIC": ("megc2019", "SMIC"),
    "CKPLUS": ("casme2", "ckplus"),
    "RAFDB": ("casme2", "rafdb"),
    "WIDERFACE": ("", "widerface"),
}
#: paper 004's composite takes all three parts from one synthetic MEGC2019 set.
SMOKE_COMPOSITE = "megc2019"

#: Options every smoke run adds: one process, one thread (tiny models run fastest that way and do
#: not fight other jobs for the cores), no figures. Real runs use every core.
SMOKE_RUN = {"--workers": "1", "--threads": "1", "--no-plots": None}
SMOKE_STAGE = {"--workers": "1"}
#: The synthetic WIDER FACE set of the detector smoke twins (mertool detector synth).
SYNTH_WIDER = {"train": 8, "val": 4, "seed": 0}
#: Detector smoke sizes (ultralytics' trainer).
DETECTOR_REAL = {"epochs": 100, "imgsz": 640, "batch": 16}
DETECTOR_SMOKE = {"epochs": 1, "imgsz": 160, "batch": 4}
#: Latency measurement (ms, FPS columns): repeats after warm-up.
LATENCY_REAL = {"repeats": 100, "warmup": 10}
LATENCY_SMOKE = {"repeats": 3, "warmup": 1}


def merge_args(args: tuple[str, ...], overrides: dict[str, str | None]) -> list[str]:
    """``args`` with each ``--flag`` of ``overrides`` set to its value (replacing the flag's value
    where ``args`` has it, appended otherwise; ``None`` = a flag without a value)."""
    out = list(args)
    for flag, value in overrides.items():
        if flag in out:
            i = out.index(flag)
            if value is None:
                continue
            out[i + 1] = value
        else:
            out += [flag] if value is None else [flag, value]
    return out
