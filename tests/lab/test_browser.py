"""tests/molecule/browser.py: the headless Chromium driver of the browser tests, on pages served
from loopback: it waits for the page to be ready, reports console errors and uncaught exceptions,
keeps a screenshot, and lets nothing but the allowed addresses be reached."""
from __future__ import annotations

import http.server
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "molecule"))
from browser import Browser, BrowserError  # noqa: E402

PAGES = {
    # Rows drawn half a second after load, as a single-page UI does after its query answers.
    "/rows": "<div id=out></div><script>setTimeout(() => { out.innerHTML = '<p class=row>order 7 accepted</p>' }, 500)"
             "</script>",
    "/broken": "<p>half a page</p><script>console.error('query failed'); undefinedFunction()</script>",
    # A page that tries to reach the outside: by name, and by an address that is not allowed.
    "/escape": "<script>Promise.allSettled([fetch('http://example.com/a'), fetch('http://192.0.2.1/b')])"
               ".then(() => document.body.insertAdjacentHTML('beforeend', '<p class=done>settled</p>'))</script>",
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
        body = PAGES.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser(allow=("127.0.0.1",)) as running:
        yield running


def test_a_page_is_read_once_it_is_ready_with_its_screenshot(site: str, browser: Browser, tmp_path: Path):
    page = browser.open(f"{site}/rows", ready="document.querySelector('.row')", screenshot=tmp_path / "rows.png")
    assert "order 7 accepted" in page.text
    assert page.console_errors == []
    assert page.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_errors_and_uncaught_exceptions_are_reported(site: str, browser: Browser, tmp_path: Path):
    page = browser.open(f"{site}/broken", ready="true", screenshot=tmp_path / "broken.png")
    assert "query failed" in page.console_errors
    assert any("undefinedFunction is not defined" in error for error in page.console_errors), page.console_errors


def test_a_page_that_never_gets_ready_fails_naming_its_screenshot(site: str, browser: Browser, tmp_path: Path):
    shot = tmp_path / "never.png"
    with pytest.raises(BrowserError, match=f"not ready after 2 s.*screenshot {shot}"):
        browser.open(f"{site}/rows", ready="document.querySelector('.absent')", screenshot=shot, timeout=2)
    assert shot.exists()


def test_nothing_but_the_allowed_addresses_is_reached(site: str, browser: Browser, tmp_path: Path):
    """A name is never resolved and any other address goes to a closed loopback port: both loads fail."""
    page = browser.open(f"{site}/escape", ready="document.querySelector('.done')", screenshot=tmp_path / "escape.png")
    failures = " ".join(page.console_errors)
    assert "example.com" in failures and "192.0.2.1" in failures, page.console_errors
    assert "ERR_PROXY_CONNECTION_FAILED" in failures or "ERR_NAME_NOT_RESOLVED" in failures, page.console_errors
