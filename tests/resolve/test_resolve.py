"""Resolution: pip's report becomes exact pins, transitive ones, extras and markers included."""

from __future__ import annotations

import hashlib
from pathlib import Path

from support.index import LocalIndex

from wheelbundle.resolve.dry_run import decisions, resolve


def test_every_dependency_is_pinned_to_a_file_and_its_published_hash(
    index: LocalIndex, packages_dir: Path
) -> None:
    resolution = resolve(["alpha", "gamma", "delta[fast]", "zeta"], ["--index-url", index.url])
    pins = {p.name: p for p in resolution.pins}
    assert {n: p.version for n, p in pins.items()} == {
        "alpha": "1.0",
        "beta": "2.0",
        "gamma": "1.0",
        "delta": "1.0",
        "epsilon": "1.0",
        "zeta": "1.0",
        "theta": "1.0",
    }
    assert pins["gamma"].kind == "sdist"
    assert pins["beta"].kind == "wheel"
    for pin in pins.values():
        published = hashlib.sha256((packages_dir / pin.filename).read_bytes()).hexdigest()
        assert pin.sha256 == published
    assert pins["alpha"].requested and not pins["beta"].requested
    assert pins["alpha"].requires == ("beta>=1.0",)


def test_markers_are_evaluated_for_this_machine(index: LocalIndex) -> None:
    names = {p.name for p in resolve(["zeta"], ["--index-url", index.url]).pins}
    assert "theta" in names  # sys_platform != "win32"
    assert "eta" not in names  # sys_platform == "win32"


def test_a_local_project_is_a_dir_pin(index: LocalIndex, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "proj").mkdir(parents=True)
    (project / "proj" / "__init__.py").write_text("")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    (project / "backend.py").write_text(_IN_TREE_BACKEND)
    pins = {p.name: p for p in resolve([str(project)], ["--index-url", index.url]).pins}
    assert pins["proj"].kind == "dir"
    assert pins["proj"].source == str(project)
    assert pins["beta"].version == "2.0"


_IN_TREE_BACKEND = """
import os
META = "Metadata-Version: 2.1\\nName: proj\\nVersion: 0.3\\nRequires-Dist: beta\\n"
def get_requires_for_build_wheel(config_settings=None):
    return []
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    os.makedirs(os.path.join(directory, "proj-0.3.dist-info"))
    with open(os.path.join(directory, "proj-0.3.dist-info", "METADATA"), "w") as f:
        f.write(META)
    return "proj-0.3.dist-info"
"""


def test_decisions_are_the_markers_that_ask_the_server_and_what_they_came_to() -> None:
    environment = {"python_full_version": "3.11.0", "python_version": "3.11", "os_name": "posix"}
    asked = [
        'redis-extra; python_full_version < "3.11.3"',
        'six; python_full_version >= "3.11.5"',
        'docs; extra == "doc"',  # the bundle's choice, not the server's: left out
        'colorama; os_name == "nt" and extra == "color"',
        "plain>=1",
        "--index-url https://example.invalid/simple",
    ]
    assert decisions(asked, environment) == {
        'os_name == "nt" and extra == "color"': False,
        'python_full_version < "3.11.3"': True,
        'python_full_version >= "3.11.5"': False,
    }
