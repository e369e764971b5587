"""manifest.yaml: read back unchanged, whichever YAML parser reads it."""

from __future__ import annotations

import pytest
import yaml

from wheelbundle.format.manifest import InputFile, Manifest, Package, TargetEntry


def manifest() -> Manifest:
    """Every kind of value a manifest holds, awkward ones included."""
    wheel = "caf\u00e9_lib-1.0-py3-none-any.whl"
    return Manifest(
        name="shop",
        version="2026.11.21",
        tool_version="0.1.0",
        created="2026-11-21T00:00:00Z",
        pip_version="26.3",
        targets=(
            TargetEntry(
                name="py3-none-any",
                implementation="cp",
                python_version="3.11",
                interpreter="cp311",
                platform="any",
                lock="requirements.lock",
                wheels=(wheel,),
            ),
        ),
        inputs=(InputFile(path="requirements: 'prod'.txt", sha256="0" * 64),),
        packages=(
            Package(
                name="caf\u00e9-lib",
                version="1.0",
                wheel=wheel,
                sha256="a" * 64,
                size=123,
                origin="index-wheel",
                source_url="https://example.org/files/" + "x" * 250 + "/" + wheel,
                source_sha256="a" * 64,
                requires=('yes; python_version >= "3.8"', "no # not a comment", "null", "1.0"),
                license="MIT OR Apache-2.0",
            ),
        ),
    )


def test_a_manifest_reads_back_as_it_was_written() -> None:
    assert Manifest.from_yaml(manifest().to_yaml()) == manifest()


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
def test_libyaml_reads_the_same_values_as_pure_python() -> None:
    text = manifest().to_yaml()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == yaml.load(text, Loader=yaml.SafeLoader)
