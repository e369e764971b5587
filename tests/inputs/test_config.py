"""``bundle.yaml``: one repeatable command, and every mistake named by key and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.bundles import bundle, requirements
from support.index import LocalIndex
from support.packages import pure_bundle_tag

from wheelbundle.errors import UsageError
from wheelbundle.inputs.config import BundleConfig, load_config

PURE = pure_bundle_tag()
"""What a bundle of pure wheels for this Python is named after."""

ROOT = Path(__file__).resolve().parents[2]


def test_bundle_make_with_no_argument_reads_bundle_yaml(
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requirements(tmp_path / "shop" / "deps", "alpha")
    (tmp_path / "shop" / "bundle.yaml").write_text(
        f"name: shop\nversion: '1.2'\ninputs: [deps/requirements.txt]\nindex_url: {index.url}\n"
        "output: ../out\nformat: tar.gz\n"
    )
    monkeypatch.chdir(tmp_path / "shop")
    made = bundle(capsys, "make", "-q")
    assert made.code == 0, made.err
    assert made.archive == Path(f"../out/shop-1.2-{PURE}.tar.gz")
    assert (tmp_path / "out" / f"shop-1.2-{PURE}.tar.gz").is_file()


def test_command_line_options_override_the_file(
    capsys: pytest.CaptureFixture[str],
    index: LocalIndex,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requirements(tmp_path / "conf", "alpha")
    (tmp_path / "conf" / "bundle.yaml").write_text(
        "name: shop\nversion: '1.2'\ninputs: [requirements.txt]\n"
        "index_url: http://127.0.0.1:9/nothing-here/\noutput: out\n"
    )
    monkeypatch.chdir(tmp_path)
    made = bundle(
        capsys, "make", "--config", "conf/bundle.yaml", "--version", "2.0",
        "--index-url", index.url, "-o", "elsewhere", "-q",
    )  # fmt: skip
    assert made.code == 0, made.err
    assert made.archive == Path(f"elsewhere/shop-2.0-{PURE}.tar.gz")


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "proj" / "bundle.yaml"
    path.parent.mkdir()
    path.write_text(
        "inputs: [., ../other/requirements.txt]\ntargets: [cp312-win_amd64, server.json]\n"
        "find_links: [wheels, 'https://example.invalid/links']\nsign_key: keys/release\n"
        "extra_index_urls: ['https://example.invalid/simple']\n"
    )
    config = load_config(path)
    proj, other = tmp_path / "proj", tmp_path / "other"
    assert config == BundleConfig(
        path=path,
        inputs=(str(proj), str(other / "requirements.txt")),
        targets=("cp312-win_amd64", str(proj / "server.json")),
        find_links=(str(proj / "wheels"), "https://example.invalid/links"),
        sign_key=proj / "keys" / "release",
        extra_index_urls=("https://example.invalid/simple",),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: a\nversion: '1'\nnmae: b\n", "bundle.yaml line 3: unknown key 'nmae'"),
        ("version: 1.0\n", "bundle.yaml line 1: 'version' must be a string, not a number; "
         'quote it: version: "1.0"'),
        ("name: a\ninputs: requirements.txt\n",
         "bundle.yaml line 2: 'inputs' must be a list of strings, not a string"),
        ("inputs:\n  - a\n  - [b]\n",
         "bundle.yaml line 1: 'inputs' must be a list of strings, not a list with other things than strings"),
        ("format: zip\n", "bundle.yaml line 1: 'format' must be one of tar.gz, not 'zip'"),
        ("installer: conda\n", "bundle.yaml line 1: 'installer' must be one of pip, uv, not 'conda'"),
        ("name: a\nname: b\n", "bundle.yaml line 2: 'name' is given twice"),
        ("name: [a\n", "bundle.yaml line 2: not valid YAML"),
        ("- a\n", "bundle.yaml line 1: expected 'key: value' lines"),
        ("", "bundle.yaml: empty"),
    ],
)  # fmt: skip
def test_a_mistake_names_the_key_and_its_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    message: str,
) -> None:
    (tmp_path / "bundle.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    outcome = bundle(capsys, "make")
    assert outcome.code == 2
    assert outcome.out == ""
    assert outcome.err.startswith(f"error: {message}"), outcome.err
    assert len(outcome.err.splitlines()) == 1


def test_no_argument_and_no_bundle_yaml_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = bundle(capsys, "make")
    assert outcome.code == 2
    assert outcome.err == (
        "error: bundle.yaml: no such file; give a requirements file, a pyproject.toml or a "
        "project folder, or write a bundle.yaml\n"
    )


def test_the_webapp_example_bundles_its_own_folder_with_its_pins() -> None:
    config = load_config(ROOT / "examples" / "webapp" / "bundle.yaml")
    assert config.name == "webapp"
    webapp = ROOT / "examples" / "webapp"
    assert config.inputs == (str(webapp), str(webapp / "requirements.txt"))
    assert config.output == ROOT / "examples" / "webapp" / "dist"
    assert config.format == "tar.gz"


def test_extras_groups_and_trusted_hosts_are_lists(tmp_path: Path) -> None:
    (tmp_path / "bundle.yaml").write_text(
        "inputs: [.]\nextras: [postgres, redis]\ngroups: [prod]\ntrusted_hosts: [pypi.corp]\n"
    )
    config = load_config(tmp_path / "bundle.yaml")
    assert config.extras == ("postgres", "redis")
    assert config.groups == ("prod",)
    assert config.trusted_hosts == ("pypi.corp",)
    (tmp_path / "bundle.yaml").write_text("inputs: [.]\ngroups: prod\n")
    with pytest.raises(UsageError, match="line 2: 'groups' must be a list of strings"):
        load_config(tmp_path / "bundle.yaml")


def test_a_string_where_a_list_belongs_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "bundle.yaml").write_text("targets: cp312-win_amd64\n")
    with pytest.raises(UsageError, match="line 1: 'targets' must be a list of strings"):
        load_config(tmp_path / "bundle.yaml")
