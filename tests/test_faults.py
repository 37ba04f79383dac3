"""Faults (issue 14, part 5): kill -9, a full disk, a read-only output folder, two runs on one -o.

* **kill -9**: every stage and ``eval-loso`` run as real processes and killed with SIGKILL at a
  random point (seeded) after they started writing. What they leave is never half-written: the
  output is absent, or complete and readable (the work in progress is in a hidden ``.partial``
  file); ``--resume`` then completes with results identical to an uninterrupted run.
* **a full disk**: simulated in-process (the free space the store sees, and an ``OSError(ENOSPC)``
  from the HDF5 write itself), and for real on a small tmpfs where the machine lets the test
  mount one. A clear error, exit code 2, and the earlier output intact.
* **a read-only output folder**: tests run as root in CI, and ``chmod 0o555`` does not stop
  root, so the test mounts a read-only tmpfs where it may, and otherwise simulates the
  ``EROFS``/``EACCES`` the kernel would give (monkeypatched ``os.open`` / ``Path.mkdir``).
* **two runs writing the same -o at once**: the second refuses, naming the first; for
  ``eval-loso`` per fold, so runs of other folds (``--folds``/``--shard``) still share a directory.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from helpers_training import write_flow_file

from mertool.store import SampleFile

pytestmark = pytest.mark.slow

#: The installed console script (the ``mertool_bin`` fixture's, for module-scoped fixtures).
MERTOOL = str(Path(sys.executable).with_name("mertool"))
ENV = {
    **os.environ,
    "YOLO_OFFLINE": "1",
    "YOLO_CONFIG_DIR": str(Path(__file__).parents[1] / ".cache" / "ultralytics"),
    "MPLBACKEND": "Agg",
    "PYTHONUNBUFFERED": "1",
}
STAGES = ("detect-faces", "spot-apex", "crop-rois", "flow")
INPUT_OF = {"spot-apex": "detect-faces", "crop-rois": "spot-apex", "flow": "crop-rois"}
SEEDS = (1, 2)
EVAL_ARGS = (
    "--arch",
    "ststnet",
    "--epochs",
    "2",
    "--input-size",
    "16",
    "--seed",
    "0",
    "-j",
    "1",
    "--no-plots",
)


def stage_args(stage: str, source: Path, out: Path) -> list[str]:
    extra = {"crop-rois": []}.get(stage, ["-j", "1"])
    return [stage, str(source), "-o", str(out), *extra]


def run(mertool_bin: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [mertool_bin, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=timeout
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def timed_run(args: list, started) -> tuple[float, str]:
    """Run to the end; returns the seconds it worked after ``started()`` became true (the kill
    tests kill at a random point of that span) and its stderr."""
    proc = start(MERTOOL, [str(a) for a in args])
    t_start = None
    while proc.poll() is None:
        if t_start is None and started():
            t_start = time.monotonic()
        time.sleep(0.02)
    t_end = time.monotonic()
    stderr = proc.stderr.read().decode()
    assert proc.returncode == 0, stderr
    return t_end - (t_start or t_end), stderr


@pytest.fixture(scope="module")
def chain(synth_casme2, tmp_path_factory):
    """Every stage's output on the tiny synthetic set from uninterrupted runs, with the seconds
    each worked once writing (the kill delays scale with them)."""
    d = tmp_path_factory.mktemp("faults-chain")
    files, seconds = {}, {}
    source = synth_casme2.dataset_root
    for stage in STAGES:
        out = d / f"{stage}.h5"
        partial = out.with_name(f".{out.name}.partial")
        seconds[stage], _ = timed_run(stage_args(stage, source, out), partial.exists)
        files[stage], source = out, out
    return SimpleNamespace(dir=d, files=files, seconds=seconds)


# ------------------------------------------------------------------------------------------------
# comparing outputs


def sample_content(path: Path) -> dict:
    """Every sample's attributes and arrays (provenance, which records times, left out)."""
    out = {}
    with SampleFile(path) as sf:
        assert sf.complete
        for rec in sf.records():
            arrays = {n: rec.array(n) for n in rec.array_names()}
            out[rec.id] = (rec.attrs, arrays)
    return out


def assert_same_samples(a: Path, b: Path) -> None:
    ca, cb = sample_content(a), sample_content(b)
    assert sorted(ca) == sorted(cb)
    for sid in ca:
        (attrs_a, arrays_a), (attrs_b, arrays_b) = ca[sid], cb[sid]
        assert attrs_a == attrs_b, sid
        assert sorted(arrays_a) == sorted(arrays_b), sid
        for name in arrays_a:
            x, y = arrays_a[name], arrays_b[name]
            if isinstance(x, np.ndarray):
                assert x.dtype == y.dtype and np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), (sid, name)
            else:
                assert x == y, (sid, name)


def assert_absent_or_complete(out: Path) -> None:
    """No half-written output: the file is absent, or a complete sample file that opens."""
    if out.exists():
        with SampleFile(out) as sf:
            assert sf.complete
            sf.ids()


# ------------------------------------------------------------------------------------------------
# kill -9


def start(mertool_bin: str, args: list[str]) -> subprocess.Popen:
    # a session of its own, so that the worker processes it starts can be cleaned up after
    return subprocess.Popen(
        [mertool_bin, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=ENV,
        start_new_session=True,
    )


def kill_9(proc: subprocess.Popen) -> bool:
    """SIGKILL the mertool process (as ``kill -9 PID`` does); then end what it left running (its
    workers would stop on their own once they find their parent gone). True when it was still
    running, i.e. the kill interrupted it."""
    running = proc.poll() is None
    if running:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    time.sleep(0.2)
    return running


def wait_for(path_test, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path_test():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("stage", STAGES)
def test_kill_9_then_resume_gives_the_uninterrupted_result(
    chain, synth_casme2, stage, seed, tmp_path, mertool_bin, record_property
):
    source = chain.files[INPUT_OF[stage]] if stage in INPUT_OF else synth_casme2.dataset_root
    out = tmp_path / f"{stage}.h5"
    args = stage_args(stage, source, out)
    partial = out.with_name(f".{out.name}.partial")
    proc = start(mertool_bin, args)
    # once the stage has started writing, kill it at a random point of its expected run time
    wait_for(lambda: partial.exists() or proc.poll() is not None, 120)
    time.sleep(random.Random(f"{stage}-{seed}").uniform(0.0, 0.9) * chain.seconds[stage])
    killed = kill_9(proc)
    record_property("killed_while_running", killed)
    assert_absent_or_complete(out)
    r = run(mertool_bin, *args, "--resume")
    assert r.returncode == 0, r.stderr
    assert not partial.exists() and not out.with_name(f".{out.name}.lock").exists()
    assert_same_samples(out, chain.files[stage])


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory):
    """A tiny flow file (3 subjects: 3 LOSO folds) and its uninterrupted eval-loso results."""
    d = tmp_path_factory.mktemp("faults-eval")
    flow = write_flow_file(d / "flow.h5", subjects=3, per_class=2, size=16)
    ref = d / "ref"
    seconds, _ = timed_run(["eval-loso", flow, *EVAL_ARGS, "-o", ref], (ref / "config.json").exists)
    return SimpleNamespace(flow=flow, ref=ref, seconds=seconds)


#: What records when, where and how long a run took, never what it computed.
CIRCUMSTANCES = frozenset({"seconds", "created", "command", "figures", "input", "mertool_version"})


def without_circumstances(obj):
    if isinstance(obj, dict):
        return {k: without_circumstances(v) for k, v in obj.items() if k not in CIRCUMSTANCES}
    if isinstance(obj, list):
        return [without_circumstances(v) for v in obj]
    return obj


def fold_results(results: Path) -> dict:
    """Every finished fold's predictions (ids, labels, probabilities, training history)."""
    out = {}
    for p in sorted((results / "folds").glob("*/predictions.json")):
        rec = json.loads(p.read_text())
        out[rec["fold"]] = without_circumstances(rec)
    return out


def summary_numbers(results: Path) -> dict:
    """summary.json without timestamps, commands, paths and durations."""
    return without_circumstances(json.loads((results / "summary.json").read_text()))


def assert_eval_outputs_whole(results: Path) -> None:
    """Every JSON output present parses completely (atomic writes); no lock is left held."""
    for p in results.rglob("*.json"):
        json.loads(p.read_text())


@pytest.mark.parametrize("seed", SEEDS)
def test_eval_loso_kill_9_then_resume_gives_the_uninterrupted_result(
    eval_run, seed, tmp_path, mertool_bin, record_property
):
    out = tmp_path / "results"
    args = ["eval-loso", str(eval_run.flow), *EVAL_ARGS, "-o", str(out)]
    proc = start(mertool_bin, args)
    wait_for(lambda: (out / "config.json").exists() or proc.poll() is not None, 120)
    time.sleep(random.Random(f"eval-{seed}").uniform(0.0, 0.9) * eval_run.seconds)
    record_property("killed_while_running", kill_9(proc))
    if out.exists():
        assert_eval_outputs_whole(out)
    r = run(mertool_bin, *args, "--resume")
    assert r.returncode == 0, r.stderr
    assert fold_results(out) == fold_results(eval_run.ref)
    assert summary_numbers(out) == summary_numbers(eval_run.ref)
    assert not list(out.rglob(".lock"))


# ------------------------------------------------------------------------------------------------
# two runs writing the same output at once


def test_a_second_run_on_the_same_output_refuses(chain, tmp_path, mertool_bin):
    out = tmp_path / "flow.h5"
    args = stage_args("flow", chain.files["crop-rois"], out)
    first = start(mertool_bin, args)
    try:
        lock = out.with_name(f".{out.name}.lock")
        assert wait_for(lambda: lock.exists() or first.poll() is not None, 120)
        # hold the first run still while the second starts (a run of 6 samples is quicker
        # than a Python start-up), then let it finish
        os.kill(first.pid, signal.SIGSTOP)
        assert first.poll() is None, "the first run ended before the second could start"
        second = run(mertool_bin, *args)
        os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == 2
        assert f"error: {out} is being written by another mertool run (pid {first.pid}" in second.stderr
        assert "wait for that run to finish, or give this one another -o FILE" in second.stderr
        assert first.wait(timeout=300) == 0, first.stderr.read().decode()
    finally:
        if first.poll() is None:
            kill_9(first)
    assert_same_samples(out, chain.files["flow"])
    assert not lock.exists()


def test_a_second_eval_loso_on_the_same_folds_refuses(eval_run, tmp_path, mertool_bin):
    out = tmp_path / "results"
    args = ["eval-loso", str(eval_run.flow), *EVAL_ARGS, "-o", str(out)]
    first = start(mertool_bin, args)
    try:
        assert wait_for(lambda: list(out.glob("folds/*/.lock")) or first.poll() is not None, 120)
        os.kill(first.pid, signal.SIGSTOP)
        assert first.poll() is None, "the first run ended before the second could start"
        second = run(mertool_bin, *args)
        os.kill(first.pid, signal.SIGCONT)
        assert second.returncode == 2
        assert f"is being written by another mertool run (pid {first.pid}" in second.stderr
        assert f"error: {out}: fold " in second.stderr
        assert first.wait(timeout=300) == 0, first.stderr.read().decode()
    finally:
        if first.poll() is None:
            kill_9(first)
    assert fold_results(out) == fold_results(eval_run.ref)


def test_lock_is_taken_over_once_its_holder_is_gone(tmp_path):
    """A lock file left by a killed run holds nothing: the kernel let go of it with the process."""
    from mertool.errors import StoreError
    from mertool.store.locks import acquire

    path = tmp_path / ".x.h5.lock"
    code = f"from mertool.store.locks import acquire; l = acquire({str(path)!r}, 'x', 'h'); import time; time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        assert wait_for(lambda: path.exists() and path.stat().st_size > 0, 30)
        with pytest.raises(
            StoreError, match=rf"x is being written by another mertool run \(pid {holder.pid} on "
        ):
            acquire(path, "x", "h")
    finally:
        kill_9(holder)
    assert path.exists()  # left behind by the kill...
    with acquire(path, "x", "h"):  # ...and free
        pass
    assert not path.exists()


# ------------------------------------------------------------------------------------------------
# a full disk


def test_full_disk_before_a_sample_is_a_clear_error_and_keeps_the_earlier_output(
    chain, tmp_path, cli, monkeypatch
):
    """The store checks the free space before each sample (HDF5 does not survive meeting a full
    disk: h5py 3.16 crashes the process). Simulated: the device has 1 MiB free."""
    out = tmp_path / "flow.h5"
    shutil.copyfile(chain.files["flow"], out)  # an earlier, complete output
    before = sha(out)
    from mertool.store import samplefile

    real = shutil.disk_usage
    monkeypatch.setattr(
        samplefile.shutil,
        "disk_usage",
        lambda p: real(p)._replace(free=2**20) if str(p) == str(tmp_path) else real(p),
    )
    r = cli("flow", chain.files["crop-rois"], "-o", out, "-j", "1")
    assert r.exit_code == 2
    assert f"error: cannot write {out} at sample casme2/sub01/" in r.output
    assert ": no space left on the device; the samples finished before it are kept in" in r.output
    assert "free some space (or write elsewhere with -o), then re-run with --resume" in r.output
    assert sha(out) == before
    assert not out.with_name(f".{out.name}.lock").exists()


def test_enospc_from_the_hdf5_write_is_a_clear_error(chain, tmp_path, cli, monkeypatch):
    """The disk fills between the check and the write (another process took the space): the
    OSError HDF5 raises becomes the same clear error; --resume carries on once there is room."""
    out = tmp_path / "flow.h5"
    shutil.copyfile(chain.files["flow"], out)
    before = sha(out)
    from mertool.store import samplefile

    real_write = samplefile.write_array
    calls = {"n": 0}

    def full_after_a_while(group, name, value):
        calls["n"] += 1
        if calls["n"] > 8:
            raise OSError(
                errno.ENOSPC,
                "Can't write data (file write failed: errno = 28, error message = 'No space left on device')",
            )
        real_write(group, name, value)

    monkeypatch.setattr(samplefile, "write_array", full_after_a_while)
    r = cli("flow", chain.files["crop-rois"], "-o", out, "-j", "1")
    assert r.exit_code == 2
    assert f"error: cannot write {out} at sample " in r.output and "no space left on the device" in r.output
    assert sha(out) == before
    monkeypatch.setattr(samplefile, "write_array", real_write)
    r = cli("flow", chain.files["crop-rois"], "-o", out, "-j", "1", "--resume")
    assert r.exit_code == 0, r.output
    assert_same_samples(out, chain.files["flow"])


@pytest.fixture
def tmpfs(tmp_path):
    """A small tmpfs of our own, where the machine lets the test mount one (root with
    CAP_SYS_ADMIN); skipped elsewhere (the simulated tests above cover the same code)."""
    mounted = []

    def mount(name: str, size: str, readonly: bool = False) -> Path:
        where = tmp_path / name
        where.mkdir()
        opts = f"size={size}" + (",ro" if readonly else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({r.stderr.decode().strip()})")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_real_full_disk_is_a_clear_error_not_a_crash(chain, tmpfs, mertool_bin):
    disk = tmpfs("small", "12m")
    out = disk / "flow.h5"
    shutil.copyfile(chain.files["flow"], out)
    before = sha(out)
    from mertool.store.samplefile import SPACE_RESERVE

    # fill it, leaving less than the store keeps in reserve (but room for the lock and the
    # file's header): the first sample finds the disk as good as full
    ballast = shutil.disk_usage(disk).free - SPACE_RESERVE // 4
    (disk / "ballast").write_bytes(b"\1" * max(0, ballast))
    r = run(mertool_bin, "detect-faces", chain.files["detect-faces"], "-o", disk / "faces.h5", "-j", "1")
    assert r.returncode == 2, r.stderr  # not -11 (SIGSEGV): HDF5 never met the full disk
    assert (
        f"error: cannot write {disk / 'faces.h5'}" in r.stderr and "no space left on the device" in r.stderr
    )
    assert sha(out) == before


# ------------------------------------------------------------------------------------------------
# a read-only output folder


@pytest.fixture
def readonly(tmp_path, monkeypatch):
    """A read-only folder holding an earlier output, and the reason mertool must give: a
    read-only tmpfs where the machine lets the test mount one; else ``chmod 0o555`` when not
    root; else (root, no mount: chmod does not stop root) the kernel's EROFS simulated on
    ``os.open`` and ``Path.mkdir`` below the folder."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() != 0:
        (folder / "old.txt").write_text("earlier output\n")
        folder.chmod(0o555)
        why = "permission denied"
    elif (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True
        ).returncode
        == 0
    ):
        mounted = True
        (folder / "old.txt").write_text("earlier output\n")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        why = "the file system is read-only"
    else:
        (folder / "old.txt").write_text("earlier output\n")
        real_open, real_mkdir = os.open, Path.mkdir

        def ro_open(path, flags, *a, **k):
            if str(path).startswith(str(folder)) and flags & (os.O_CREAT | os.O_WRONLY | os.O_RDWR):
                raise OSError(errno.EROFS, "Read-only file system", str(path))
            return real_open(path, flags, *a, **k)

        def ro_mkdir(self, *a, **k):
            if str(self).startswith(str(folder)) and not self.exists():
                raise OSError(errno.EROFS, "Read-only file system", str(self))
            return real_mkdir(self, *a, **k)

        monkeypatch.setattr(os, "open", ro_open)
        monkeypatch.setattr(Path, "mkdir", ro_mkdir)
        why = "the file system is read-only"
    yield folder, why
    if mounted:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)
    elif os.geteuid() != 0:
        folder.chmod(0o755)


def test_read_only_output_folder_is_a_clear_error(chain, readonly, cli):
    folder, why = readonly
    out = folder / "flow.h5"
    r = cli("flow", chain.files["crop-rois"], "-o", out, "-j", "1")
    assert r.exit_code == 2
    assert f"error: cannot write {out} in {folder}: {why}" in r.output
    assert "write the output somewhere writable (-o OTHER/PATH); nothing was changed there" in r.output
    assert (folder / "old.txt").read_text() == "earlier output\n"
    assert sorted(p.name for p in folder.iterdir()) == ["old.txt"]


def test_eval_loso_into_a_read_only_folder_is_a_clear_error(eval_run, readonly, cli):
    folder, why = readonly
    r = cli("eval-loso", eval_run.flow, *EVAL_ARGS, "-o", folder / "results")
    assert r.exit_code == 2
    assert "error: cannot write fold " in r.output and why in r.output
    assert sorted(p.name for p in folder.iterdir()) == ["old.txt"]


def test_eval_loso_full_disk_is_a_clear_error(eval_run, tmp_path, monkeypatch):
    import mertool.store.json_files as json_files
    from mertool.cli.app import main

    real = json_files.write_json_atomic

    def full(path, obj):
        if path.name == "predictions.json":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, obj)

    monkeypatch.setattr(json_files, "write_json_atomic", full)
    with pytest.raises(SystemExit) as stop:
        main(["eval-loso", str(eval_run.flow), *EVAL_ARGS, "-o", str(tmp_path / "r")])
    assert stop.value.code == 2
