"""Fixtures for the browser tests: Debian's Chromium driven by Python Playwright against a real
JupyterLab (with the labtrack extensions) and a real tracking server.

Screenshots go to `test-artifacts/browser/` (or `$LABTRACK_SCREENSHOT_DIR`).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # seed.py, for the tests and bench/ui_bench.py

from jupyter_fixtures import JupyterServer, start_jupyter  # noqa: E402
from screenshots import SHOT_DIR  # noqa: E402
from seed import Seeder  # noqa: E402

CHROMIUM = os.environ.get("LABTRACK_CHROMIUM", "/usr/bin/chromium")
# From notes/jupyterlab.md §7: headless without a sandbox or GPU, and no background traffic.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "labtrack_settings(dict): user settings of the labtrack lab extension")
    config.addinivalue_line(
        "markers",
        "expected_console_errors(*texts): console or page errors this test expects, each named by a "
        "substring of its text (or of the failing resource's URL); any other error fails the test",
    )


class BrowserErrors:
    """Every console error and uncaught page error of the pages a test opens.

    The test fails on any that it does not expect by name (`expected_console_errors` marker,
    or `expect()` for one step), so a new error in the browser never goes unnoticed.
    """

    def __init__(self, expected: tuple[str, ...] = ()):
        self.expected = list(expected)
        self.seen: list[str] = []

    def watch(self, page: Any) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))

    def _on_console(self, message: Any) -> None:
        if message.type != "error":
            return
        where = (message.location or {}).get("url", "")
        self.seen.append(f"console error: {message.text}" + (f" [{where}]" if where else ""))

    def expect(self, text: str) -> None:
        """Allow errors containing `text` from now on (for a step that must produce one)."""
        self.expected.append(text)

    def unexpected(self) -> list[str]:
        return [seen for seen in self.seen if not any(text in seen for text in self.expected)]


@pytest.fixture(autouse=True)
def browser_errors(request: pytest.FixtureRequest) -> Iterator[BrowserErrors]:
    """Used by every browser test: fails it on a console or page error it does not expect."""
    marker = request.node.get_closest_marker("expected_console_errors")
    errors = BrowserErrors(tuple(marker.args) if marker else ())
    yield errors
    unexpected = errors.unexpected()
    if unexpected:
        pytest.fail("errors in the browser that the test does not expect:\n  " + "\n  ".join(unexpected))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    """Keep each phase's report on the test item so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (each test gets its own context)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/system-deps.sh (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def lab(tracking_server: Any, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[JupyterServer]:
    """JupyterLab pointed at the test's tracking server, with `window.jupyterapp` exposed.

    `@pytest.mark.labtrack_settings({...})` on a test sets the extension's user settings.
    """
    server = start_jupyter(
        tmp_path / "notebooks",
        tmp_path / "jupyter",
        env=tracking_server.env,
        app="lab",
        extra_args=["--LabApp.expose_app_in_browser=True"],
    )
    # Never stop on a "Select Kernel" dialog (seen on a loaded machine): start python3 directly.
    tracker = Path(server.env["JUPYTERLAB_SETTINGS_DIR"]) / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"autoStartDefaultKernel": True}))
    marker = request.node.get_closest_marker("labtrack_settings")
    if marker:
        ours = Path(server.env["JUPYTERLAB_SETTINGS_DIR"]) / "labtrack"
        ours.mkdir(parents=True, exist_ok=True)
        (ours / "plugin.jupyterlab-settings").write_text(json.dumps(marker.args[0]))
    yield server
    server.stop()


@pytest.fixture
def seeder(tracking_server: Any) -> Seeder:
    return Seeder(tracking_server.api, tracking_server.api_key)


class LabPage:
    """A Playwright page on JupyterLab with helpers for labtrack's UI."""

    def __init__(self, page: Any, lab: JupyterServer, name: str, errors: BrowserErrors):
        self.page = page
        self.lab = lab
        self.name = name
        self.errors = errors
        errors.watch(page)

    def open(self) -> None:
        self.page.goto(f"{self.lab.base_url}lab?token={self.lab.token}")
        self.page.wait_for_selector("#jupyterlab-splash", state="detached", timeout=60_000)
        self.page.wait_for_function(
            "() => window.jupyterapp && window.jupyterapp.commands.hasCommand('labtrack:open-sidebar')",
            timeout=30_000,
        )
        # Every plugin's commands (docmanager:open, …) exist once the layout is restored.
        self.page.evaluate("() => window.jupyterapp.restored.then(() => null)")

    def wait_notebook_ready(self, path: str, timeout: float = 90_000) -> None:
        """Wait until the notebook at `path` is open with a started, connected kernel.

        (The toolbar's execution indicator says "idle" before the session exists, and the
        kernel's busy/idle status flips with widget comm traffic, so neither is used.)
        """
        self.page.wait_for_function(
            """path => {
                const w = [...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path);
                const s = w && w.sessionContext;
                return !!s && s.isReady && !!s.session && !!s.session.kernel
                    && s.session.kernel.connectionStatus === 'connected';
            }""",
            arg=path,
            timeout=timeout,
        )

    def command(self, command: str, args: dict[str, Any] | None = None, wait: bool = True) -> Any:
        """Run a JupyterLab command; with wait=False, return without awaiting its promise."""
        if wait:
            return self.page.evaluate("([c, a]) => window.jupyterapp.commands.execute(c, a).then(() => null)", [command, args or {}])
        self.page.evaluate("([c, a]) => { void window.jupyterapp.commands.execute(c, a); }", [command, args or {}])
        return None

    def open_sidebar(self, project: str | None = None, refresh: bool = True) -> None:
        """Show the sidebar; `refresh` reloads it (tests seed data after the page loaded)."""
        self.command("labtrack:open-sidebar")
        self.page.wait_for_selector(".lt-sidebar", timeout=20_000)
        if refresh:
            self.page.click(".lt-refresh")
        if project:
            self.page.wait_for_function(
                "p => [...document.querySelectorAll('.lt-project option')].some(o => o.textContent.startsWith(p + ' ('))",
                arg=project,
                timeout=20_000,
            )
            value = self.page.evaluate(
                "p => [...document.querySelectorAll('.lt-project option')].find(o => o.textContent.startsWith(p + ' (')).value",
                project,
            )
            self.page.select_option(".lt-project", value)

    def row_names(self) -> list[str]:
        return self.page.eval_on_selector_all(".lt-task-row .lt-task-name", "els => els.map(e => e.textContent)")

    def wait_rows(self, names: list[str], timeout: float = 20_000) -> None:
        """Wait until the sidebar shows exactly these rows, in this order."""
        self.page.wait_for_function(
            "names => JSON.stringify([...document.querySelectorAll('.lt-task-row .lt-task-name')].map(e => e.textContent)) === JSON.stringify(names)",
            arg=names,
            timeout=timeout,
        )

    def run_all_cells(self, path: str) -> None:
        """Activate the notebook at `path` and start "Run All" without waiting for it to end."""
        started = "() => [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')].some(p => /\\[[*0-9]/.test(p.textContent))"
        for _ in range(3):
            # Notebook commands act on the tracker's current notebook, which follows activation.
            self.page.evaluate(
                "path => window.jupyterapp.shell.activateById([...window.jupyterapp.shell.widgets('main')].find(w => w.context && w.context.path === path).id)",
                path,
            )
            self.page.click(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell .jp-InputPrompt >> nth=0")
            self.command("notebook:run-all-cells", wait=False)
            try:
                self.page.wait_for_function(started, timeout=10_000)
                return
            except Exception:  # noqa: BLE001 - nothing ran yet, so asking again is safe
                continue
        raise AssertionError(f"Run All did not start in {path}")

    def set_theme(self, dark: bool) -> None:
        theme = "JupyterLab Dark" if dark else "JupyterLab Light"
        self.command("apputils:change-theme", {"theme": theme})
        self.page.wait_for_function(
            "dark => document.body.dataset.jpThemeLight === String(!dark)", arg=dark, timeout=20_000
        )
        time.sleep(0.5)

    def shot(self, step: str, locator: str | None = None) -> Path:
        """Save a screenshot `<test>-<step>.png` (of one element when `locator` is given)."""
        SHOT_DIR.mkdir(parents=True, exist_ok=True)
        path = SHOT_DIR / f"{self.name}-{step}.png"
        if locator:
            self.page.locator(locator).first.screenshot(path=str(path))
        else:
            self.page.screenshot(path=str(path))
        return path


@pytest.fixture
def lab_page(
    browser: Any, lab: JupyterServer, request: pytest.FixtureRequest, browser_errors: BrowserErrors
) -> Iterator[LabPage]:
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    wrapper = LabPage(page, lab, request.node.name.replace("test_", ""), browser_errors)
    wrapper.open()
    yield wrapper
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        wrapper.shot("FAILED")  # what the page looked like, for the person reading the failure
    context.close()  # the browser_errors fixture then fails the test on unexpected errors
