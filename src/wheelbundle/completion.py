"""Shell completion for ``bundle`` (``bundle completion bash|zsh``), written from the argument
parser itself, so that it offers exactly the commands, options and choices the parser takes."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable

SHELLS = ("bash", "zsh")

_FUNCTION = """\
_bundle() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} prev=${{COMP_WORDS[COMP_CWORD-1]}} words=''
    if [ "$COMP_CWORD" -eq 1 ]; then
        words={commands}
    else
        case "${{COMP_WORDS[1]}} $prev" in
{values}
        esac
        case "$cur" in
            -*) case "${{COMP_WORDS[1]}}" in
{options}
                esac ;;
            *) case "${{COMP_WORDS[1]}}" in
{positionals}
                esac ;;
        esac
    fi
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}}
complete -o default -F _bundle bundle
"""


def completion_script(parser: argparse.ArgumentParser, shell: str) -> str:
    """The script to ``source`` (bash) or ``eval`` (zsh, through bashcompinit). A word it
    offers nothing for (a file, a folder, a URL) falls back to the shell's file names."""
    commands = subcommands(parser)
    values, options, positionals = [], [], []
    for name, sub in commands.items():
        flags = [flag for action in sub._actions for flag in action.option_strings]
        options.append(_branch(name, flags, 16))
        for action in sub._actions:
            if not action.choices:
                continue
            if action.option_strings:
                values += [_branch(f"{name} {flag}", action.choices, 8, exits=True)
                           for flag in action.option_strings]  # fmt: skip
            else:
                positionals.append(_branch(name, action.choices, 16))
    script = _FUNCTION.format(
        commands=shlex.quote(" ".join(commands)),
        values="\n".join(values) or "            '') ;;",
        options="\n".join(options),
        positionals="\n".join(positionals) or "                '') ;;",
    )
    if shell == "zsh":
        return "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """Each command's own parser, by name."""
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(commands.choices)


def _branch(pattern: str, words: Iterable[object], indent: int, exits: bool = False) -> str:
    listed = shlex.quote(" ".join(str(w) for w in words))
    end = f'COMPREPLY=($(compgen -W {listed} -- "$cur")); return ;;' if exits else ";;"
    assign = "" if exits else f"words={listed} "
    return f"{' ' * indent}{shlex.quote(pattern)}) {assign}{end}"
