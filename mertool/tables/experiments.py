"""What every ``make table-*`` target runs: data, input preparation, one run per paper row.

An :class:`Experiment` names the dataset roots it needs (Make variables, :data:`DATA_VARS`), the
prepared inputs its runs read (:data:`PREPS`: the pipeline commands with their options, each
step cached), and one :class:`RowSpec` per row of the paper's table (:mod:`.published`): the
``eval-loso`` runs behind the row (``--preset`` plus the row's switches), and which number of
which run fills which of the paper's columns (:data:`METRICS`). The smoke twin runs the very
same commands on synthetic data (:data:`SMOKE_DATA`), with the sizes and epochs of
:attr:`Experiment.smoke` instead of the preset's: one epoch, small inputs.

The runner (:mod:`.runner`) executes these definitions; nothing here runs anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mertool.errors import MertoolError

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
        Prep(
            "samm-face-rois15",
            ("SAMM",),
            None,
            (
                Step("detect-faces"),
                Step(
                    "crop-rois",
                    (
                        "--regions",
                        "face,rois15",
                        "--size",
                        "224",
                        "--roi-size",
                        "64",
                        "--frames",
                        "onset,middle,apex",
                    ),
                ),
            ),
            "SAMM full face (224 px) and paper 001's 15 ROIs (64 px) at onset, middle and apex",
        ),
        Prep(
            "ckplus-face-rois15",
            ("CKPLUS",),
            None,
            (
                Step("detect-faces"),
                Step(
                    "crop-rois",
                    (
                        "--regions",
                        "face,rois15",
                        "--size",
                        "224",
                        "--roi-size",
                        "64",
                        "--frames",
                        "onset,middle,apex",
                    ),
                ),
            ),
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
# paper 004: DFR-Net on the MEGC2019 composite


def _dfr(*switches: str) -> dict[str, Run]:
    return {"main": Run("megc2019-flow", ("--preset", "dfr-net-004", *switches))}


_MEGC_COLS = tuple(
    ("main", m)
    for m in ("uf1", "uar", "smic.uf1", "smic.uar", "casme2.uf1", "casme2.uar", "samm.uf1", "samm.uar")
)
_COST_COLS = (("cost", "params"), ("cost", "ms"), ("cost", "flops"))
_SMOKE_004 = {"--epochs": "1", "--input-size": "32", "--val-subjects": "1"}
_BEST = _dfr()  # T+S+D, attention fusion, CA+SA, 3 stages: the paper's model (preset defaults)
_NO_ATT = _dfr("--attention", "none")


def _baseline(data: str, arch: str) -> dict[str, Run]:
    """A hand-crafted baseline (mertool.models.handcrafted) through the same eval-loso and paper
    004's set-up (composite LOSO, megc2019 labels, per-dataset columns) as the networks. Of the
    preset's training settings only the protocol and labels apply: the SVM is fitted in closed
    form (no epochs, validation split or normalisation), on the samples as they are (no
    augmentation, which it refuses)."""
    return {"main": Run(data, ("--preset", "dfr-net-004", "--arch", arch, "--augment", "none"))}


_004: tuple[Experiment, ...] = (
    Experiment(
        "table-004-2",
        (
            RowSpec("Ours (DFR-Net)", _BEST),
            RowSpec("LBP-TOP", _baseline("megc2019-frames", "lbp-top-svm")),
            RowSpec("BI-WOOF", _baseline("megc2019-flow", "bi-woof-svm")),
        ),
        _MEGC_COLS,
        _SMOKE_004,
        (
            "LBP-TOP and BI-WOOF are computed: lbp-top-svm (LBP-TOP of 10 frames onset->offset, 5x5 "
            "blocks, u2 codes P=8 R=1) and bi-woof-svm (Bi-WOOF of the TV-L1 flow onset->apex, 5x5 "
            "blocks, 8 bins), each with a linear SVM fitted in closed form per fold on raw-scale "
            "inputs (docs/models.md, hand-crafted baselines); of --preset dfr-net-004 only the "
            "composite protocol and megc2019 labels apply to them (no epochs, validation split, "
            "normalisation or augmentation), so the smoke twin runs them exactly as the real target.",
            "The other literature rows are the paper's own numbers, printed as given.",
        ),
    ),
    Experiment(
        "table-004-3",
        (
            RowSpec("S+D", _dfr("--branches", "SD")),
            RowSpec("T+D", _dfr("--branches", "TD")),
            RowSpec("T+S", _dfr("--branches", "TS")),
            RowSpec("T+S+D", _BEST),
        ),
        _MEGC_COLS,
        _SMOKE_004,
    ),
    Experiment(
        "table-004-4",
        (
            RowSpec("Add", _dfr("--fusion", "add")),
            RowSpec("Mul", _dfr("--fusion", "mul")),
            RowSpec("Cat", _dfr("--fusion", "cat")),
            RowSpec("Ours (attention)", _BEST),
        ),
        _MEGC_COLS,
        _SMOKE_004,
    ),
    Experiment(
        "table-004-5",
        (
            RowSpec("AlexNet", _dfr("--opt", "backbone=alexnet"), ("004 T5", "AlexNet")),
            RowSpec("VGG", _dfr("--opt", "backbone=vgg"), ("004 T5", "VGG")),
            RowSpec("Inception", _dfr("--opt", "backbone=inception"), ("004 T5", "Inception")),
            RowSpec("ResNet", _NO_ATT, ("004 T5", "ResNet")),
            RowSpec("ViT", _dfr("--opt", "backbone=vit"), ("004 T5", "ViT")),
        ),
        (("main", "uf1"), ("main", "uar"), *_COST_COLS),
        _SMOKE_004,
        (
            "T5's ResNet row equals T6's None row (.7333/.6991): the modules after fusion are "
            "compared without attention.",
        ),
    ),
    Experiment(
        "table-004-6",
        (
            RowSpec("None", _NO_ATT),
            RowSpec("SA", _dfr("--attention", "sa")),
            RowSpec("CA", _dfr("--attention", "ca")),
            RowSpec("All", _BEST),
        ),
        _MEGC_COLS,
        _SMOKE_004,
    ),
    Experiment(
        "table-004-7",
        (RowSpec("None", _NO_ATT, ("004 T7", "None")), RowSpec("All", _BEST, ("004 T7", "All"))),
        (("main", "uf1"), ("main", "uar"), *_COST_COLS),
        _SMOKE_004,
    ),
    Experiment(
        "table-004-8",
        (
            RowSpec("1", _dfr("--stages", "1")),
            RowSpec("2", _dfr("--stages", "2")),
            RowSpec("3", _BEST),
            RowSpec("4", _dfr("--stages", "4")),
        ),
        _MEGC_COLS,
        _SMOKE_004,
    ),
    Experiment(
        "table-004-9",
        tuple(RowSpec(str(k), {}, ("004 T9", f"{k} layer" + ("s" if k > 1 else ""))) for k in (1, 2, 3, 4)),
        _COST_COLS,
        {},
        (
            "Parameters, FLOPs and latency need no dataset: the real target and its smoke twin measure the same models.",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------
# paper 002: dual-branch ResNet + Inception, CASME II 5 classes


def _dual(*switches: str) -> dict[str, Run]:
    return {"main": Run("casme2-face-au5", ("--preset", "dual-branch-002", *switches))}


_SMOKE_002 = {"--epochs": "1", "--input-size": "48"}
_CAFFM = _dual("--opt", "variant=DBFEM+CAFFM")

_002: tuple[Experiment, ...] = (
    Experiment(
        "table-002-5",
        tuple(
            RowSpec(f"ResNet{d}", _dual("--opt", "variant=GFEM", "--opt", f"depth={d}")) for d in (12, 18, 34)
        ),
        (("main", "accuracy"), ("main", "uf1"), ("main", "uar")),
        _SMOKE_002,
        (
            "002 section IV.C runs this ablation 'with global feature images as the input data': the "
            "global branch alone (variant GFEM) at depth 12/18/34. The paper's T5 ResNet12 (0.7577) and "
            "T7 GFEM (66.31 %) disagree, so its T5 may have used more than the global branch.",
        ),
    ),
    Experiment(
        "table-002-7",
        tuple(
            RowSpec(name, _dual("--opt", f"variant={variant}"), ("002 T7", name))
            for name, variant in (
                ("GFEM", "GFEM"),
                ("LTFEM", "LTFEM"),
                ("DBFEM", "DBFEM"),
                ("DBFEM+CAFFM", "DBFEM+CAFFM"),
                ("DBFEM+CAFFM_L", "CAFFM_L"),
                ("DBFEM+CAFFM_G", "CAFFM_G"),
            )
        ),
        (("main", "acc%"), ("cost", "params_m"), ("cost", "gflops"), ("cost", "fps")),
        _SMOKE_002,
        ("FPS: batch 1 on this machine's CPU; the paper does not say where it measured its FPS.",),
    ),
    Experiment(
        "table-002-8",
        (RowSpec("OURS (dual-branch, DBFEM+CAFFM)", _CAFFM),),
        (("main", "acc%"), ("main", "precision"), ("main", "recall")),
        _SMOKE_002,
        (
            "P and R are macro averages over the 5 classes. The literature rows are the paper's, printed as given.",
        ),
    ),
)


# ------------------------------------------------------------------------------------------------
# paper 003: SE-ResNeXt-50 + focal loss, apex frames vs every frame, CASME II

_SE = ("--preset", "se-resnext50-003")
_003 = Experiment(
    "table-003-4",
    (
        RowSpec("SE-ResNeXt-50 + focal, apex frames", {"main": Run("casme2-apex-face", _SE)}),
        RowSpec("SE-ResNeXt-50 + focal, all frames", {"main": Run("casme2-every-frame", _SE)}),
        RowSpec("SE-ResNeXt-50 + CE, apex frames", {"main": Run("casme2-apex-face", (*_SE, "--loss", "ce"))}),
        RowSpec(
            "ResNeXt-50 + CE, apex frames",
            {"main": Run("casme2-apex-face", (*_SE, "--arch", "resnext50", "--loss", "ce"))},
        ),
    ),
    (("main", "accuracy"), ("main", "f1")),
    {"--epochs": "1", "--input-size": "32"},
    (
        "F1 is the macro F1 (UF1). In the all-frames row every frame is a sample: its numbers are per "
        "frame, and a clip's frames always sit on one side of a fold (LOSO keeps subjects whole).",
    ),
)


# ------------------------------------------------------------------------------------------------
# paper 001: ResNet (+ABN, +ArcFace, +CK+ pre-training) on SAMM, 5-fold


def _abn(roi: bool, abn: bool, extra: tuple[str, ...] = (), pretrain: bool = False) -> dict[str, Run]:
    base = ("--preset", "abn-001", "--opt", f"abn={str(abn).lower()}")
    if roi:
        # the 15 ROIs enter as one 5 x 3 mosaic of 64-px regions (a 320 x 192 image)
        base += ("--opt", "roi=true", "--input-size", "64")
    runs = {}
    for key, frames in (("2d", ()), ("3d", ("--opt", "input=3frames"))):
        args = base + frames + extra
        pre = Pretrain("ckplus-face-rois15", base + frames) if pretrain else None
        runs[key] = Run("samm-face-rois15", args, pre)
    return runs


_ARCFACE = ("--opt", "arcface=true", "--loss", "arcface")
_SMOKE_001 = {"--epochs": "1", "--input-size": "32", "--augment": "rotate=10,hflip,contrast=0.2,x2"}
_SMOKE_001_ROI = {**_SMOKE_001, "--input-size": "16"}
_001_COLS = (("2d", "acc%"), ("3d", "acc%"))
_001_NOTE = (
    "Folds: mertool's kfold:5 keeps each subject in one fold (paper 001 split samples, letting one "
    "person sit in train and test). Each row changes one thing from the ResNet row of its block "
    "(ABN or not): CK+ pre-training, or the ArcFace head and loss."
)

_001: tuple[Experiment, ...] = (
    Experiment(
        "table-001-5",
        (
            RowSpec("w/o ABN: ResNet", _abn(True, False)),
            RowSpec("w/o ABN: + CK+ fine-tuning", _abn(True, False, pretrain=True)),
            RowSpec("w/o ABN: + ArcFace", _abn(True, False, _ARCFACE)),
            RowSpec("w/ ABN: ResNet", _abn(True, True)),
            RowSpec("w/ ABN: + CK+ fine-tuning", _abn(True, True, pretrain=True)),
            RowSpec("w/ ABN: + ArcFace", _abn(True, True, _ARCFACE)),
        ),
        _001_COLS,
        _SMOKE_001_ROI,
        (
            _001_NOTE,
            "CK+ pre-training: mertool train on CK+ (7 emotions) with the row's model, then --opt pretrained=FILE.",
        ),
    ),
    Experiment(
        "table-001-6",
        (RowSpec("w/o ABN: ResNet", _abn(False, False)), RowSpec("w/ ABN: ResNet", _abn(False, True))),
        _001_COLS,
        _SMOKE_001,
        (_001_NOTE,),
    ),
)


# ------------------------------------------------------------------------------------------------
# paper 000: ResNet50 (+CBAM, +SE) on RAF-DB; the YOLOv8s face detector on WIDER FACE


def _raf(arch: str) -> dict[str, Run]:
    return {"main": Run("rafdb-face", ("--preset", "se-resnet50-000", "--arch", arch))}


_DET_COLS = (("det", "det.precision"), ("det", "det.recall"), ("det", "det.map50"))


def _det(model: str) -> dict[str, Run]:
    return {"det": Run("widerface-yolo", (model,), kind="detector")}


_SE_ROW = _raf("resnet50-se")
_000: tuple[Experiment, ...] = (
    Experiment(
        "table-000-2",
        (
            RowSpec("YOLOv8s", _det("yolov8s-face")),
            RowSpec("YOLOv8s + Star_Block", _det("yolov8s-c2f-star")),
            RowSpec("YOLOv8s + Star_Block + CBAM", _det("yolov8s-c2f-star-cbam")),
        ),
        _DET_COLS,
        {},
        (
            "Detectors are trained from scratch (no pretrained weights offline), ultralytics' defaults: 100 epochs, 640 px, batch 16.",
        ),
    ),
    Experiment(
        "table-000-3",
        (
            RowSpec("ResNet50", _raf("resnet50")),
            RowSpec("ResNet50 + CBAM", _raf("resnet50-cbam")),
            RowSpec("ResNet50 + SE", _SE_ROW),
        ),
        (("main", "precision"), ("main", "recall"), ("main", "f1"), ("main", "auc")),
        {"--epochs": "1", "--input-size": "32"},
        ("P, R, F1 and ROC-AUC are macro averages over the 7 classes on RAF-DB's test split.",),
    ),
    Experiment(
        "table-000-4",
        (
            RowSpec("yolov8s-C2f-Star-CAA (WIDER FACE)", _det("yolov8s-c2f-star-caa")),
            RowSpec(
                "SE-ResNet50 (RAF-DB)",
                _SE_ROW,
                columns=(("main", "precision"), ("main", "recall"), ("main", "f1")),
            ),
        ),
        _DET_COLS,
        {"--epochs": "1", "--input-size": "32"},
        (
            "The SE-ResNet50 row is table-000-3's 'ResNet50 + SE' run (the same run directory: after "
            "table-000-3 it costs nothing).",
        ),
    ),
)


EXPERIMENTS: dict[str, Experiment] = {e.target: e for e in (*_000, *_001, *_002, _003, *_004)}
#: make's order
TARGETS: tuple[str, ...] = tuple(sorted(EXPERIMENTS))


def get_experiment(target: str) -> Experiment:
    name = target.removesuffix("-smoke")
    if name not in EXPERIMENTS:
        raise MertoolError(
            f"unknown table target {target!r}", hint="mertool tables list shows them: " + ", ".join(TARGETS)
        )
    return EXPERIMENTS[name]


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
