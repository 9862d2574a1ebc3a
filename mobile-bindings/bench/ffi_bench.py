"""FFI benchmark, Python side: the median cost of `add_checkin` through the generated
bindings (ctypes + asyncio) on an on-disk vault, and of two cheap calls that show the
crossing itself: `name()` (synchronous) and `devices()` (async, no write). Run by
mobile-bindings/benches/ffi.rs (`cargo xtask bindings && cargo bench -p hearth-mobile
--bench ffi`), which compares it with the same calls in Rust and Kotlin; prints one
JSON line."""

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bindings-out"))

import hearth_mobile as hm  # noqa: E402


class MemoryKeyStore(hm.KeyStore):
    def __init__(self):
        self.seed = None

    def load(self):
        return self.seed

    def save(self, seed):
        self.seed = bytes(seed)


def checkin():
    """The same check-in the Rust and Kotlin benches add."""
    return hm.NewCheckIn(
        mood=3,
        craving=2,
        energy=4,
        sleep_hours=7.5,
        tags=["bench"],
        note="walked to the meeting, called my sister",
    )


def quantile(sorted_us, q):
    return sorted_us[round((len(sorted_us) - 1) * q)]


async def bench(n, warmup):
    with tempfile.TemporaryDirectory() as tmp:
        h = await hm.create_hearth(
            os.path.join(tmp, "vault"), MemoryKeyStore(), "Bench", "127.0.0.1:0"
        )
        for _ in range(warmup):
            await h.add_checkin(checkin())
        us = []
        for _ in range(n):
            c = checkin()
            t = time.perf_counter_ns()
            await h.add_checkin(c)
            us.append((time.perf_counter_ns() - t) / 1000)
        name_us = []
        for _ in range(n):
            t = time.perf_counter_ns()
            h.name()
            name_us.append((time.perf_counter_ns() - t) / 1000)
        devices_us = []
        for _ in range(n):
            t = time.perf_counter_ns()
            await h.devices()
            devices_us.append((time.perf_counter_ns() - t) / 1000)
        del h
    return sorted(us), sorted(name_us), sorted(devices_us)


def main():
    n = int(os.environ.get("HEARTH_FFI_N", "2000"))
    warmup = int(os.environ.get("HEARTH_FFI_WARMUP", "50"))
    us, name_us, devices_us = asyncio.run(bench(n, warmup))
    print(
        json.dumps(
            {
                "lang": "python",
                "n": n,
                "median_us": round(quantile(us, 0.5), 1),
                "p10_us": round(quantile(us, 0.1), 1),
                "p90_us": round(quantile(us, 0.9), 1),
                "name_us": round(quantile(name_us, 0.5), 2),
                "devices_us": round(quantile(devices_us, 0.5), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
