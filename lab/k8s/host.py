"""Running things on this machine: one-shot commands (`sh`), timed steps, and
the cluster's long-running processes, each recorded by pid so that only what
the lab started is ever stopped."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

import buildkit
from buildkit import StepFailed

from .layout import ENTRY_POINT, Layout


def env() -> dict[str, str]:
    """The environment cluster processes and tools run with (iptables, conntrack and
    runc live in sbin folders a login shell may lack)."""
    path = os.environ.get("PATH", "")
    for folder in ("/usr/local/sbin", "/usr/sbin", "/sbin"):
        if folder not in path.split(":"):
            path = f"{path}:{folder}"
    return {**os.environ, "PATH": path}


def sh(argv: list[str], check: bool = True, stdin: str | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run a command to its end; with check, a failure stops the step and quotes its output."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env(),
                          check=False, timeout=timeout)
    if check and proc.returncode != 0:
        raise StepFailed(f"`{' '.join(argv)}` failed (exit {proc.returncode}): "
                         f"{(proc.stderr or proc.stdout).strip()}")
    return proc


class Steps:
    """Timed, logged steps of `up` and `down`: one line each; a failure names the log."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def step(self, what: str, action: Callable[[], object]) -> None:
        begun = time.monotonic()
        action()
        print(f"  k8s: {what} ok ({time.monotonic() - begun:.1f}s)", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


@dataclass(frozen=True)
class Process:
    """One long-running cluster process: its name (also its pid file's and log's)
    and its command line."""
    name: str
    argv: list[str]


def process_log(name: str) -> Path:
    return buildkit.log_path("k8s", name)


def read_pid(layout: Layout, name: str) -> int | None:
    """The pid of a cluster process still running under the name it was started with."""
    pidfile = layout.pids / name
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in ("Z", "X"):
        return None
    if not cmdline:
        # Empty while nsenter execs the component (and for a zombie, ruled out above).
        return pid
    # A worker's process is named `program@node` (Node.process).
    expected = name.split("@")[0] if name != "provisioner" else ENTRY_POINT.name
    return pid if any(Path(arg.decode(errors="replace")).name == expected
                      for arg in cmdline.split(b"\0")) else None


def start(layout: Layout, name: str, argv: list[str], enter: Sequence[str] = ()) -> None:
    """Start a process in its own session, its output in its log; `enter` is the
    command that puts it into a node's network namespace (empty: stays on the host)."""
    layout.pids.mkdir(parents=True, exist_ok=True)
    with process_log(name).open("w") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen([*enter, *argv], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=env(), start_new_session=True)
    (layout.pids / name).write_text(str(proc.pid))


def stop(layout: Layout, name: str, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after timeout; only the pid this lab recorded."""
    pid = read_pid(layout, name)
    try:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while read_pid(layout, name) == pid and time.monotonic() < deadline:
                time.sleep(0.2)
            if read_pid(layout, name) == pid:
                os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    (layout.pids / name).unlink(missing_ok=True)


def wait_for(what: str, ready: Callable[[], bool], layout: Layout, timeout: float,
             watch: Iterable[str] = ()) -> None:
    """Poll until ready(); fail at once, naming its log, when a watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except (OSError, ValueError, StepFailed, subprocess.TimeoutExpired):
            pass
        for name in watch:
            if read_pid(layout, name) is None:
                raise StepFailed(f"{name} exited while waiting for {what}; read {process_log(name)}")
        if time.monotonic() > deadline:
            logs = ", ".join(str(process_log(name)) for name in watch) or "the logs in " + str(buildkit.LOGS)
            raise StepFailed(f"timed out after {timeout:.0f}s waiting for {what}; read {logs}")
        time.sleep(0.5)
