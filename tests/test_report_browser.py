"""The report in a real browser: headless Chromium driven over the DevTools protocol.

Chromium runs with `--remote-debugging-pipe` (commands on fd 3, replies on fd 4, JSON
messages ending in NUL), so no extra package is needed. The test opens the report from
file://, records console errors, uncaught exceptions, log errors and every network request,
measures each figure, and saves a full-page screenshot into the test's tmp dir.

Skips only when Chromium is absent and CI is unset; under CI it must run.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from bench.report.render import build_report

DATA = Path(__file__).parent / "data" / "report"
FIXTURES = [DATA / "py311.json", DATA / "py313.json.gz", DATA / "foreign.json"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-extensions", "--disable-default-apps", "--mute-audio",
                  "--hide-scrollbars",
                  "--remote-debugging-pipe"]
TIMEOUT = 60.0
WIDTH = 1400  # CSS pixels: the page must fit this width
MAX_HEIGHT = 12_000  # CSS pixels, every <details> closed
MAX_BYTES = 1_200_000
LAYOUT = """JSON.stringify({height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth,
    boxes: Array.from(document.querySelectorAll('.scroll.box')).map(
        b => [b.getBoundingClientRect().right, b.clientHeight, b.scrollHeight])})"""
HIDDEN_HEADINGS = """(() => { const hidden = [];
    const nav = document.querySelector('nav');
    for (const h of document.querySelectorAll('h2, h3')) {
        if (!h.id && !h.parentElement.id) { hidden.push('no id: ' + h.textContent); continue; }
        if (h.closest('details')) continue;
        (h.id ? h : h.parentElement).scrollIntoView();  // an anchor jump (scroll-margin-top)
        const top = h.getBoundingClientRect().top, below = nav.getBoundingClientRect().bottom;
        if (top < below - 1) hidden.push(h.textContent + ': ' + top + ' < ' + below);
    }
    return JSON.stringify(hidden); })()"""
FIGURE_SIZES = """JSON.stringify(Array.from(document.querySelectorAll('figure svg')).map(
    s => { const r = s.getBoundingClientRect(); return [r.width, r.height]; }))"""


def find_chromium() -> str | None:
    """Debian's chromium, or whatever `chromium` / `chromium-browser` is on PATH."""
    for name in ("chromium", "chromium-browser", "/usr/bin/chromium"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, chromium: str, profile: Path) -> None:
        browser_in, self.to_browser = high_pipe()
        self.from_browser, browser_out = high_pipe()

        def attach_pipes() -> None:  # in the child, before exec: fd 3 reads, fd 4 writes
            os.dup2(browser_in, 3)
            os.dup2(browser_out, 4)

        self.process = subprocess.Popen(  # preexec_fn only dup2s two fds
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}"], preexec_fn=attach_pipes,
            close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(browser_in)
        os.close(browser_out)
        self.buffer, self.next_id, self.events = b"", 0, []
        self.session: str | None = None

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command (to the attached page when there is one) and wait for its reply."""
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith(("Target.", "Browser.")):
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        reply = self.wait(lambda m: m.get("id") == self.next_id)
        assert "error" not in reply, (method, reply["error"])
        return reply.get("result", {})

    def wait(self, matches: Any) -> dict[str, Any]:
        """Read messages until one matches, keeping every event seen on the way."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if matches(message):
                    return message
            remaining = deadline - time.monotonic()
            assert remaining > 0, "Chromium did not answer in time"
            if select.select([self.from_browser], [], [], remaining)[0]:
                chunk = os.read(self.from_browser, 1 << 20)
                assert chunk, "Chromium closed the DevTools pipe"
                self.buffer += chunk

    def open_page(self, url: str) -> None:
        """Attach to a new page, enable the domains that report problems, load `url`."""
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.send("Page.navigate", url=url)
        self.wait(lambda m: m.get("method") == "Page.loadEventFired")

    def close(self) -> None:
        """Ask the browser to quit, then make sure it is gone."""
        try:
            self.send("Browser.close")
            self.process.wait(timeout=10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self.to_browser)
            os.close(self.from_browser)


def high_pipe() -> tuple[int, int]:
    """A (read, write) pipe whose fds are >= 10 and close-on-exec, so dup2 to 3/4 is safe."""
    fds = []
    for fd in os.pipe():
        fds.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10))
        os.close(fd)
    return fds[0], fds[1]


def page_problems(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions, error log entries and non-local requests."""
    problems = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            problems.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Runtime.exceptionThrown":
            problems.append(f"exception: {params.get('exceptionDetails')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            problems.append(f"log: {params['entry'].get('text')}")
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "about:")):
                problems.append(f"network request: {url}")
    return problems


def save_screenshot(devtools: DevTools, path: Path) -> None:
    """A full-page PNG (capped at 20000 CSS pixels high)."""
    width, height = json.loads(devtools.send(
        "Runtime.evaluate", returnByValue=True, expression="JSON.stringify(["
        "document.documentElement.scrollWidth, document.documentElement.scrollHeight])",
    )["result"]["value"])
    clip = {"x": 0, "y": 0, "width": width, "height": min(height, 20000), "scale": 1}
    shot = devtools.send("Page.captureScreenshot", format="png", clip=clip,
                         captureBeyondViewport=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def evaluate(devtools: DevTools, expression: str) -> Any:
    """The JSON value of a JavaScript expression that returns JSON text."""
    return json.loads(devtools.send("Runtime.evaluate", expression=expression,
                                    returnByValue=True)["result"]["value"])


@pytest.mark.browser
@pytest.mark.parametrize("files", [FIXTURES[:1], FIXTURES], ids=["one-run", "runs"])
def test_report_renders_in_chromium(tmp_path: Path, files: list[Path]) -> None:
    chromium = find_chromium()
    if chromium is None:
        if not os.environ.get("CI"):
            pytest.skip("Chromium not found (install Debian's chromium); set CI=true to fail")
        pytest.fail("CI is set but Chromium is not installed")
    report = tmp_path / "index.html"
    page = build_report(files, DATA / "capabilities.json")
    report.write_text(page, encoding="utf-8")
    devtools = DevTools(chromium, tmp_path / "profile")
    try:
        devtools.open_page(report.as_uri())
        sizes = json.loads(devtools.send("Runtime.evaluate", expression=FIGURE_SIZES,
                                         returnByValue=True)["result"]["value"])
        layout = evaluate(devtools, LAYOUT)
        hidden = evaluate(devtools, HIDDEN_HEADINGS)
        save_screenshot(devtools, tmp_path / "report.png")
    finally:
        devtools.close()
    print(f"screenshot: {tmp_path / 'report.png'}")
    assert page_problems(devtools.events) == []
    assert len(sizes) == page.count("<figure>") > 0
    assert all(width > 100 and height > 100 for width, height in sizes), sizes
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert layout["width"] <= WIDTH, "horizontal overflow"
    assert layout["height"] <= MAX_HEIGHT and len(page.encode()) <= MAX_BYTES
    assert layout["boxes"] and all(right <= WIDTH and height <= 900
                                   for right, height, _ in layout["boxes"]), layout["boxes"]
    assert hidden == [], hidden
