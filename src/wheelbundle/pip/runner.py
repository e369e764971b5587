"""The one place that runs pip.

pip is driven as a subprocess, never imported: its arguments, its JSON report and its exit code
are the interface. Failures become our exception types with pip's own message kept, so the user
sees what pip said, on one line, with the package named.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from wheelbundle.errors import (
    BuildFailed,
    IndexUnreachable,
    PipAccessRefused,
    PipFailed,
    PipHashMismatch,
    ResolutionFailed,
)
from wheelbundle.redaction import redact, refused_message
from wheelbundle.run import run

#: Variables that would make pip install somewhere else or refuse to run in our child.
_DROPPED_VARIABLES = (
    "PYTHONPATH",
    "PIP_TARGET",
    "PIP_PREFIX",
    "PIP_USER",
    "PIP_REQUIRE_VIRTUALENV",
)
#: What ``indexes`` drops besides pip's configuration: where to look, and how to get there.
_NETWORK_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_PROXY",
)

_NOT_FOUND = re.compile(r"No matching distribution found for (\S+)")
_NO_VERSIONS = re.compile(r"Could not find a version that satisfies the requirement (\S+)")
_OTHER_PYTHON = re.compile(
    r"Ignored the following versions that require a different python version: (.+)"
)
#: The remedy for a package that needs another Python than the bundle's.
WITH_TARGET = (
    "with --target (a shorthand like cp312-manylinux_2_28_x86_64, or 'bundle probe' run on the "
    "server)"
)
_WRONG_PYTHON = re.compile(
    r"Package '(?P<name>[^']+)' requires a different Python: (?P<here>\S+) not in '(?P<needs>[^']+)'"
)
_CONFLICT = re.compile(r"Cannot install (.+?) because these package versions have conflicting")
_BUILD = re.compile(r"Failed to build '?([^'\s]+)'?|Failed building wheel for (\S+)")
#: pip 25 and later say which package after this line (``╰─> NAME`` or ``╰─> from URL``);
#: pip 24 says ``╰─> See above for output.``, and the package is the last one pip was taking.
_METADATA = re.compile(r"Encountered error while generating package metadata\.\s*\S+\s*(.*)")
_TAKING = re.compile(r"^\s*(?:Collecting|Processing) (\S+)", re.MULTILINE)
_HASHES = re.compile(
    r"(?P<name>[^\s=]+)(?:==(?P<version>\S+))? from (?P<url>[^\s#]+)\S*(?: \(from (?P<where>.*?)\))?:\s*\n"
    r"\s*Expected (?P<algorithm>\w+) (?P<expected>\w+)(?P<more>(?:\s*\n\s*or \w+)*)\s*\n\s*Got\s+(?P<got>\w+)"
)
_VCS = re.compile(r"Failed to build '?([^'\s]+)'? when ((?:git|hg|svn|bzr) .+)")
_VCS_STEP = re.compile(r"\u00d7 ((?:git|hg|svn|bzr) .+?) did not run successfully")
_INVALID = re.compile(r"(Invalid requirement: .+|Could not open requirements file: .+)")
_FROM_LINE = re.compile(r"\(from line (\d+) of ([^)\n]+)\)")
#: How every bad requirement line ends: the user fixes a line, in pip's syntax.
FIX_LINE = "fix that line (pip's requirement syntax)"
_NETWORK = re.compile(
    r"(Failed to establish a new connection|Max retries exceeded|Name or service not known"
    r"|Connection refused)"
)
#: pip retries an index whose certificate it cannot verify, then reports the package as not
#: found ("from versions: none"); the retry warnings are all that name the cause.
_UNTRUSTED = re.compile(r"CERTIFICATE_VERIFY_FAILED\] ([^'\"()\n]+)")
_BAD_CREDENTIALS = re.compile(r"401 Error, Credentials not correct for (\S+)")
_REFUSED = re.compile(
    r"HTTP error (40[13]) while getting (\S+)|(40[13]) Client Error: .*? for url: (\S+)"
)


PIP_TIMEOUT = 4 * 3600
"""Seconds one pip run may take: a resolution of hundreds of projects, or building a large C
extension from its sdist (numpy, or scipy's twenty minutes), ends well within it; a pip that
waits on nothing for this long is hung, and is ended."""


@dataclass(frozen=True)
class PipResult:
    """What a pip run left behind that callers read."""

    command: tuple[str, ...]
    output: str


@dataclass(frozen=True)
class Under:
    """Another Python to run pip under (to build for a target of its version), with a pip
    wheel it can run, since the tool's own pip may not support it."""

    python: Path
    version: str
    """``3.9``: for pip's messages."""
    pip_wheel: Path


class Runner(Protocol):
    """How stages run pip; tests may pass their own."""

    def __call__(
        self,
        args: Sequence[str],
        verbose: bool = False,
        target_file: Path | None = None,
        indexes: Sequence[str] = (),
        under: Under | None = None,
    ) -> PipResult: ...


def pip_environment(indexes: Sequence[str] = ()) -> dict[str, str]:
    """The child's environment: the user's pip configuration stays, our hazards go.

    ``indexes`` (the relay's, on 127.0.0.1): pip reads those and no configuration file, no
    other index variable and no proxy. They go in pip's environment, which only its own user can
    read, never on its command line, which every local user can: each holds the relay's secret.
    """
    dropped = (*_DROPPED_VARIABLES, *(_NETWORK_VARIABLES if indexes else ()))
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    if indexes:
        env["PIP_CONFIG_FILE"] = os.devnull
        env["PIP_INDEX_URL"], *extra = indexes
        if extra:
            env["PIP_EXTRA_INDEX_URL"] = " ".join(extra)
        for name in ("no_proxy", "NO_PROXY"):  # the relay is reached directly, whatever proxy
            env[name] = ",".join(filter(None, (env.get(name), "127.0.0.1")))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env.pop("PIP_NO_COLOR", None)
    return env


def run_pip(
    args: Sequence[str],
    verbose: bool = False,
    target_file: Path | None = None,
    indexes: Sequence[str] = (),
    under: Under | None = None,
) -> PipResult:
    """Run ``python -m pip ARGS`` with this interpreter; raise a PipFailed on a non-zero exit.

    With ``target_file`` (a server description), pip runs as if on that server (see
    ``pip.as_target``); ``under`` another Python, pip runs from its wheel under that one. In
    verbose mode pip's output streams to our stderr as it comes; otherwise it is captured and
    only shown, in part, when pip fails.
    """
    if under is not None:
        command = (str(under.python), f"{under.pip_wheel}/pip", *args)
        python = under.version
    elif target_file is None:
        command = (sys.executable, "-m", "pip", *args)
        python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    else:
        command = (sys.executable, "-m", "wheelbundle.pip.as_target", str(target_file), *args)
        python = str(json.loads(target_file.read_text(encoding="utf-8"))["python_version"])
    done = run(
        command,
        timeout=PIP_TIMEOUT,
        env=pip_environment(indexes),
        on_line=_shown if verbose else _kept,  # kept whole; shown as it comes in verbose mode
    )
    output = done.stdout
    if done.returncode != 0:
        raise classify_failure(command, done.returncode, output, python)
    return PipResult(command=command, output=output)


def _shown(line: str) -> None:
    sys.stderr.write(line)
    sys.stderr.flush()


def _kept(line: str) -> None:
    """The output is kept by the runner: nothing more to do with a line."""


def classify_failure(
    command: Sequence[str], returncode: int, output: str, python: str | None = None
) -> PipFailed:
    """Turn pip's words into one of our errors whose message names the package and the fix.

    ``python`` is the Python version pip resolved for (the target's). The output kept in the
    error has every URL's password hidden, as has the message.
    """
    output = redact(output)
    kind, message = _diagnose(output, python)
    if message is None:
        kind, message = PipFailed, f"pip failed (exit {returncode}): {_last_error_line(output)}"
    return kind(message, command=command, returncode=returncode, output=output)


def _diagnose(output: str, python: str | None = None) -> tuple[type[PipFailed], str | None]:
    if m := _HASHES.search(output):
        expected = [m["expected"], *m["more"].split()[1::2]]
        filename = unquote(m["url"].rsplit("/", 1)[-1])
        if m["version"] is None:  # pip names a requirement without a pin: the index's own hash
            return PipHashMismatch, (
                f"{m['name']}: {filename} does not match the hash the index published (expected "
                f"{m['algorithm']}:{expected[0]}, got {m['algorithm']}:{m['got']}). Someone may "
                "have replaced it: check the index before trusting it"
            )
        where = f" ({m['where']})" if m["where"] else ""
        return PipHashMismatch, (
            f"{m['name']}=={m['version']}: {filename} does not match "
            f"the hash in the requirements{where}: expected "
            + " or ".join(f"{m['algorithm']}:{h}" for h in expected)
            + f", got {m['algorithm']}:{m['got']}; if the package was updated, update the hashes, "
            "otherwise the file may have been tampered with"
        )
    if (m := _VCS.search(output)) or (m := _VCS_STEP.search(output)):
        name, command = (m[1], m[2]) if m.re is _VCS else ("a VCS requirement", m[1])
        return ResolutionFailed, (
            f"{name}: {command.strip()!r} failed ({_vcs_reason(output)}); check the repository "
            "URL and the tag, branch or commit after '@'"
        )
    if (m := _BUILD.search(output)) or _METADATA.search(output):
        name = (m.group(1) or m.group(2)) if m else _metadata_failure_name(output)
        return BuildFailed, (
            f"could not build {name} from source; the server "
            "has no compiler, so fix the build here (install its build dependencies) or provide "
            "a wheel with --find-links"
        )
    if m := _CONFLICT.search(output):
        return ResolutionFailed, (
            f"conflicting requirements: {m.group(1)}; {_conflict_detail(output)}"
            "relax one of the pins so they can agree"
        )
    if m := _BAD_CREDENTIALS.search(output):
        return PipAccessRefused, refused_message(m[1], 401, sent=True)
    if m := _REFUSED.search(output):
        return PipAccessRefused, refused_message(m[2] or m[4], int(m[1] or m[3]), sent=None)
    if m := _UNTRUSTED.search(output):
        return IndexUnreachable, (
            f"cannot trust the package index's certificate (CERTIFICATE_VERIFY_FAILED: "
            f"{m[1].strip()}); give pip the CA that signed it (PIP_CERT, or cert = in pip.conf)"
        )
    if m := _NETWORK.search(output):
        return IndexUnreachable, (
            f"cannot reach the package index ({m.group(1)}); check --index-url, the network "
            "and credentials"
        )
    if m := _WRONG_PYTHON.search(output):  # found out from a file's metadata, not its link
        return ResolutionFailed, (
            f"{m['name']} needs Python {m['needs']}, and this bundle is for Python {m['here']}; "
            f"bundle for a Python it supports {WITH_TARGET}, or pin a version of {m['name']} "
            f"that supports {m['here']}"
        )
    if (wanted := unfound(output)) and (ignored := _OTHER_PYTHON.search(output)):
        versions = [v.strip() for v in ignored[1].split(";")]
        return ResolutionFailed, needs_other_python(wanted, python, versions)
    if m := _NOT_FOUND.search(output) or _NO_VERSIONS.search(output):
        return ResolutionFailed, (
            f"no version of {m.group(1)} found on the index; check the name and version, "
            "or point --index-url/--find-links at where it is published"
        )
    if m := _INVALID.search(output):
        return ResolutionFailed, _invalid_line(m[1].strip(), output[m.end() :])
    return PipFailed, None


def unfound(output: str) -> str | None:
    """The requirement pip found no file for, as pip wrote it (``Django==6.0.8``)."""
    m = _NOT_FOUND.search(output) or _NO_VERSIONS.search(output)
    return m[1] if m else None


def needs_other_python(requirement: str, python: str | None, versions: Sequence[str]) -> str:
    """The error for a requirement every version of which needs another Python; ``versions``
    as pip lists them, ``1.0 Requires-Python >=3.12``."""
    here = f"Python {python}" if python else "the Python it resolves for"
    return (
        f"no version of {requirement} supports {here}, the Python this bundle is for "
        f"(versions found need another: {'; '.join(versions)}); bundle for a Python they "
        f"support {WITH_TARGET}, or pin a version that supports it"
    )


def _invalid_line(message: str, after: str) -> str:
    """A bad requirement's file and line first, as pip names them near its message. Where pip
    names none, the resolver, which read the files, places it (``resolver.placed``)."""
    near = "\n".join(after.splitlines()[:3])
    if found := _FROM_LINE.search(message) or _FROM_LINE.search(near):
        message = message.replace(found[0], "").strip()
        return f"{found[2]} line {found[1]}: {message}; {FIX_LINE}"
    return message


def _conflict_detail(output: str) -> str:
    """pip's "The conflict is caused by:" block, each side on a line of its own
    ('X 1.0 depends on Y>=2', 'The user requested Y==1'), joined into one."""
    block = output.partition("The conflict is caused by:")[2].split("\n\n")[0]
    sides = [ln.strip() for ln in block.splitlines() if ln.strip()]
    sides = [s for s in sides if " depends on " in s or s.startswith("The user requested")]
    return ("because " + "; ".join(sides) + "; ") if sides else ""


def _metadata_failure_name(output: str) -> str:
    """The package whose metadata pip could not generate, however this pip names it."""
    m = _METADATA.search(output)
    said = m.group(1).strip() if m else ""
    if said.startswith("from "):
        said = said.removeprefix("from ")
    elif not said or said.startswith("See above"):
        taking = _TAKING.findall(output[: m.start()] if m else output)
        said = taking[-1] if taking else "a package"
    return _project_name(said)


def _project_name(said: str) -> str:
    """``broken``, from ``broken``, ``broken==1.0`` or ``file:///…/broken-1.0.tar.gz``."""
    if "/" not in said:
        return re.split(r"[\[<>=!~;@ ]", said, maxsplit=1)[0]
    filename = unquote(said.rstrip("/").rpartition("/")[2])
    try:
        return str(parse_sdist_filename(filename)[0])
    except InvalidSdistFilename:
        return filename


def _vcs_reason(output: str) -> str:
    """git's own complaint (``error: pathspec …``, ``fatal: …``), as pip relays it."""
    said = [
        ln.strip().partition(": ")[2]
        for ln in output.splitlines()
        if ln.strip().startswith(("error: ", "fatal: ")) and "subprocess-exited" not in ln
    ]
    return said[-1] if said else _last_output_line(output)


def _last_output_line(output: str) -> str:
    """The last line a failed subprocess printed, inside pip's ``[end of output]`` frame."""
    lines = output.splitlines()
    ends = [i for i, line in enumerate(lines) if line.strip() == "[end of output]"]
    if ends and ends[-1] > 0:
        return lines[ends[-1] - 1].strip().removeprefix("error: ")
    return _last_error_line(output)


def _last_error_line(output: str) -> str:
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    if errors:
        return errors[-1].removeprefix("ERROR:").strip()
    return lines[-1] if lines else "no output"
