"""The report in a real browser: headless Chromium driven over the DevTools protocol.

Chromium runs with `--remote-debugging-pipe` (commands on fd 3, replies on fd 4, JSON
messages ending in NUL), so no extra package is needed. The test opens the report from
file://, records console errors, uncaught exceptions, log errors and every network request,
measures each figure, clicks a capability cell to read its error, and saves a full-page
screenshot into the test's tmp dir. Besides the small fixtures it opens the quick-start
pages: results/baseline.json (343 cases) alone and against a copy 10% slower, with this
machine's capability matrix; each must stay within MAX_HEIGHT and MAX_BYTES.

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
BASELINE = Path(__file__).parent.parent / "results" / "baseline.json"  # the quick-start run
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
MATRIX_CLICK = """(() => { const matrix = document.querySelector('#capabilities .matrix table');
    const cell = Array.from(matrix.querySelectorAll('td.cap-error[title], td[class^="cap-"][title]'))
        .find(c => c.title.includes('Error'));
    const before = document.querySelectorAll('#capabilities .cap-detail').length;
    cell.click();
    return JSON.stringify({title: cell.title, before: before,
        after: document.querySelector('#capabilities .cap-detail').textContent,
        images: document.querySelectorAll('img').length}); })()"""
CLIPPED_TEXTS = """(() => { document.querySelectorAll('details').forEach(d => { d.open = true; });
    const clipped = [];
    document.querySelectorAll('figure svg').forEach((svg, index) => {
        const box = svg.getBoundingClientRect();
        svg.querySelectorAll('text').forEach(t => { const r = t.getBoundingClientRect();
            if (r.width && (r.left < box.left - 1 || r.right > box.right + 1
                            || r.top < box.top - 1 || r.bottom > box.bottom + 1))
                clipped.push(index + ': ' + t.textContent); }); });
    return JSON.stringify(clipped); })()"""
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


def write_slower_copy(source: Path, path: Path, factor: float) -> Path:
    """A copy of a results file with every value multiplied by `factor`."""
    data = json.loads(source.read_text(encoding="utf-8"))
    for benchmark in data["benchmarks"]:
        for run in benchmark["runs"]:
            run["values"] = [value * factor for value in run.get("values", [])]
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def real_matrix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A capability matrix of this machine's serializers, as `bench capabilities` writes it."""
    from bench.run.capabilities import probe_capabilities

    path = tmp_path_factory.mktemp("matrix") / "capabilities.json"
    path.write_text(json.dumps(probe_capabilities(), indent=1), encoding="utf-8")
    return path


def report_inputs(name: str, tmp_path: Path, matrix: Path | None) -> tuple[list[Path], Path]:
    """The result files and capability matrix of one page the browser test opens."""
    if name == "one-run":
        return FIXTURES[:1], DATA / "capabilities.json"
    if name == "runs":
        return FIXTURES, DATA / "capabilities.json"
    if name == "user-data":  # a --data run: the page opens with the answer for that payload
        return [DATA / "user-data.json.gz"], DATA / "capabilities.json"
    assert matrix is not None
    quick = [BASELINE]
    if name == "quick-start-runs":
        quick.append(write_slower_copy(BASELINE, tmp_path / "slower.json", 1.1))
    return quick, matrix


@pytest.mark.browser
@pytest.mark.parametrize("name", ["one-run", "runs", "user-data", "quick-start", "quick-start-runs"])
def test_report_renders_in_chromium(tmp_path: Path, name: str, request: pytest.FixtureRequest
                                    ) -> None:
    chromium = find_chromium()
    if chromium is None:
        if not os.environ.get("CI"):
            pytest.skip("Chromium not found (install Debian's chromium); set CI=true to fail")
        pytest.fail("CI is set but Chromium is not installed")
    matrix = request.getfixturevalue("real_matrix") if name.startswith("quick") else None
    files, capabilities = report_inputs(name, tmp_path, matrix)
    report = tmp_path / "index.html"
    page = build_report(files, capabilities)
    report.write_text(page, encoding="utf-8")
    devtools = DevTools(chromium, tmp_path / "profile")
    try:
        devtools.open_page(report.as_uri())
        sizes = json.loads(devtools.send("Runtime.evaluate", expression=FIGURE_SIZES,
                                         returnByValue=True)["result"]["value"])
        layout = evaluate(devtools, LAYOUT)
        hidden = evaluate(devtools, HIDDEN_HEADINGS)
        clicked = evaluate(devtools, MATRIX_CLICK)
        save_screenshot(devtools, tmp_path / "report.png")
        clipped = evaluate(devtools, CLIPPED_TEXTS)  # opens every <details>: measured last
    finally:
        devtools.close()
    print(f"screenshot: {tmp_path / 'report.png'}")
    assert page_problems(devtools.events) == []
    assert len(sizes) == page.count("<figure>") > 0
    assert all(width > 100 and height > 100 for width, height in sizes), sizes
    assert (tmp_path / "report.png").stat().st_size > 10_000
    assert layout["width"] <= WIDTH, "horizontal overflow"
    assert layout["height"] <= MAX_HEIGHT, layout["height"]
    assert len(page.encode()) <= MAX_BYTES, len(page.encode())  # the 343-case pages too
    assert layout["boxes"] and all(right <= WIDTH and height <= 900
                                   for right, height, _ in layout["boxes"]), layout["boxes"]
    assert hidden == [], hidden
    assert clipped == [], clipped  # every figure text inside its figure
    assert clicked["before"] == 0 and clicked["images"] == 0  # no detail before a click
    assert clicked["after"].endswith(" — " + clicked["title"]), clicked  # the exact error text
    if name in ("one-run", "runs", "user-data"):
        assert "<img src=x onerror=alert(1)>" in clicked["after"]  # shown as text, not markup
