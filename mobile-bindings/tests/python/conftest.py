"""Fixtures for the Python binding tests: the generated `hearth_mobile` module from
bindings-out/ (run `cargo xtask bindings` first), and a real `hearth-hub` on loopback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(os.environ.get("HEARTH_BINDINGS_OUT", ROOT / "bindings-out"))
sys.path.insert(0, str(OUT))


def hub_binary() -> Path:
    """$HEARTH_HUB, else the newer of the release and debug builds."""
    if os.environ.get("HEARTH_HUB"):
        return Path(os.environ["HEARTH_HUB"])
    built = [
        p
        for p in (ROOT / "target/release/hearth-hub", ROOT / "target/debug/hearth-hub")
        if p.exists()
    ]
    if not built:
        pytest.fail("no hearth-hub binary: run `cargo build --release -p hearth-hub`")
    return max(built, key=lambda p: p.stat().st_mtime)


class Hub:
    """A hub process serving on 127.0.0.1 (any port) until stopped."""

    def __init__(self, home: Path):
        self.log = open(home / "hub.log", "wb")
        self.proc = subprocess.Popen(
            [str(hub_binary()), "--home", str(home / "hub"), "serve", "--bind", "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "HEARTH_LOG": os.environ.get("HEARTH_LOG", "warn")},
        )
        # Its output is not a terminal, so it never shows the ticket: its first line on
        # stdout says it listens, and `hearth-hub ticket` shows the ticket (as the
        # staff would get it).
        line = self.proc.stdout.readline().decode().strip()
        if "listening" not in line:
            self.stop()
            raise RuntimeError(f"the hub did not start; see {home / 'hub.log'}")
        self.ticket = subprocess.run(
            [str(hub_binary()), "--home", str(home / "hub"), "ticket"],
            check=True,
            capture_output=True,
        ).stdout.decode().strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path)
    yield h
    h.stop()
