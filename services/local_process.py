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
        if _exited_child(pid):
            return None
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _exited_child(pid: int) -> bool:
    """Whether `pid` is a child of this process that has exited, reaped now: until it is
    reaped a child that exited still answers kill(pid, 0), and a parent stopping it (the
    test suite, `vigie run`) would wait the whole delay and then kill a zombie."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # not ours: its own parent reaps it
        return False


def stop_process(pid_file: Path, wait_seconds: float = 30, group: bool = False) -> dict:
    """SIGTERM, then SIGKILL after `wait_seconds` (`group`: its whole process group); says
    which of the two stopped it."""
    pid = running_pid(pid_file)
    if pid is None:
        return {"running": False}
    kill = os.killpg if group else os.kill
    kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline and running_pid(pid_file):
        time.sleep(0.2)
    stopped_by = "SIGTERM"
    if running_pid(pid_file):
        kill(pid, signal.SIGKILL)
        stopped_by = "SIGKILL"
    pid_file.unlink(missing_ok=True)
    return {"running": False, "stopped_by": stopped_by}
