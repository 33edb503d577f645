"""A real Chromium for the console tests (Playwright driving Debian's `chromium`), and a page
that records every Content-Security-Policy violation and console error it meets."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from playwright.sync_api import Browser, Page, sync_playwright

# Added before any page script runs (by the browser, not the page: the CSP does not apply).
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@contextmanager
def chromium(executable: str) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class WatchedPage:
    """A page with what went wrong on it: CSP violations, console errors, dialogs."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def violations(self) -> list[str]:
        found: list[str] = self.page.evaluate("window.__violations || []")
        return found + [e for e in self.errors if "Content Security Policy" in e]


def watched(browser: Browser, base_url: str) -> WatchedPage:
    context = browser.new_context(base_url=base_url)
    page = context.new_page()
    watched_page = WatchedPage(page)
    page.add_init_script(WATCH_VIOLATIONS)
    page.on(
        "console",
        lambda message: (
            watched_page.errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.on("pageerror", lambda error: watched_page.errors.append(str(error)))

    def dismiss(dialog: object) -> None:
        watched_page.dialogs.append(str(getattr(dialog, "message", "")))
        dialog.dismiss()  # type: ignore[attr-defined]

    page.on("dialog", dismiss)
    return watched_page
