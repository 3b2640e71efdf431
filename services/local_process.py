"""What the local development services (the Kafka broker, the identity provider) share:
where their downloads are cached, and their process found and stopped by its pid file."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path


def cache_dir() -> Path:
    """Downloads kept across state directories (VIGIE_CACHE_DIR, ~/.cache/vigie)."""
    return Path(os.environ.get("VIGIE_CACHE_DIR", Path.home() / ".cache" / "vigie"))


def running_pid(pid_file: Path) -> int | None:
    """The pid in the file, if that process is alive."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop_process(pid_file: Path, wait_seconds: float = 30, group: bool = False) -> dict:
    """SIGTERM, then SIGKILL after `wait_seconds` (`group`: its whole process group)."""
    pid = running_pid(pid_file)
    if pid is None:
        return {"running": False}
    kill = os.killpg if group else os.kill
    kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and running_pid(pid_file):
        time.sleep(0.2)
    if running_pid(pid_file):
        kill(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return {"running": False}
