"""The table targets: every paper row has an experiment, reports put the paper beside ours, the
runner caches and resumes, a missing dataset root says which Make variable to set, and the
every-frame expansion of paper 003 never lets a clip straddle a fold."""

from __future__ import annotations

import csv
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mertool.errors import MertoolError
from mertool.tables import spec as X
from mertool.tables.registry import EXPERIMENTS, TABLES, TARGETS
from mertool.tables.runner import TRAIN_FLAGS

TABLES_MD_TARGETS = (
    "table-000-2 table-000-3 table-000-4 table-001-5 table-001-6 table-002-5 table-002-7 table-002-8 "
    "table-003-4 table-004-2 table-004-3 table-004-4 table-004-5 table-004-6 table-004-7 table-004-8 table-004-9"
).split()


# ------------------------------------------------------------------------------------------------
# definitions


def test_one_experiment_per_paper_table():
    assert sorted(EXPERIMENTS) == sorted(TABLES) == sorted(TABLES_MD_TARGETS)
    assert list(TARGETS) == sorted(TABLES_MD_TARGETS)


@pytest.mark.parametrize("target", TABLES_MD_TARGETS)
def test_every_paper_row_has_an_experiment_with_its_columns(target):
    from mertool.models.paper_table import ROWS as MODEL_ROWS

    exp, paper = EXPERIMENTS[target], TABLES[target]
    assert [r.name for r in exp.rows] == [r.name for r in paper.rows]  # no row without an experiment
    model_rows = {(r.source, r.row) for r in MODEL_ROWS}
    for row in exp.rows:
        cols = exp.row_columns(row)
        assert len(cols) == len(paper.columns), row.name
        for src, metric in cols:
            assert metric in X.METRICS, metric
            if src == "cost":
                assert row.cost in model_rows, (row.name, row.cost)
            else:
                assert src in row.runs, (row.name, src)
        assert row.runs or row.cost, f"{row.name} measures nothing"
        for run in row.runs.values():
            assert run.input in X.PREPS
            if run.pretrain:
                assert run.pretrain.input in X.PREPS
    for var in exp.data:
        assert var in X.DATA_VARS and var in X.SMOKE_DATA


def test_shared_rows_are_the_same_run():
    """The paper's best model appears in five 004 tables: one definition, hence one run."""
    best = {
        EXPERIMENTS[t].rows[-1].runs["main"]
        for t in ("table-004-3", "table-004-4", "table-004-6", "table-004-7")
    }
    best.add(EXPERIMENTS["table-004-2"].rows[0].runs["main"])
    best.add(EXPERIMENTS["table-004-8"].rows[2].runs["main"])
    assert len(best) == 1
    assert EXPERIMENTS["table-000-4"].rows[1].runs == EXPERIMENTS["table-000-3"].rows[2].runs
    assert EXPERIMENTS["table-002-8"].rows[0].runs == EXPERIMENTS["table-002-7"].rows[3].runs


class _Resolved(Exception):
    """Raised by the patched evaluation entry point: the command got as far as running."""


def _eval_runs():
    for t in TABLES_MD_TARGETS:
        exp = EXPERIMENTS[t]
        for row in exp.rows:
            for key, run in row.runs.items():
                if run.kind == "eval":
                    yield pytest.param(exp, run, id=f"{t}:{row.name}:{key}")


@pytest.mark.parametrize(("exp", "run"), list(_eval_runs()))
def test_run_options_are_valid_eval_loso_options(exp, run, cli, tmp_path, monkeypatch):
    """Every row's command line, real and smoke, parses and resolves to a configuration with the
    current eval-loso (presets, architectures, model options): checked without any data."""
    import mertool.training.options as train_options

    seen = []

    def stop(cfg):
        seen.append(cfg)
        raise _Resolved

    monkeypatch.setattr(train_options, "input_stage", stop)
    args = list(run.args) + (["--opt", f"pretrained={tmp_path / 'model.pt'}"] if run.pretrain else [])
    for argv in (args, X.merge_args(tuple(args), exp.smoke)):
        with pytest.raises(_Resolved):
            cli(
                "eval-loso",
                "in.h5",
                *argv,
                *[a for kv in X.SMOKE_RUN.items() for a in kv if a],
                "-o",
                tmp_path / "r",
            )
    if run.pretrain:  # the CK+ pre-training command parses with mertool train too
        train_overrides = {k: v for k, v in exp.smoke.items() if k in TRAIN_FLAGS}
        for argv in (run.pretrain.args, X.merge_args(run.pretrain.args, train_overrides)):
            with pytest.raises(_Resolved):
                cli("train", "ck.h5", *argv, "--threads", "1", "-o", tmp_path / "m.pt")
        seen = seen[:2]
    real, smoke = seen
    assert real.preset and real.preset == smoke.preset
    if exp.smoke.get("--epochs"):
        assert smoke.fit.epochs == int(exp.smoke["--epochs"]) and real.fit.epochs > smoke.fit.epochs
    assert {k: v for k, v in real.options.items()} == {k: v for k, v in smoke.options.items()}


def test_merge_args_replaces_and_appends():
    base = ("--preset", "p", "--input-size", "64", "--opt", "a=1")
    assert X.merge_args(base, {"--input-size": "16", "--epochs": "1", "--no-plots": None}) == [
        "--preset", "p", "--input-size", "16", "--opt", "a=1", "--epochs", "1", "--no-plots",
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------------
# reports


def _fake_ours(paper):
    from mertool.tables.report import OursRow

    ours = {}
    for k, r in enumerate(paper.rows):
        vals = []
        for v in r.values:
            if isinstance(v, float):
                vals.append(v + 0.01 * (k + 1))
            else:
                vals.append(None)
        ours[r.name] = OursRow(vals, {"samples": 442})
    return ours


@pytest.mark.parametrize("smoke", [False, True])
def test_report_puts_paper_beside_ours(tmp_path, smoke):
    from mertool.tables.report import SMOKE_BANNER, literature_section, paper_table, write_files

    paper = TABLES["table-004-3"]
    header, csv_rows, md_rows = paper_table(paper, _fake_ours(paper), ["samples"])
    assert header[:4] == ["row", "Full UF1 (paper)", "Full UF1 (ours)", "Full UF1 (Δ)"]
    assert len(header) == 1 + 3 * len(paper.columns) + 1
    md, csv_path = write_files(
        tmp_path, "t" + ("-smoke" if smoke else ""), header, csv_rows, title="T3", smoke=smoke, md_rows=md_rows,
        sections=[literature_section(TABLES["table-004-2"])],
    )  # fmt: skip
    text = md.read_text()
    assert (SMOKE_BANNER in text) is smoke
    # S+D: paper 0.6474, ours 0.6574, Δ +0.0100 (4 decimals, like the paper)
    assert "| S+D | 0.6474 | 0.6574 | +0.0100 | 0.6332 | 0.6432 | +0.0100 |" in text
    # T+D SMIC UF1 is 0.6340 in the paper (a float that lost its zero): still 4 decimals
    assert "| 0.6340 | 0.6540 | +0.0200 |" in text
    assert "CapsuleNet" in text and "0.5820" in text  # literature row, the column's decimals
    rows = list(csv.reader(csv_path.open()))
    assert rows[0] == header and rows[1][0] == "S+D"
    assert float(rows[1][1]) == 0.6474 and float(rows[1][2]) == pytest.approx(0.6574)
    assert float(rows[1][3]) == pytest.approx(0.01) and rows[1][-1] == "442"


def test_report_units_and_missing_values(tmp_path):
    from mertool.tables.report import OursRow, paper_table, split_number

    assert split_number("3.273M") == (3.273, "M", 3)
    assert split_number(0.7657) == (0.7657, "", 4) and split_number(None) is None
    paper = TABLES["table-004-9"]
    ours = {"1": OursRow(["0.479M", 22.5, "1.456G"]), "3": OursRow([None, None, None])}
    _, csv_rows, md_rows = paper_table(paper, ours)
    assert md_rows[0] == [
        "1",
        "0.456M",
        "0.479M",
        "+0.023M",
        "40.108",
        "22.500",
        "-17.608",
        "1.404G",
        "1.456G",
        "+0.052G",
    ]
    assert md_rows[1][2] == "—" and md_rows[1][3] == "—"  # row 2: nothing measured
    assert md_rows[2][2:4] == ["—", "—"]
    assert csv_rows[0][1:4] == [
        "0.456M",
        "0.479M",
        pytest.approx(0.023),
    ]  # as the paper writes it, Δ a number
    paper3 = TABLES["table-003-4"]  # no published numbers: ours alone, no difference
    _, _, md3 = paper_table(paper3, {paper3.rows[0].name: OursRow([0.5, 0.25])})
    assert md3[0][1:] == ["—", "0.5000", "—", "—", "0.2500", "—"]


def test_detector_tables_use_the_shared_writer(tmp_path):
    from mertool.tables.paper_000 import CLASSIFIER_MARKER, CLASSIFIER_ROW, write_table
    from mertool.tables.report import SMOKE_BANNER

    rows = [[CLASSIFIER_ROW, "se-resnet50", 0.8739, 0.8399, 0.8548] + [None] * 9 + [CLASSIFIER_MARKER]]
    md, _ = write_table("table-000-4", rows, tmp_path, "table-000-4-smoke", "setup")
    assert SMOKE_BANNER in md.read_text()


# ------------------------------------------------------------------------------------------------
# missing data


def test_missing_variable_names_it(tmp_path):
    from mertool.tables.runner import Context, run_target

    ctx = Context(results=tmp_path / "results")
    with pytest.raises(MertoolError) as info:
        run_target("table-004-3", ctx)
    assert "set CASME2=/path/to/CASME2 (the folder holding CASME2-coding-*.xlsx)" in info.value.message
    assert "SAMM" in info.value.message and "SMIC" in info.value.message
    ctx.data = {"SAMM": tmp_path}  # a folder that is not SAMM
    with pytest.raises(MertoolError, match="does not look like SAMM"):
        run_target("table-001-6", ctx)
    assert not (tmp_path / "results").exists()  # nothing started


def test_make_target_without_data_stops_with_a_message(tmp_path, mertool_bin):
    repo = Path(__file__).resolve().parents[1]
    r = subprocess.run(
        ["make", "-s", "-o", "install", "-o", ".venv/.mertool-installed", "table-002-5", f"RESULTS={tmp_path}",
         f"MERTOOL={mertool_bin}"],
        cwd=repo, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode != 0
    assert "set CASME2=/path/to/CASME2" in r.stderr and "Traceback" not in r.stderr


def test_cli_list_and_unknown_target(cli):
    r = cli("tables", "list", "--json")
    data = json.loads(r.stdout)
    assert [t["target"] for t in data["targets"]] == list(TARGETS)
    needs = {t["target"]: t["needs"] for t in data["targets"]}
    assert needs["table-004-3"] == ["CASME2", "SAMM", "SMIC"] and needs["table-004-9"] == []
    assert needs["table-001-5"] == ["SAMM", "CKPLUS"] and needs["table-000-4"] == ["RAFDB", "WIDERFACE"]
    r = cli("tables", "run", "table-9-9")
    assert r.exit_code != 0 and "unknown table target" in r.stderr
    r = cli("tables", "run", "table-004-2", "--data", "CASME=/x")
    assert r.exit_code != 0 and "VAR=ROOT" in r.stderr


# ------------------------------------------------------------------------------------------------
# every frame of a clip as a sample (paper 003)


def _clip_file(path: Path, failed: bool = True) -> Path:
    from mertool.store import SampleWriter
    from mertool.store import schema as S

    rng = np.random.default_rng(0)
    with SampleWriter(path, "crop-rois", params={"keep_frames": True}) as w:
        for subj in ("sub01", "sub02", "sub03", "sub04"):
            for c, label in enumerate(("happiness", "surprise")):
                t = 3 + c
                sid = f"casme2/{subj}/EP0{c}"
                w.write(
                    sid,
                    arrays={
                        S.D_FRAMES: rng.integers(0, 255, (t, 16, 16, 3), dtype=np.uint8),
                        S.D_FRAME_NUMBERS: np.arange(10, 10 + t, dtype=np.int32),
                    },
                    attrs={
                        S.A_DATASET: "casme2",
                        S.A_SUBJECT: subj,
                        S.A_CLIP: f"EP0{c}",
                        S.A_LABEL: label,
                        S.A_LABEL_MAP: "casme2-5",
                        S.A_ONSET: 10,
                        S.A_APEX: 11,
                    },  # fmt: skip
                )
        if failed:
            w.write_failed(
                "casme2/sub05/EP09", "no face in img1.jpg", {S.A_DATASET: "casme2", S.A_SUBJECT: "sub05"}
            )
    return path


def test_frames_as_samples_keeps_clips_and_subjects_whole(tmp_path):
    from mertool.evaluation.protocols import check_folds, make_folds, parse_protocol, sample_groups
    from mertool.store import SampleFile
    from mertool.tables.frames import clip_of, expand_frames
    from mertool.training.data import load_table

    src = _clip_file(tmp_path / "clips.h5")
    counts = expand_frames(src, tmp_path / "frames.h5")
    assert counts == {"clips": 8, "frames": 4 * (3 + 4), "failed": 1}
    with SampleFile(tmp_path / "frames.h5") as sf:
        assert "crop-rois" in sf.stages_done
        rec = sf.record("casme2/sub02/EP01~f12")
        assert rec.get("subject") == "sub02" and rec.get("label") == "surprise"
        assert rec.array("crops/face").shape == (1, 16, 16, 3)
        assert not sf.record("casme2/sub05/EP09").ok
    table = load_table(tmp_path / "frames.h5", ("face",), 16)
    assert len(table) == 28 and table.label_map == "casme2-5"
    groups = sample_groups(table.datasets, table.subjects, table.ids)
    for proto in ("loso", "kfold:2"):
        folds = make_folds(parse_protocol(proto), groups, table.labels, table.splits, seed=0)
        check_folds(folds, groups, len(table))
        for f in folds:
            test_clips = {clip_of(table.ids[i]) for i in f.test}
            train_clips = {clip_of(table.ids[i]) for i in f.train}
            assert test_clips and not (test_clips & train_clips)
            test_subj = {table.subjects[i] for i in f.test}
            assert not (test_subj & {table.subjects[i] for i in f.train})


def test_frames_as_samples_needs_kept_frames(tmp_path):
    from mertool.store import SampleWriter
    from mertool.tables.frames import expand_frames

    with SampleWriter(tmp_path / "rois.h5", "crop-rois") as w:
        w.write(
            "casme2/sub01/EP01",
            arrays={"crops/face": np.zeros((1, 8, 8, 3), np.uint8)},
            attrs={"subject": "sub01"},
        )
    with pytest.raises(MertoolError, match="--keep-frames"):
        expand_frames(tmp_path / "rois.h5", tmp_path / "out.h5")


# ------------------------------------------------------------------------------------------------
# stand-in stills for the smoke twins


def test_stills_trees_read_as_rafdb_and_ckplus(synth_casme2, tmp_path):
    from mertool.datasets.base import open_dataset
    from mertool.tables.stills import write_ckplus, write_rafdb

    raf = open_dataset(write_rafdb(synth_casme2.dataset_root, tmp_path / "raf"), "rafdb")
    assert len(raf.samples) == 2 * len(synth_casme2.ids)  # apex + onset of every clip
    assert {s.extra["split"] for s in raf.samples} == {"train", "test"}
    assert "neutral" in {s.label("rafdb-7") for s in raf.samples}
    ck = open_dataset(write_ckplus(synth_casme2.dataset_root, tmp_path / "ck"), "ckplus")
    assert len(ck.samples) == len(synth_casme2.ids)
    assert all(s.label("ckplus-7") for s in ck.samples) and all(len(s.frames) >= 2 for s in ck.samples)


# ------------------------------------------------------------------------------------------------
# the runner, end to end on one 004 target


@pytest.mark.slow
def test_smoke_target_runs_caches_and_resumes(tmp_path, monkeypatch):
    """table-004-7-smoke end to end (synthetic MEGC2019 set, 1 epoch); then again with --resume:
    nothing is recomputed and the numbers are the same."""
    from mertool.tables import runner
    from mertool.tables.report import SMOKE_BANNER

    ctx = runner.Context(results=tmp_path, smoke=True, quiet=True)
    md, csv_path = runner.run_target("table-004-7", ctx)
    text = md.read_text()
    assert md.name == "table-004-7-smoke.md" and SMOKE_BANNER in text
    rows = {r[0]: r for r in csv.reader(csv_path.open())}
    assert set(rows) == {"row", "None", "All"}
    header = rows["row"]
    uf1 = float(rows["All"][header.index("UF1 (ours)")])
    assert 0.0 <= uf1 <= 1.0
    assert rows["All"][header.index("Params (ours)")].endswith("M")
    assert float(rows["All"][header.index("ms (ours)")]) > 0
    assert rows["All"][header.index("folds")] == "6/6 folds"
    row_json = json.loads((tmp_path / "table-004-7-smoke" / "all" / "row.json").read_text())
    run_dir = Path(row_json["runs"]["main"]["dir"])
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (
        summary["complete"] and summary["preset"] == "dfr-net-004" and summary["config"]["fit"]["epochs"] == 1
    )
    assert set(summary["per_dataset"]) == {"casme2", "samm", "smic"}
    assert re.search(r"mertool eval-loso \S+flow\.h5 --preset dfr-net-004 --attention none", text)
    assert "mertool spot-apex" in text and "--method label --fallback dc-rois" in text

    calls = []
    monkeypatch.setattr(runner, "run_command", lambda *a, **k: calls.append(a) or "")
    ctx2 = runner.Context(results=tmp_path, smoke=True, resume=True, quiet=True)
    _, csv2 = runner.run_target("table-004-7", ctx2)
    assert calls == []  # inputs cached, runs finished: nothing ran
    rows2 = {r[0]: r for r in csv.reader(csv2.open())}
    assert rows2["All"][header.index("UF1 (ours)")] == rows["All"][header.index("UF1 (ours)")]

    ctx3 = runner.Context(results=tmp_path, smoke=True, resume=False, quiet=True)
    runner.run_target("table-004-7", ctx3)  # without --resume the runs (not the inputs) run again
    assert [a[0][0] for a in calls] == ["eval-loso", "eval-loso"]


# ------------------------------------------------------------------------------------------------
# the rows' command lines as keyword arguments


def test_keyword_args_parse_the_table_commands():
    from mertool.tables.commands import keyword_args

    argv = ["in.h5", "--preset", "abn-001", "--opt", "abn=true", "--opt", "roi=true", "--input-size", "16",
            "--augment", "rotate=10,hflip,contrast=0.2,x2", "--no-plots", "-o", "r"]  # fmt: skip
    assert keyword_args(argv) == (
        ["in.h5"],
        {"preset": "abn-001", "opt": ["abn=true", "roi=true"], "input_size": 16,
         "augment": "rotate=10,hflip,contrast=0.2,x2", "no_plots": True, "output": "r"},
    )  # fmt: skip
    assert keyword_args(["w.pt", "d.yaml", "--imgsz", "160", "--json"]) == (
        ["w.pt", "d.yaml"],
        {"imgsz": 160, "json": True},
    )
    assert keyword_args(["r.h5", "--keep-frames", "--resume", "-o", "x.h5"])[1] == {
        "keep_frames": True, "resume": True, "output": "x.h5",
    }  # fmt: skip
    with pytest.raises(MertoolError, match="positionals first"):
        keyword_args(["--size", "224", "--keep-frames", "-o", "x", "late"])


def test_every_step_of_every_table_is_a_known_call():
    from mertool.tables.commands import COMMANDS

    stages = {"detect-faces", "spot-apex", "crop-rois", "flow"}
    steps = {s.command for p in X.PREPS.values() for s in p.steps}
    assert steps <= stages | {"detector-prepare", "frames-as-samples"}
    assert {"train", "eval-loso", "detector synth", "detector prepare", "detector train", "detector eval",
            "tables frames-as-samples"} <= set(COMMANDS)  # fmt: skip
