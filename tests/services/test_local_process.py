"""Stopping a local service by its pid file (services/local_process.py)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from services.local_process import running_pid, stop_process


def _child(tmp_path: Path, code: str) -> tuple[subprocess.Popen, Path]:
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    pid_file = tmp_path / "service.pid"
    pid_file.write_text(str(proc.pid))
    return proc, pid_file


def test_a_child_that_exits_on_sigterm_is_not_then_killed(tmp_path):
    """The suite and `vigie run` stop services they started themselves: the child that
    has exited is reaped, not taken for alive until the delay runs out."""
    proc, pid_file = _child(tmp_path, "import time; time.sleep(600)")
    assert running_pid(pid_file) == proc.pid
    assert stop_process(pid_file, wait_seconds=30) == {"running": False,
                                                      "stopped_by": "SIGTERM"}
    assert running_pid(pid_file) is None and not pid_file.exists()


def test_a_service_ignoring_sigterm_is_killed_after_the_delay(tmp_path):
    proc, pid_file = _child(tmp_path, "import signal, time\n"
                                      "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                      "time.sleep(600)")
    # Its handler is installed before it is stopped.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _ignores_term(proc.pid):
        time.sleep(0.05)
    assert stop_process(pid_file, wait_seconds=1, group=True)["stopped_by"] == "SIGKILL"
    assert running_pid(pid_file) is None


def _ignores_term(pid: int) -> bool:
    """Whether the process's SIGTERM is ignored (/proc's SigIgn mask, bit 15)."""
    with open(f"/proc/{pid}/status") as status:
        mask = next(line for line in status if line.startswith("SigIgn:")).split()[1]
    return bool(int(mask, 16) & (1 << 14))
