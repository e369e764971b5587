"""Each ``bundle make`` option is declared once: the table the parser, ``bundle.yaml`` and the
merge of the two are made from covers every field of MakeOptions, and nothing else."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from wheelbundle.cli import build_parser
from wheelbundle.cli.make import make_options
from wheelbundle.completion import subcommands
from wheelbundle.inputs.config import KEYS
from wheelbundle.inputs.options import MAKE_OPTIONS, MakeOptions


def test_the_table_names_every_field_of_make_options_once() -> None:
    fields = {f.name for f in dataclasses.fields(MakeOptions)} - {"verbose"}  # every command's
    named = [o.field for o in MAKE_OPTIONS]
    assert sorted(named) == sorted(fields)


def test_the_parser_and_bundle_yaml_take_what_the_table_declares() -> None:
    make = subcommands(build_parser())["make"]
    flags = {flag for action in make._actions for flag in action.option_strings}
    assert {f for o in MAKE_OPTIONS for f in o.flags} <= flags
    assert set(KEYS) == {o.key for o in MAKE_OPTIONS if o.key is not None}


def test_the_command_line_wins_over_the_file_and_the_defaults_fill_the_rest(
    tmp_path: Path,
) -> None:
    (tmp_path / "bundle.yaml").write_text(
        "name: shop\nversion: '1.0'\ninputs: [req.txt]\ntargets: [cp312-win_amd64]\n"
        "installer: uv\noutput: out\n"
    )
    parser = build_parser()
    args = parser.parse_args(
        ["make", "--config", str(tmp_path / "bundle.yaml"), "--version", "2.0", "--no-cache",
         "-j", "3"]
    )  # fmt: skip
    options = make_options(args)
    assert (options.name, options.version, options.installer) == ("shop", "2.0", "uv")
    assert options.inputs == (str(tmp_path / "req.txt"),)
    assert options.targets == ("cp312-win_amd64",)
    assert options.outdir == tmp_path / "out"
    assert (options.use_cache, options.jobs, options.archive_format) == (False, 3, "tar.gz")
    bare = make_options(parser.parse_args(["make", "requirements.txt"]))
    assert bare == MakeOptions(inputs=("requirements.txt",))
