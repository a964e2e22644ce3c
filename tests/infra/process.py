"""Start, watch and stop the real programs of the test stack.

:class:`ManagedProcess` runs one command in its own process group with its output in a log file, waits until
a readiness probe passes, and stops the whole group (nginx workers included) on :meth:`ManagedProcess.stop`,
:meth:`ManagedProcess.kill`, or at interpreter exit for anything a test forgot. When the test process dies
without running its exit handlers (``kill -9``), Linux sends the programs SIGTERM (``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
_LIVE: set[ManagedProcess] = set()
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


class ProcessStartError(RuntimeError):
    """A program of the stack exited or did not become ready; the message holds the tail of its log."""


def free_port() -> int:
    """A TCP port on the loopback address that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def http_status(host: str, port: int, path: str) -> int | None:
    """The status of a plain-HTTP ``GET path``, or None when nothing answers yet."""
    connection = http.client.HTTPConnection(host, port, timeout=2)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def tls_handshake_ok(host: str, port: int, context: ssl.SSLContext) -> bool:
    """True once a TLS handshake succeeds; sends no HTTP request, so nothing lands in an access log."""
    try:
        with (
            socket.create_connection((host, port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return True
    except OSError:
        return False


def wait_until(condition: Callable[[], bool], *, timeout: float, interval: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds passed; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class ManagedProcess:
    """One long-running program, started in its own session so that stopping it stops its children too."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path, env: dict[str, str] | None = None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = env
        self._popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._popen is None else self._popen.pid

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self, ready: Callable[[], bool], *, timeout: float = 15.0) -> None:
        """Start the program and wait until ``ready()`` is true; raise with its log if it never is."""
        if self.running():
            raise RuntimeError(f"{self.name} already runs (pid {self.pid})")
        with self.log_path.open("ab") as log:
            self._popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
                preexec_fn=_parent_death_signal(),
            )
        _LIVE.add(self)
        if not wait_until(lambda: not self.running() or ready(), timeout=timeout) or not self.running():
            self.kill()
            raise ProcessStartError(f"{self.name} did not start: {' '.join(self.argv)}\n{self.log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL it if it is still there after ``timeout`` seconds."""
        self._signal_group(signal.SIGTERM)
        if self._popen is not None:
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._forget()

    def kill(self) -> None:
        """SIGKILL the process group at once, like a crash."""
        self._signal_group(signal.SIGKILL)
        if self._popen is not None:
            self._popen.wait()
        self._forget()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _signal_group(self, signum: signal.Signals) -> None:
        if self._popen is None:
            return
        # The group id is the pid of the process we started (start_new_session); nginx workers live in it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._popen.pid, signum)

    def _forget(self) -> None:
        _LIVE.discard(self)
        self._popen = None


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn that has Linux SIGTERM the child when we die; Linux ties it to the forking thread, so only
    a start from the main thread (pytest's) uses it."""
    if _LIBC is None or threading.current_thread() is not threading.main_thread():
        return None
    libc = _LIBC
    return lambda: libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@atexit.register
def _kill_leftovers() -> None:
    for process in list(_LIVE):
        process.kill()
