"""Shell completions: checked-in scripts are current, and bash/zsh/fish scripts complete what they should."""

from __future__ import annotations

import re
import shutil
import subprocess
from enum import Enum
from pathlib import Path

import pytest
import typer

from mertool.cli import completions as C

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """Scripts generated in a fresh interpreter, as `make completions` does: other tests register
    test-only models and readers in this process, which must not leak into the comparison."""
    import sys

    out = tmp_path_factory.mktemp("completions")
    subprocess.run(
        [sys.executable, "-m", "mertool.cli.completions", str(out)], check=True, capture_output=True
    )
    return out


def test_checked_in_completions_are_current(generated):
    """Fails when a command or option changed without `make completions`."""
    stale = []
    for name in C.FILES:
        checked_in = REPO / "completions" / name
        if not checked_in.is_file() or checked_in.read_bytes() != (generated / name).read_bytes():
            stale.append(name)
    assert not stale, f"completions/{', '.join(stale)} out of date: run `make completions` and commit them"


def test_generation_is_deterministic(generated, tmp_path):
    import sys

    subprocess.run(
        [sys.executable, "-m", "mertool.cli.completions", str(tmp_path)], check=True, capture_output=True
    )
    for name in C.FILES:
        assert (tmp_path / name).read_bytes() == (generated / name).read_bytes()


def _bash_complete(script: Path, words: list[str], cwd: Path | None = None) -> list[str]:
    """Drive the bash completion function as bash itself would on TAB, return COMPREPLY."""
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    prog = (
        f"source '{script}'\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        'COMP_LINE="${COMP_WORDS[*]}"; COMP_POINT=${#COMP_LINE}\n'
        '_mertool; printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    res = subprocess.run(["bash", "-c", prog], capture_output=True, text=True, cwd=cwd, timeout=30)
    assert res.returncode == 0, res.stderr
    return [line for line in res.stdout.splitlines() if line]


def test_bash_completes_nested_commands_options_and_values(generated, tmp_path):
    script = generated / "mertool.bash"
    assert _bash_complete(script, ["mertool", "da"]) == ["datasets"]
    assert _bash_complete(script, ["mertool", "datasets", ""]) == ["list", "info"]
    assert set(_bash_complete(script, ["mertool", "datasets", "info", "-"])) >= {
        "--dataset",
        "-d",
        "--json",
        "--help",
    }
    assert set(_bash_complete(script, ["mertool", "datasets", "info", "--dataset", "ck"])) == {"ckplus"}
    # --opt=value: bash splits the '=' into its own word
    assert _bash_complete(script, ["mertool", "datasets", "info", "--dataset", "=", "mm"]) == ["mmew"]
    # path argument: files and folders of the current directory
    (tmp_path / "casme_root").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    got = _bash_complete(script, ["mertool", "datasets", "info", "-d", "casme", ""], cwd=tmp_path)
    assert sorted(got) == ["casme_root", "notes.txt"]


# --- a small app with every feature, so these checks do not depend on which commands exist -----------


class Color(str, Enum):
    red = "red"
    green = "green"


def _toy_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, context_settings={"help_option_names": ["-h", "--help"]})
    grp = typer.Typer(help="Things.")

    @app.command("paint")
    def paint(
        where: Path = typer.Argument(..., file_okay=False, dir_okay=True, help="A folder."),
        color: Color = typer.Option(Color.red, "--color", "-c", help="Which colour [default: red]."),
        output: str = typer.Option("-", "--output", "-o", metavar="FILE", help="Where: it goes."),
        count: int = typer.Option(1, "--count", help="How many."),
        dry: bool = typer.Option(False, "--dry-run", help="Don't do it."),
    ) -> None:
        """Paint a folder. More text here."""

    @grp.command("show")
    def show(name: Color = typer.Argument(..., help="Colour to show.")) -> None:
        """Show one thing's colour."""

    @grp.command("ls")
    def ls() -> None:
        """List things."""

    app.add_typer(grp, name="things")
    return app


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("toy")
    rendered = C.render_all(C.build_tree(_toy_app()))
    for name, text in rendered.items():
        (out / name).write_text(text)
    return out


def test_tree_of_the_toy_app():
    tree = C.build_tree(_toy_app())
    paint = next(c for c in tree.walk() if c.key == "mertool paint")
    opts = {o.names[0]: o for o in paint.options}
    assert opts["--color"].names == ["--color", "-c"] and opts["--color"].values == ["red", "green"]
    assert opts["--output"].kind == C.FILE and opts["--count"].kind == C.NONE
    assert not opts["--dry-run"].takes_value and "--help" in opts
    assert paint.args[0].kind == C.DIR
    assert paint.help == "Paint a folder."
    show = next(c for c in tree.walk() if c.key == "mertool things show")
    assert show.args[0].kind == C.CHOICE and show.args[0].values == ["red", "green"]


def test_bash_toy(toy, tmp_path):
    script = toy / "mertool.bash"
    assert _bash_complete(script, ["mertool", ""]) == ["paint", "things"]
    assert _bash_complete(script, ["mertool", "things", ""]) == ["show", "ls"]
    assert _bash_complete(script, ["mertool", "things", "show", "g"]) == ["green"]
    assert _bash_complete(script, ["mertool", "paint", "-c", ""]) == ["red", "green"]
    assert _bash_complete(script, ["mertool", "paint", "--count", ""]) == []  # a number: nothing offered
    (tmp_path / "d1").mkdir()
    (tmp_path / "f1").write_text("x")
    assert _bash_complete(script, ["mertool", "paint", "--count", "3", ""], cwd=tmp_path) == [
        "d1"
    ]  # folders only
    assert sorted(_bash_complete(script, ["mertool", "paint", "d1", "-o", ""], cwd=tmp_path)) == ["d1", "f1"]


# --- zsh and fish: real syntax check where the shell exists, structure checks everywhere ---------------


def _zsh_structure(text: str) -> None:
    assert text.startswith("#compdef mertool\n")
    defined = set(re.findall(r"^(_mertool\w*)\(\) \{$", text, re.MULTILINE))
    called = set(re.findall(r"\b(_mertool\w*)\b", text)) - {"_mertool"}
    assert called <= defined, f"zsh: functions used but not defined: {sorted(called - defined)}"
    assert text.count("{\n") == len(defined) and text.count("\n}\n") == len(defined)
    for line in text.splitlines():
        stripped = re.sub(r"'\\''", "", line)  # an escaped quote inside a single-quoted word
        assert stripped.count("'") % 2 == 0, f"zsh: unbalanced quotes: {line}"
    # zsh's grammar for these constructs is a superset bash can parse: a syntax proxy without zsh
    res = subprocess.run(["bash", "-n"], input=text, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def _fish_words(line: str) -> list[str]:
    """Split a fish command line into words (fish single quotes: only \\' and \\\\ escape)."""
    words, cur, i, quoted = [], "", 0, False
    while i < len(line):
        ch = line[i]
        if quoted:
            if ch == "\\" and i + 1 < len(line) and line[i + 1] in "'\\":
                cur += line[i + 1]
                i += 1
            elif ch == "'":
                quoted = False
            else:
                cur += ch
        elif ch == "'":
            quoted = True
        elif ch.isspace():
            if cur:
                words.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    assert not quoted, f"fish: unterminated quote: {line}"
    return [*words, cur] if cur else words


def _fish_structure(text: str, keys: list[str]) -> None:
    opens = closes = 0
    for line in text.splitlines():
        words = _fish_words(line.split("#", 1)[0] if line.lstrip().startswith("#") else line)
        if not words:
            continue
        opens += words[0] in ("function", "for", "if", "switch", "while", "begin")
        closes += words[0] == "end"
        if words[0] == "complete":
            assert words[1:3] == ["-c", "mertool"], line
    assert opens == closes, "fish: blocks and 'end' do not balance"
    for key in keys:
        assert f"'__mertool_at \\'{key}\\''" in text, f"fish: no completions for {key}"


@pytest.mark.parametrize("which", ["real", "toy"])
def test_zsh_script(generated, toy, which):
    path = (generated if which == "real" else toy) / "_mertool"
    text = path.read_text()
    _zsh_structure(text)
    zsh = shutil.which("zsh")
    if zsh:
        res = subprocess.run([zsh, "-n", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    assert "_mertool_datasets_info()" in text if which == "real" else "_mertool_things_show()" in text


@pytest.mark.parametrize("which", ["real", "toy"])
def test_fish_script(generated, toy, which):
    path = (generated if which == "real" else toy) / "mertool.fish"
    text = path.read_text()
    keys = (
        ["mertool", "mertool datasets", "mertool datasets info"]
        if which == "real"
        else ["mertool things show"]
    )
    _fish_structure(text, keys)
    fish = shutil.which("fish")
    if fish:
        res = subprocess.run([fish, "-n", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    if which == "toy":
        assert (
            "-s c -x -a 'red green'" in text
            and "-a '(__fish_complete_directories (commandline -ct))'" in text
        )
