"""Static shell completions for bash, zsh and fish, generated from the typer command tree.

``python -m mertool.cli.completions OUT_DIR`` (``make completions``) walks the ``mertool`` app and
writes ``OUT_DIR/mertool.bash``, ``OUT_DIR/_mertool`` (zsh) and ``OUT_DIR/mertool.fish``. The
scripts are static: pressing TAB never starts Python, so completion is instant. They complete
subcommands (nested groups such as ``datasets info`` included), every command's options with
their short forms, the values of enum options, the names of datasets, label maps and models for
``--dataset``/``--label-map``/``--arch``, and files or folders where a command takes a path.

Output is deterministic (commands in help order, no timestamps), so a test can regenerate the
scripts and compare them byte for byte with the checked-in ``completions/``; when a command or
option changes, ``make completions`` refreshes them. Install steps: docs/completions.md.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

PROG = "mertool"
FILES = ("mertool.bash", "_mertool", "mertool.fish")

#: How a value is completed: a fixed word list, files, folders, or nothing (free text, numbers).
CHOICE, FILE, DIR, NONE = "choice", "file", "dir", "none"


@dataclass
class Opt:
    names: list[str]  # long names first, then short ones (``--dataset``, ``-d``)
    help: str
    takes_value: bool
    kind: str = NONE  # for a value: CHOICE / FILE / DIR / NONE
    values: list[str] = field(default_factory=list)
    metavar: str = "VALUE"
    exclusive: list[str] = field(default_factory=list)  # the names of the whole option (incl. --no-x)


@dataclass
class Arg:
    name: str
    kind: str
    values: list[str]
    variadic: bool


@dataclass
class Cmd:
    path: tuple[str, ...]  # ("mertool", "datasets", "info")
    help: str
    options: list[Opt]
    args: list[Arg]
    subcommands: list[Cmd]

    @property
    def key(self) -> str:
        return " ".join(self.path)

    @property
    def ident(self) -> str:
        return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in self.path)

    def walk(self):
        yield self
        for sub in self.subcommands:
            yield from sub.walk()


# --- value sources for options whose values mertool knows but typer sees as plain text --------------


def _dataset_names() -> list[str]:
    from mertool.datasets.base import readers

    return sorted(readers())


def _label_map_names() -> list[str]:
    from mertool.datasets.labels import LABEL_MAPS

    return ["native", *LABEL_MAPS]


def _model_names() -> list[str]:
    from mertool.models.registry import model_names

    return sorted(model_names())


def _photo_names() -> list[str]:
    from mertool.synth.sources import photo_paths

    return sorted(photo_paths())


VALUE_SOURCES: dict[str, Callable[[], list[str]]] = {
    "--photos": _photo_names,
    "--dataset": _dataset_names,
    "--label-map": _label_map_names,
    "--arch": _model_names,
}
#: Plain-text options and arguments completed with file names (by metavar or name).
_PATHISH = re.compile(r"file|dir|path|root|input|output|weights|folder|\.h5", re.IGNORECASE)
_DIRISH = re.compile(r"^(dir|folder|root|out_dir|outdir)$|_dir$|DIR$", re.IGNORECASE)


def _plain(text: str | None) -> str:
    """The first sentence of a help text as plain one-line text (rich markup removed)."""
    if not text:
        return ""
    try:
        from rich.text import Text

        text = Text.from_markup(text).plain
    except Exception:  # noqa: BLE001 - help text that is not valid markup stays as written
        pass
    text = " ".join(text.split("\b")[0].split())
    m = re.match(r"(.+?[.!?])(\s|$)", text)
    first = m.group(1) if m else text
    return first if len(first) <= 80 else first[:77].rstrip() + "..."


def _choices(param: Any) -> list[str] | None:
    """Choice values of an option or argument (typer's own types, or click-style ``type.choices``)."""
    td = getattr(param, "type_descriptor", None)
    choices = None
    if td is not None:
        try:
            choices = td.choices
        except Exception:  # noqa: BLE001 - an annotation typer cannot describe: no choices
            choices = None
        if choices is None:
            ann = getattr(td, "annotation", None)
            args = getattr(ann, "__args__", None) or ()
            enums = [a for a in args if isinstance(a, type) and issubclass(a, Enum)]
            if isinstance(ann, type) and issubclass(ann, Enum):
                enums = [ann]
            if enums:
                choices = [m.value for m in enums[0]]
    else:
        choices = getattr(getattr(param, "type", None), "choices", None)
    if choices is None:
        return None
    return [str(c.value if isinstance(c, Enum) else c) for c in choices]


def _path_kind(param: Any) -> str | None:
    """FILE or DIR for a path-typed parameter, None when its type is not a path."""
    td = getattr(param, "type_descriptor", None)
    if td is not None:
        if getattr(td, "is_file", False):
            return FILE
        if getattr(td, "is_path", False):
            return DIR if getattr(td, "path_type", "") in ("dir", "directory") else FILE
        return None
    ptype = getattr(param, "type", None)
    if getattr(ptype, "name", "") in ("path", "filename"):
        if getattr(ptype, "dir_okay", True) and not getattr(ptype, "file_okay", True):
            return DIR
        return FILE
    return None


def _is_text(param: Any) -> bool:
    td = getattr(param, "type_descriptor", None)
    ann = getattr(td, "annotation", None) if td is not None else None
    if td is None:
        return getattr(getattr(param, "type", None), "name", "") in ("text", "string")
    args = [a for a in (getattr(ann, "__args__", None) or (ann,)) if a is not type(None)]
    return all(a is str for a in args)


def _value_spec(param: Any, names: list[str]) -> tuple[str, list[str]]:
    choices = _choices(param)
    if choices:
        return CHOICE, choices
    for n in names:
        if n in VALUE_SOURCES:
            try:
                return CHOICE, VALUE_SOURCES[n]()
            except Exception:  # noqa: BLE001 - a registry that fails to load: complete nothing
                return NONE, []
    kind = _path_kind(param)
    if kind:
        return kind, []
    if _is_text(param):
        label = f"{param.name} {param.metavar or ''} {' '.join(names)}"
        if _PATHISH.search(label):
            return (DIR if _DIRISH.search(param.name or "") else FILE), []
    return NONE, []


def _option(param: Any) -> Opt:
    names = [*param.opts, *getattr(param, "secondary_opts", [])]
    ordered = sorted(names, key=lambda n: (not n.startswith("--"), names.index(n)))
    takes_value = not (getattr(param, "is_flag", False) or getattr(param, "count", False))
    kind, values = _value_spec(param, ordered) if takes_value else (NONE, [])
    metavar = (param.metavar or param.name or "value").strip("[]").upper()
    return Opt(ordered, _plain(param.help), takes_value, kind, values, metavar, ordered)


def _argument(param: Any) -> Arg:
    kind, values = _value_spec(param, [])
    if kind == NONE and _is_text(param):
        kind = FILE  # mertool's positional text arguments are files and dataset roots
    name = (param.metavar or param.name or "arg").strip("[]").upper()
    return Arg(name, kind, values, param.nargs == -1)


def build_tree(app: Any = None) -> Cmd:
    """The command tree of the ``mertool`` typer app (or ``app``) as plain data."""
    import typer

    if app is None:
        from mertool.cli.app import app
    root = typer.main.get_command(app)
    ctx = typer.Context(root, info_name=PROG, **(root.context_settings or {}))
    return _build(root, ctx, (PROG,))


def _build(command: Any, ctx: Any, path: tuple[str, ...]) -> Cmd:
    import typer

    options: list[Opt] = []
    args: list[Arg] = []
    for param in command.get_params(ctx):
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "option":
            options.append(_option(param))
        elif param.param_type_name == "argument":
            args.append(_argument(param))
    subs: list[Cmd] = []
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = typer.Context(sub, parent=ctx, info_name=name, **(sub.context_settings or {}))
            subs.append(_build(sub, sub_ctx, (*path, name)))
    help_text = getattr(command, "short_help", None) or command.help
    return Cmd(path, _plain(help_text), options, args, subs)


# --- bash ------------------------------------------------------------------------------------------


def _header(shell: str) -> list[str]:
    """The first lines of every generated script."""
    return [
        f"# {shell} completion for {PROG}. Generated by `python -m mertool.cli.completions` (make completions):",
        "# do not edit. Install: see docs/completions.md.",
        "",
    ]


def _bq(word: str) -> str:
    """A bash double-quoted word."""
    return '"' + re.sub(r'(["\\$`])', r"\\\1", word) + '"'


def render_bash(tree: Cmd) -> str:
    cmds = list(tree.walk())
    out = [
        *_header("bash"),
        "_mertool_compgen() {",
        "    # $1: file | dir | words; $2: the words",
        "    local IFS=$'\\n'",
        '    case "$1" in',
        '        file) COMPREPLY=($(compgen -f -- "$cur")); compopt -o filenames 2>/dev/null ;;',
        '        dir) COMPREPLY=($(compgen -d -- "$cur")); compopt -o filenames 2>/dev/null ;;',
        '        words) IFS=$\' \\t\\n\'; COMPREPLY=($(compgen -W "$2" -- "$cur")) ;;',
        "    esac",
        "}",
        "",
        "_mertool() {",
        "    local cur prev path i w npos",
        "    COMPREPLY=()",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    if [[ $cur == "=" ]]; then cur=""; elif [[ $prev == "=" ]]; then prev="${COMP_WORDS[COMP_CWORD-2]}"; fi',
        f'    path="{PROG}"',
        "    npos=0",
        "    # walk the words before the cursor: descend into subcommands, skip option values",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        w="${COMP_WORDS[i]}"',
        '        [[ $w == "=" ]] && { ((i++)); continue; }',
        '        case "$path:$w" in',
    ]
    for c in cmds:
        for s in c.subcommands:
            out.append(f"            {_bq(c.key + ':' + s.path[-1])}) path={_bq(s.key)}; npos=0; continue ;;")
    for c in cmds:
        valued = [n for o in c.options if o.takes_value for n in o.names]
        if valued:
            pats = "|".join(_bq(f"{c.key}:{n}") for n in valued)
            out.append(f"            {pats}) ((i++)); continue ;;")
    out += [
        "        esac",
        "        [[ $w != -* ]] && ((npos++))",
        "    done",
        "    # the value of an option",
        '    case "$path:$prev" in',
    ]
    for c in cmds:
        for o in c.options:
            if not o.takes_value:
                continue
            pats = "|".join(_bq(f"{c.key}:{n}") for n in o.names)
            out.append(f"        {pats}) {_bash_action(o.kind, o.values)}; return 0 ;;")
    out += [
        "    esac",
        "    if [[ $cur == -* ]]; then",
        '        case "$path" in',
    ]
    for c in cmds:
        words = " ".join(n for o in c.options for n in o.names)
        out.append(f"            {_bq(c.key)}) _mertool_compgen words {_bq(words)} ;;")
    out += ["        esac", "        return 0", "    fi", '    case "$path" in']
    for c in cmds:
        if c.subcommands:
            words = " ".join(s.path[-1] for s in c.subcommands)
            out.append(f"        {_bq(c.key)}) _mertool_compgen words {_bq(words)} ;;")
        elif c.args:
            out.append(f"        {_bq(c.key)})")
            out.append('            case "$npos" in')
            for i, a in enumerate(c.args):
                pat = f"{i}" if not a.variadic else "*"
                out.append(f"                {pat}) {_bash_action(a.kind, a.values)} ;;")
                if a.variadic:
                    break
            out.append("            esac ;;")
    out += [
        "    esac",
        "    return 0",
        "}",
        "",
        f"complete -F _mertool {PROG}",
        "",
    ]
    return "\n".join(out)


def _bash_action(kind: str, values: list[str]) -> str:
    if kind == CHOICE:
        return f"_mertool_compgen words {_bq(' '.join(values))}"
    if kind in (FILE, DIR):
        return f"_mertool_compgen {kind}"
    return ":"


# --- zsh -------------------------------------------------------------------------------------------


def _zq(text: str) -> str:
    """A zsh single-quoted word."""
    return "'" + text.replace("'", "'\\''") + "'"


def _zdesc(text: str) -> str:
    """An option's explanation inside ``[...]``: brackets and backslashes escaped."""
    return text.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")


def _zmsg(text: str) -> str:
    """A message or description field between colons: colons escaped too."""
    return _zdesc(text).replace(":", "\\:")


def _zaction(kind: str, values: list[str]) -> str:
    if kind == CHOICE:
        return "(" + " ".join(re.sub(r"([\\() ])", r"\\\1", v) for v in values) + ")"
    if kind == FILE:
        return "_files"
    if kind == DIR:
        return "_files -/"
    return " "


def _zopt(o: Opt) -> list[str]:
    desc = _zdesc(o.help)
    value = f":{_zmsg(o.metavar)}:{_zaction(o.kind, o.values)}" if o.takes_value else ""
    excl = "(" + " ".join(o.exclusive) + ")" if len(o.exclusive) > 1 else ""
    if len(o.names) > 1 and not any(n.startswith("--no-") for n in o.names):
        return [_zq(excl) + "{" + ",".join(o.names) + "}" + _zq(f"[{desc}]{value}")]
    return [_zq(f"{excl}{n}[{desc}]{value}") for n in o.names]


def render_zsh(tree: Cmd) -> str:
    out = [
        f"#compdef {PROG}",
        *_header("zsh"),
    ]
    for c in tree.walk():
        fn = f"_{c.ident}"
        specs = [s for o in c.options for s in _zopt(o)]
        out.append(f"{fn}() {{")
        if c.subcommands:
            out += [
                '    local curcontext="$curcontext" state line',
                "    typeset -A opt_args",
                "    _arguments -C \\",
                *[f"        {s} \\" for s in specs],
                f"        '1: :{fn}_commands' \\",
                "        '*:: :->args'",
                '    case "$state" in',
                "        args)",
                f'            curcontext="${{curcontext%:*:*}}:{c.ident.replace("_", "-")}-$words[1]:"',
                '            case "$words[1]" in',
            ]
            for s in c.subcommands:
                out.append(f"                {_zq(s.path[-1])}) _{s.ident} ;;")
            out += [
                "            esac ;;",
                "    esac",
                "}",
                "",
                f"{fn}_commands() {{",
                "    local -a cmds",
                "    cmds=(",
            ]
            for s in c.subcommands:
                out.append(f"        {_zq(s.path[-1].replace(':', chr(92) + ':') + ':' + s.help)}")
            out += ["    )", f"    _describe -t commands {_zq(c.key + ' command')} cmds", "}", ""]
        else:
            arg_specs = []
            for i, a in enumerate(c.args, start=1):
                pos = "*" if a.variadic else str(i)
                arg_specs.append(_zq(f"{pos}:{_zmsg(a.name)}:{_zaction(a.kind, a.values)}"))
            lines = specs + arg_specs
            out.append("    _arguments -s \\" if lines else "    _arguments")
            for j, s in enumerate(lines):
                out.append(f"        {s}" + (" \\" if j < len(lines) - 1 else ""))
            out += ["}", ""]
    out += [
        f'if [ "$funcstack[1]" = "_{PROG}" ]; then',
        f'    _{PROG} "$@"',
        "else",
        f"    compdef _{PROG} {PROG}",
        "fi",
        "",
    ]
    return "\n".join(out)


# --- fish ------------------------------------------------------------------------------------------


def _fq(text: str) -> str:
    """A fish single-quoted word."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render_fish(tree: Cmd) -> str:
    cmds = list(tree.walk())
    out = [
        *_header("fish"),
        "# The command path of the words before the cursor (subcommands only, option values skipped).",
        "function __mertool_path",
        "    set -l tokens (commandline -opc)",
        "    set -e tokens[1]",
        f"    set -l path {PROG}",
        "    set -l skip 0",
        "    for t in $tokens",
        "        if test $skip -eq 1",
        "            set skip 0",
        "            continue",
        "        end",
        '        switch "$path:$t"',
    ]
    for c in cmds:
        for s in c.subcommands:
            out += [
                f"            case {_fq(c.key + ':' + s.path[-1])}",
                f"                set path {_fq(s.key)}",
            ]
    for c in cmds:
        valued = [n for o in c.options if o.takes_value for n in o.names]
        if valued:
            out += [
                "            case " + " ".join(_fq(f"{c.key}:{n}") for n in valued),
                "                set skip 1",
            ]
    out += [
        "        end",
        "    end",
        "    echo $path",
        "end",
        "",
        "function __mertool_at",
        '    test (__mertool_path) = "$argv[1]"',
        "end",
        "",
        f"complete -c {PROG} -f",
    ]
    for c in cmds:
        cond = f"-n {_fq('__mertool_at ' + _fq(c.key))}"
        out.append("")
        out.append(f"# {c.key}")
        for s in c.subcommands:
            out.append(f"complete -c {PROG} {cond} -a {_fq(s.path[-1])} -d {_fq(s.help)}")
        for o in c.options:
            flags = " ".join(f"-l {n[2:]}" if n.startswith("--") else f"-s {n[1:]}" for n in o.names)
            value = ""
            if o.takes_value:
                value = {
                    CHOICE: f" -x -a {_fq(' '.join(o.values))}",
                    FILE: " -r -F",
                    DIR: " -x -a '(__fish_complete_directories (commandline -ct))'",
                }.get(o.kind, " -x")
            out.append(f"complete -c {PROG} {cond} {flags}{value} -d {_fq(o.help)}")
        if not c.subcommands and c.args:
            kinds = {a.kind for a in c.args}
            if FILE in kinds:
                out.append(f"complete -c {PROG} {cond} -F")
            elif DIR in kinds:
                out.append(f"complete -c {PROG} {cond} -a '(__fish_complete_directories (commandline -ct))'")
            for a in c.args:
                if a.kind == CHOICE:
                    out.append(f"complete -c {PROG} {cond} -a {_fq(' '.join(a.values))}")
    out.append("")
    return "\n".join(out)


def render_all(tree: Cmd | None = None) -> dict[str, str]:
    """``{file name: script}`` for the three shells."""
    tree = tree or build_tree()
    return {
        "mertool.bash": render_bash(tree),
        "_mertool": render_zsh(tree),
        "mertool.fish": render_fish(tree),
    }


def write(out_dir: str | Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(
            f"usage: python -m mertool.cli.completions OUT_DIR\n\n{__doc__.splitlines()[0]}", file=sys.stderr
        )
        return 2
    for path in write(argv[0]):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
