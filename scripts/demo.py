"""The whole journey on the bundled example, as an operator would walk it.

1. build machine: ``bundle make --config examples/webapp/bundle.yaml`` (needs the package index);
2. carry: the archive is unpacked in a temporary folder standing for the server;
3. server: ``./install.sh`` with the network cut (``unshare -n`` where the OS allows it);
4. run the installed app.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def step(title: str) -> None:
    print(f"\n==> {title}", flush=True)


def run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("$ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, **kwargs)  # type: ignore[call-overload, no-any-return]


def network_cut() -> list[str]:
    """The prefix that runs a command with no network, or nothing where the OS does not allow it."""
    for prefix in (["unshare", "-n"], ["unshare", "-rn"]):
        if (
            shutil.which(prefix[0])
            and subprocess.run([*prefix, "true"], capture_output=True).returncode == 0
        ):
            return prefix
    return []


def main() -> int:
    bundle = str(Path(sys.executable).with_name("bundle"))
    with tempfile.TemporaryDirectory(prefix="wheelbundle-demo-") as tmp:
        work = Path(tmp)
        step("build machine: bundle make --config examples/webapp/bundle.yaml")
        config = ROOT / "examples" / "webapp" / "bundle.yaml"
        made = run(
            [bundle, "make", "--config", str(config), "-o", str(work / "dist")],
            stdout=subprocess.PIPE,
        )
        archive = Path(made.stdout.strip().splitlines()[-1])
        print(archive.name)
        run([bundle, "verify", str(archive)])
        run([bundle, "inspect", str(archive)])

        step("server: unpack the archive (any way of copying a file will do)")
        server = work / "server"
        server.mkdir()
        with tarfile.open(archive) as tar:
            tar.extractall(server, filter="data") if hasattr(
                tarfile, "data_filter"
            ) else tar.extractall(server)
        top = next(server.iterdir())

        cut = network_cut()
        step(
            "server: ./install.sh "
            + ("with the network cut (unshare -n)" if cut else "(could not cut the network here)")
        )
        venv = server / "opt" / "webapp" / "venv"
        run([*cut, str(top / "install.sh"), str(venv)])

        step("server: run the installed app")
        run([*cut, str(venv / "bin" / "webapp"), "--selftest"])
    print("\ndemo finished: bundled, carried, installed offline and ran.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
