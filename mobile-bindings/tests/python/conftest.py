"""Fixtures for the Python binding tests: the generated `hearth_mobile` module from
bindings-out/ (run `cargo xtask bindings` first), a real `hearth-hub` on loopback, and
its staff console driven over HTTP (to publish programs, sessions and partners the way
staff do)."""

import datetime
import http.client
import os
import re
import subprocess
import sys
import urllib.parse
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


STAFF_PASSWORD = "correct horse battery staple"


class Hub:
    """A hub process serving on 127.0.0.1 (any port) until stopped, its staff console on
    another loopback port (never the default one, which another hub may hold). Its
    clock for the console's forms is UTC."""

    def __init__(self, home: Path):
        self.home = home / "hub"
        self.env = {**os.environ, "HEARTH_LOG": os.environ.get("HEARTH_LOG", "warn"), "TZ": "UTC"}
        self.log = open(home / "hub.log", "wb")
        self.proc = subprocess.Popen(
            [
                str(hub_binary()),
                "--home",
                str(self.home),
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--local-discovery",
                "off",
                "--console",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            stdin=subprocess.DEVNULL,
            env=self.env,
        )
        # Its output is not a terminal, so it never shows the ticket: its first line on
        # stdout says it listens, and `hearth-hub ticket` shows the ticket (as the
        # staff would get it). A later line names the console's address.
        line = self.proc.stdout.readline().decode().strip()
        if "listening" not in line:
            self.stop()
            raise RuntimeError(f"the hub did not start; see {home / 'hub.log'}")
        self.console = None
        for _ in range(4):
            found = re.search(r"Staff console: http://([0-9.]+:[0-9]+)/", self.proc.stdout.readline().decode())
            if found:
                self.console = found.group(1)
                break
        self.ticket = subprocess.run(
            [str(hub_binary()), "--home", str(self.home), "ticket"],
            check=True,
            capture_output=True,
        ).stdout.decode().strip()

    def staff(self):
        """A member of staff signed in to the console (the account is made first)."""
        if self.console is None:
            raise RuntimeError("the hub shows no staff console")
        subprocess.run(
            [str(hub_binary()), "--home", str(self.home), "staff", "add", "sam"],
            check=True,
            capture_output=True,
            env={**self.env, "HEARTH_STAFF_PASSWORD": STAFF_PASSWORD},
        )
        return StaffConsole(self.console, "sam", STAFF_PASSWORD)

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


class StaffConsole:
    """The hub's staff console as a browser would use it: cookies, each form's CSRF
    token, redirects after every POST."""

    def __init__(self, addr: str, name: str, password: str):
        self.host, port = addr.rsplit(":", 1)
        self.port = int(port)
        self.cookies = {}
        page = self.get("/login")
        status, where, _ = self.post("/login", {"name": name, "password": password, "csrf": self.csrf(page)})
        if status != 303 or where != "/":
            raise RuntimeError(f"staff sign-in failed ({status})")

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=headers)
        res = conn.getresponse()
        text = res.read().decode()
        for header, value in res.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        conn.close()
        return res.status, res.getheader("Location"), text

    def get(self, path):
        status, _, text = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return text

    def post(self, path, fields):
        return self.request("POST", path, urllib.parse.urlencode(fields))

    @staticmethod
    def csrf(page):
        return re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def submit(self, page, path, fields):
        """Posts a form of `page` (with its token); returns where the console went next."""
        status, where, text = self.post(path, {**fields, "csrf": self.csrf(self.get(page))})
        if status != 303:
            raise RuntimeError(f"POST {path}: {status}: {text[:2000]}")
        return where

    def add_program(self, title, kind="support-group", facilitator="", place="", description=""):
        """Publishes a program; returns its number."""
        where = self.submit(
            "/programs",
            "/programs",
            {
                "title": title,
                "kind": kind,
                "description": description,
                "facilitator": facilitator,
                "place": place,
                "accessibility": "",
            },
        )
        return int(re.match(r"/programs/(\d+)", where).group(1))

    def add_session(self, program, starts: datetime.datetime, hours=1, capacity=10):
        """Adds one session (times in UTC, the hub's clock here)."""
        ends = starts + datetime.timedelta(hours=hours)
        self.submit(
            f"/programs/{program}",
            f"/programs/{program}/sessions",
            {
                "starts": starts.strftime("%Y-%m-%dT%H:%M"),
                "ends": ends.strftime("%H:%M"),
                "capacity": str(capacity),
                "weeks": "1",
            },
        )

    def add_resource(self, name, kind, description="", hours="", contact=""):
        """Adds a partner to the resource directory."""
        self.submit(
            "/resources",
            "/resources",
            {"name": name, "kind": kind, "description": description, "hours": hours, "contact": contact},
        )


@pytest.fixture
def hub(tmp_path):
    h = Hub(tmp_path)
    yield h
    h.stop()
