"""A headless Debian Chromium driven over the DevTools protocol: load a page, wait until Streamlit has drawn
it, read its text, look for an exception block, and take a full-page screenshot.

Streamlit draws over a websocket after the page loads, so ``--dump-dom`` alone may catch an empty shell;
here the page is polled until its status widget says nothing is running and the text has stopped changing.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.infra.process import free_port

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1400, 3200
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    f"--window-size={WIDTH},{HEIGHT}",
    "--remote-debugging-port=0",
    "--hide-scrollbars",
)

#: text of the page, the exceptions and errors Streamlit shows, and whether it is still running
_STATE = """(() => ({
    text: document.body.innerText,
    exceptions: [...document.querySelectorAll('[data-testid="stException"]')].map(e => e.innerText),
    errors: [...document.querySelectorAll('[data-testid="stAlertContentError"]')].map(e => e.innerText),
    running: !!document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')
             || !!document.querySelector('[data-testid="stSkeleton"]') || document.readyState !== 'complete',
}))()"""


#: where the page's content ends
_BOTTOM = """(() => { const c = document.querySelector('[data-testid="stMainBlockContainer"]');
                      return c ? c.getBoundingClientRect().bottom : document.body.scrollHeight; })()"""


@dataclass(frozen=True)
class Rendered:
    text: str
    exceptions: list[str]
    errors: list[str]


class Page:
    """One tab: navigate, wait for Streamlit, screenshot."""

    def __init__(self, socket: ClientConnection) -> None:
        self._socket = socket
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        number = next(self._ids)
        self._socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._socket.recv(timeout=60))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def state(self) -> dict[str, Any]:
        result = self.call("Runtime.evaluate", expression=_STATE, returnByValue=True)
        return dict(result["result"].get("value") or {})

    def load(self, url: str, expect: str, timeout: float = 60.0) -> Rendered:
        """Open ``url`` and wait until ``expect`` shows, nothing runs, and the text is stable for 1.5 s."""
        self.call("Page.navigate", url=url)
        deadline, stable_since, last = time.monotonic() + timeout, 0.0, ""
        while time.monotonic() < deadline:
            time.sleep(0.25)
            state = self.state()
            text = str(state.get("text", ""))
            if expect in text and not state.get("running") and text == last:
                if time.monotonic() - stable_since >= 1.5:
                    return Rendered(text, list(state.get("exceptions", [])), list(state.get("errors", [])))
            else:
                stable_since = time.monotonic()
            last = text
        state = self.state()
        raise TimeoutError(f"{url}: {expect!r} not rendered in {timeout}s; text: {str(state.get('text'))[:500]}")

    def screenshot(self, path: Path) -> None:
        """The whole page. The window is as tall as a long page from the start (``HEIGHT``), so nothing is laid
        out again (a resize makes Streamlit slide the sidebar); the capture ends where the content ends."""
        bottom = self.call("Runtime.evaluate", expression=_BOTTOM, returnByValue=True)["result"].get("value")
        height = min(max(int(bottom or 0) + 48, 600), HEIGHT)
        clip = {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}
        data = self.call("Page.captureScreenshot", format="png", clip=clip)["data"]
        path.write_bytes(base64.b64decode(data))


def regaudit() -> list[str]:
    installed = Path(sys.executable).with_name("regaudit")
    return [str(installed)] if installed.exists() else [sys.executable, "-m", "regaudit.cli"]


@contextlib.contextmanager
def running_dashboard(arguments: list[str], log: Path, environment: dict[str, str] | None = None) -> Iterator[str]:
    """``regaudit dashboard ARGUMENTS --port <free>`` until Streamlit's health check answers; its base URL.

    Stopped with SIGTERM afterwards, which must end it cleanly; its output is in ``log``.
    """
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command
            [*regaudit(), "dashboard", *arguments, "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:  # noqa: S310
                    if response.read() == b"ok":
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dashboard did not start: {log.read_text()[-2000:]}") from None
                time.sleep(0.3)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0, log.read_text()[-2000:]


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Page]:
    """A headless Chromium with its own profile directory, and its first tab."""
    process = subprocess.Popen(  # noqa: S603 - fixed binary and flags
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("Chromium did not open its DevTools port")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:  # noqa: S310
            targets = json.load(response)
        target = next(t for t in targets if t.get("type") == "page")
        with connect(target["webSocketDebuggerUrl"], max_size=None) as connection:
            page = Page(connection)
            page.call("Page.enable")
            yield page
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
