"""A real browser for the lab's UIs: Debian's headless Chromium, driven from Python over the
DevTools protocol on a pipe (``--remote-debugging-pipe``: no port, no WebSocket library).

``Browser(...).open(url, ready=js)`` loads a page, waits until the JavaScript expression
``ready`` is true (result rows drawn, say), and returns what a person would have seen: the
page's text, its console errors and uncaught exceptions, and a screenshot file.

The browser reaches the lab only: every host name resolves to nothing (no lookup leaves the
machine), every address but the allowed ones goes to a proxy on a closed loopback port, and
the background services that would call home are off.
"""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Debian's package chromium-headless-shell (lab/setup.sh installs it).
CHROMIUM = "chromium-headless-shell"
# A loopback port nothing listens on: a request that escapes the allowed addresses fails here.
CLOSED_PROXY = "127.0.0.1:9"


class BrowserError(AssertionError):
    """A page that did not become ready, or a browser that did not answer; names the screenshot."""


@dataclass
class Page:
    url: str
    text: str
    console_errors: list[str]
    screenshot: Path
    seconds: float


@dataclass
class Browser:
    """One headless Chromium process; `allow` is the addresses (IPs) pages may reach."""
    allow: tuple[str, ...]
    width: int = 1440
    height: int = 900
    _process: subprocess.Popen | None = None
    _to_browser: Any = None
    _from_browser: Any = None
    _buffer: bytes = b""
    _next_id: int = 0
    _events: list[dict[str, Any]] = field(default_factory=list)

    def __enter__(self) -> "Browser":
        binary = shutil.which(CHROMIUM)
        if binary is None:
            raise BrowserError(f"{CHROMIUM} is not installed (Debian package {CHROMIUM}; lab/setup.sh installs it)")
        # fd 3: what the browser reads (our commands); fd 4: what it writes (answers and events).
        commands_read, commands_write = os.pipe()
        answers_read, answers_write = os.pipe()
        allowed = ",".join(self.allow)
        args = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
            "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-default-apps",
            "--disable-domain-reliability", "--disable-breakpad", "--metrics-recording-only",
            f"--proxy-server={CLOSED_PROXY}", f"--proxy-bypass-list={allowed}",
            f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {allowed}" if allowed else "--host-resolver-rules=MAP * ~NOTFOUND",
            f"--window-size={self.width},{self.height}", "about:blank",
        ]

        def wire_pipes() -> None:
            # Both copied aside first, so that neither lands on the other's number.
            commands, answers = os.dup(commands_read), os.dup(answers_write)
            os.dup2(commands, 3)
            os.dup2(answers, 4)

        self._process = subprocess.Popen(  # pylint: disable=subprocess-popen-preexec-fn
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire_pipes, pass_fds=(3, 4),
            # Pages show times in UTC, as the lab hosts and the tests reckon them.
            env={**os.environ, "TZ": "UTC"})
        os.close(commands_read)
        os.close(answers_write)
        self._to_browser = os.fdopen(commands_write, "wb", buffering=0)
        self._from_browser = answers_read
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._process is None:
            return
        try:
            self.call("Browser.close", timeout=5)
        except BrowserError:
            pass
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._to_browser.close()
        os.close(self._from_browser)
        self._process = None

    # --- the protocol: one JSON message per NUL-terminated frame each way ----------------
    def _read_message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise BrowserError("the browser did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("the browser exited")
            self._buffer += chunk
        frame, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(frame)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._to_browser.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session)
        return result.get("result", {}).get("value")

    # --- a page ------------------------------------------------------------------------
    def open(self, url: str, ready: str, screenshot: Path, timeout: float = 30) -> Page:
        """Load `url`, wait until `ready` (a JavaScript expression) is true, save a screenshot.

        Raises BrowserError naming the screenshot when the page is not ready in time."""
        started = time.monotonic()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable", session=session)
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session)
        is_ready = False
        while time.monotonic() - started < timeout:
            is_ready = bool(self.evaluate(session, f"Boolean({ready})"))
            if is_ready:
                break
            time.sleep(0.25)
        # What was drawn, as a person would see it (after the ready state, or at the timeout).
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        image = self.call("Page.captureScreenshot", {"format": "png"}, session)["data"]
        screenshot.write_bytes(base64.b64decode(image))
        text = self.evaluate(session, "document.body ? document.body.innerText : ''") or ""
        errors = console_errors(self._events, session)
        self.call("Target.closeTarget", {"targetId": target})
        page = Page(url, text, errors, screenshot, round(time.monotonic() - started, 1))
        if not is_ready:
            raise BrowserError(f"{url}: not ready after {timeout:.0f} s ({ready}); screenshot {screenshot}; "
                               f"console errors {errors}; page text {text[:500]!r}")
        return page


def console_errors(events: list[dict[str, Any]], session: str) -> list[str]:
    """The console errors, uncaught exceptions and failed loads a page's session reported."""
    found = []
    for event in events:
        if event.get("sessionId") != session:
            continue
        params = event.get("params", {})
        if event.get("method") == "Runtime.consoleAPICalled" and params.get("type") == "error":
            found.append(" ".join(str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])))
        elif event.get("method") == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append(details.get("exception", {}).get("description") or details.get("text", "exception"))
        elif event.get("method") == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
    return found
