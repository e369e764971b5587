"""Where pip reads its configuration, as pip's documentation lists it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from wheelbundle.pip.config import config_files, pip_settings


@pytest.mark.skipif(sys.platform != "linux", reason="the Linux places")
def test_on_linux_the_xdg_folders_the_legacy_file_the_site_and_the_variable(tmp_path: Path) -> None:
    environ = {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_DIRS": f"/opt/xdg{os.pathsep}/etc/xdg",
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
        "PIP_CONFIG_FILE": str(tmp_path / "extra.conf"),
    }
    assert config_files(environ) == [
        Path("/opt/xdg/pip/pip.conf"),
        Path("/etc/xdg/pip/pip.conf"),
        Path("/etc/pip.conf"),
        tmp_path / "home/.pip/pip.conf",
        tmp_path / "cfg/pip/pip.conf",
        Path(sys.prefix) / "pip.conf",
        tmp_path / "extra.conf",
    ]


def test_pip_config_file_devnull_means_no_file_and_no_question_to_pip() -> None:
    def never() -> str:
        raise AssertionError("pip config list was run")

    environ = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": "https://x.example/simple"}
    assert config_files(environ) == []
    assert pip_settings(environ, never) == {
        "config-file": os.devnull,
        "index-url": "https://x.example/simple",
    }


def test_variables_win_over_the_files() -> None:
    listing = "global.index-url='https://file.example/simple'\ninstall.trusted-host='a b'\n"
    settings = pip_settings({"PIP_INDEX_URL": "https://env.example/simple"}, lambda: listing)
    assert settings == {"index-url": "https://env.example/simple", "trusted-host": "a b"}
