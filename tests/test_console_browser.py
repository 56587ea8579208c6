"""The console in a real browser (issue 18 part 5): Debian's Chromium, headless, driven over the DevTools
protocol on a pipe (`--remote-debugging-pipe`: no port, no websocket library), against the service over real
HTTP. It fills and submits the console's own forms as a person would (clicks on their buttons), with the
marketer's key sent as HTTP Basic credentials on every request: create a campaign from a template, publish it
with a note, find it in the history, open the diff, change its priority in its fields form and roll it all
back; and simulate a draft from the editor, watch its page reload itself until the results are there (table and
chart), and publish the draft from it. Each step is checked against the JSON API.
Chromium missing is a failure, not a skip: CI installs it (.ci/run)."""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import test_simulations_api as simulations_api
from tests.support import Service
from tests.test_console import TOTALS_BY_HAND, campaign_shown, receipts_locked, stored_history, total_shown
from tests.test_reports_page import CHROMIUM

WIDTH, HEIGHT = 1280, 1600
SCREENSHOTS = os.environ.get("BONUS_CONSOLE_SCREENSHOTS")  # a folder: a PNG of each step, to look at


class DevTools:
    """One page of a headless Chromium, over the DevTools pipe (fd 3 to it, fd 4 from it, NUL-terminated JSON)."""

    def __init__(self, profile: Path):
        assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
        to_child, self._to_browser = os.pipe()
        self._from_browser, from_child = os.pipe()

        def wire() -> None:  # in the child: the protocol's fds 3 and 4 (copied first: either may be 3 or 4)
            reads, writes = os.dup(to_child), os.dup(from_child)
            os.dup2(reads, 3)
            os.dup2(writes, 4)

        self._process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
             "--remote-debugging-pipe", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(3, 4), preexec_fn=wire)
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._next_id = 0
        self._session: str | None = None
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self._session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            assert left > 0, "Chromium did not answer in time"
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                assert chunk, "Chromium closed the DevTools pipe"
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return dict(json.loads(message))

    def send(self, method: str, params: dict[str, Any] | None = None, timeout_s: float = 30) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while True:
            answer = self._read(deadline)
            if answer.get("id") == self._next_id:
                assert "error" not in answer, (method, answer["error"])
                return dict(answer.get("result", {}))
            self._events.append(answer)

    def wait_for(self, event: str, timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            for index, seen in enumerate(self._events):
                if seen.get("method") == event:
                    del self._events[: index + 1]
                    return seen
            self._events.append(self._read(deadline))

    def evaluate(self, expression: str) -> Any:
        """Run `expression` in the page (DevTools' evaluation is not the page's script: the CSP still holds)."""
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def loaded_after(self, action: Callable[[], object]) -> str:
        """Do `action` (a navigation or a click that submits), wait for the new page's load; its DOM."""
        self._events.clear()
        action()
        self.wait_for("Page.loadEventFired")
        return str(self.evaluate("document.documentElement.outerHTML"))

    def open(self, url: str) -> str:
        return self.loaded_after(lambda: self.send("Page.navigate", {"url": url}))

    def click(self, selector: str) -> str:
        return self.loaded_after(lambda: self.evaluate(f"document.querySelector({json.dumps(selector)}).click()"))

    def fill(self, element_id: str, value: str) -> None:
        self.evaluate(f"document.getElementById({json.dumps(element_id)}).value = {json.dumps(value)}")

    def location(self) -> str:
        return str(self.evaluate("location.pathname + location.search"))

    def close(self) -> None:
        os.close(self._to_browser)  # Chromium exits when its end of the pipe closes
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._from_browser)


@pytest.fixture(scope="module")
def svc(make_module_service: Callable[..., Service]) -> Service:
    return make_module_service()


@contextmanager
def signed_in(service: Service, profile: Path) -> Iterator[DevTools]:
    """A browser that sends the service's marketer key as HTTP Basic credentials on every request."""
    tools = DevTools(profile)
    try:
        credentials = base64.b64encode(f"marketing:{service.key('marketer')}".encode()).decode()
        tools.send("Page.enable")
        tools.send("Network.enable")
        tools.send("Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {credentials}"}})
        yield tools
    finally:
        tools.close()


@pytest.fixture
def browser(svc: Service, tmp_path: Path) -> Iterator[DevTools]:
    with signed_in(svc, tmp_path / "profile") as tools:
        yield tools


def _shot(browser: DevTools, name: str) -> bytes:
    shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"})["data"])
    if SCREENSHOTS:
        Path(SCREENSHOTS, f"{name}.png").write_bytes(shot)
    return shot


def _newest(api: httpx.Client) -> dict[str, Any]:
    return dict(api.get("/v1/program/versions", params={"limit": 1}).json()["versions"][0])


def test_a_marketer_makes_publishes_compares_and_rolls_back_a_campaign_in_chromium(
        svc: Service, browser: DevTools) -> None:
    api = svc.client()
    before = _newest(api)["version"]

    templates = browser.open(f"{svc.url}/console/templates")
    assert 'data-template="threshold-discount"' in templates
    form = browser.click('li[data-template="threshold-discount"] a')
    assert browser.location() == "/console/templates/threshold-discount" and 'data-form="template"' in form
    _shot(browser, "template")
    browser.fill("p-id", "browser-bigger-check")
    browser.fill("p-min_amount", "700000")
    editor = browser.click('form[data-form="template"] button')
    text = str(browser.evaluate("document.getElementById('yaml').value"))
    assert "id: browser-bigger-check\n" in text and "min_amount: 700000\n" in text, editor
    assert _newest(api)["version"] == before  # nothing published yet
    _shot(browser, "editor")

    browser.fill("yaml", text.replace("percent: 5", "percent: 7"))  # edited before publishing
    browser.fill("note", "bigger checks, from the browser")
    history = browser.click('form[data-form="publish"] button')
    published = _newest(api)
    assert published["version"] == before + 1 and published["note"] == "bigger checks, from the browser"
    assert browser.location() == f"/console/history?published={before + 1}"
    assert "bigger checks, from the browser" in history and f'<tr data-version="{before + 1}">' in history
    campaign = api.get("/v1/campaigns/browser-bigger-check").json()
    assert campaign["thresholds"] == [{"min_amount": 700000, "percent": 7}]

    _shot(browser, "history")
    diff = browser.click(f'tr[data-version="{before + 1}"] a[href^="/console/diff"]')
    assert '<ul data-diff="added"><li>browser-bigger-check</li></ul>' in diff

    _shot(browser, "diff")
    overview = browser.open(f"{svc.url}/console")
    assert 'data-campaign="browser-bigger-check"' in overview

    _shot(browser, "campaigns")
    browser.click('tr[data-campaign="browser-bigger-check"] a')  # its main fields as a form
    _shot(browser, "campaign")
    browser.fill("f-priority", "12")
    browser.fill("f-note", "after the winter campaign")
    browser.click('form[data-form="fields"] button')
    assert api.get("/v1/campaigns/browser-bigger-check").json()["priority"] == 12
    assert _newest(api)["note"] == "after the winter campaign"

    browser.open(f"{svc.url}/console/history/{before}")
    browser.fill("note", "not this season")
    history = browser.click('form[data-form="rollback"] button')
    rolled = _newest(api)
    assert rolled["version"] == before + 3 and rolled["note"] == "not this season"
    assert f'<tr data-version="{before + 3}">' in history and "not this season" in history
    assert api.get("/v1/campaigns/browser-bigger-check").status_code == 404
    assert (api.get(f"/v1/program/versions/{before + 3}").json() == api.get(f"/v1/program/versions/{before}").json())

    shot = _shot(browser, "rolled-back")
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000  # a real picture of the history page


def _dom(browser: DevTools) -> str:
    return str(browser.evaluate("document.documentElement.outerHTML"))


def test_a_marketer_simulates_a_draft_watches_it_finish_and_publishes_it_in_chromium(
        make_module_service: Callable[..., Service], tmp_path: Path) -> None:
    """The page of a running simulation reloads itself (`<meta http-equiv="refresh">` under the console's CSP) with
    no action of the test's: the simulation waits on a lock the test holds on `receipts`, the page is seen to
    reload while it waits, and once the lock goes it reloads into the results."""
    service = stored_history(make_module_service)
    api = service.client()
    first, last = simulations_api._days()
    with signed_in(service, tmp_path / "profile") as browser:
        browser.open(f"{service.url}/console/campaigns/ten-off")
        text = str(browser.evaluate("document.getElementById('yaml').value"))
        assert "percent: 10" in text, text
        browser.fill("yaml", text.replace("percent: 10", "percent: 20"))
        browser.fill("period_from", first)
        browser.fill("period_to", last)
        assert browser.evaluate("document.getElementById('baseline').value") == "active"
        with receipts_locked(service.database_url):
            running = browser.click('form[data-form="publish"] button[data-action="simulate"]')
            simulation = browser.location().rsplit("/", 1)[1]
            assert browser.location() == f"/console/simulations/{simulation}", browser.location()
            assert "data-progress" in running and 'http-equiv="refresh"' in running
            _shot(browser, "simulation-running")
            browser.evaluate("window.seen = true")  # gone with this document when the page reloads
            browser.wait_for("Page.loadEventFired", timeout_s=10)  # reloaded by itself, still waiting
            assert browser.evaluate("window.seen === undefined") and "data-progress" in _dom(browser)
        deadline = time.monotonic() + 60
        shown = _dom(browser)
        while "data-total" not in shown:  # each reload is the page's own
            browser.wait_for("Page.loadEventFired", timeout_s=max(deadline - time.monotonic(), 0.1))
            shown = _dom(browser)
        assert browser.location() == f"/console/simulations/{simulation}"
        assert api.get(f"/v1/simulations/{simulation}").json()["status"] == "done"
        for key, figures in TOTALS_BY_HAND.items():
            assert total_shown(shown, key) == figures, key
        assert campaign_shown(shown, "ten-off")["cost_difference"] == "+180.00"
        assert browser.evaluate("document.querySelectorAll('svg rect.bar').length") == 2  # draft and baseline
        assert browser.evaluate("document.querySelector('meta[http-equiv=refresh]')") is None
        _shot(browser, "simulation-done")

        editor = browser.click('div[data-draft="ten-off"] a[data-link="editor"]')
        assert browser.location() == f"/console/simulations/{simulation}/campaigns/ten-off"
        assert "percent: 20" in str(browser.evaluate("document.getElementById('yaml').value")), editor
        assert browser.evaluate("document.getElementById('period_from').value") == first

        browser.open(f"{service.url}/console/simulations/{simulation}")
        before = _newest(api)["version"]
        browser.fill("note-ten-off", "twenty percent, simulated first")
        history = browser.click('form[data-form="publish-draft"] button')
        assert browser.location() == f"/console/history?published={before + 1}"
        assert "twenty percent, simulated first" in history
        assert api.get("/v1/campaigns/ten-off").json()["thresholds"] == [{"min_amount": 0, "percent": 20}]
        listing = browser.open(f"{service.url}/console/simulations")
        assert f'data-simulation="{simulation}"' in listing
        _shot(browser, "simulations")
