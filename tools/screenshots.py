"""Screenshots for docs/accessibility.md: the dashboard, search analytics and the editor at
desktop and mobile sizes, from a throwaway live site with the accessibility tests' content.

    PYTHONPATH=$PWD .venv/bin/python tools/screenshots.py   # writes docs/screenshots/*.png
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.a11y_helpers import a11y_docs, add_history  # noqa: E402
from tests.browser.conftest import sign_in  # noqa: E402
from tests.live import LiveServer, prepare_dirs  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 900}, "mobile": {"width": 375, "height": 812}}
PAGES = {"dashboard": "/manage", "search-analytics": "/manage/search",
         "editor": "/edit/policies/refunds"}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, content = prepare_dirs(Path(tmp), a11y_docs())
        add_history(content, data)
        with LiveServer(data, content, workers=1) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=os.environ.get("KB_CHROMIUM", "/usr/bin/chromium"),
                args=["--no-sandbox", "--disable-gpu"])
            for size, viewport in SIZES.items():
                context = browser.new_context(viewport=viewport, device_scale_factor=1)
                page = context.new_page()
                sign_in(page, server.url, "editor")
                for name, path in PAGES.items():
                    page.goto(server.url + path)
                    page.wait_for_load_state("networkidle")
                    if name == "editor":
                        page.locator(".cm-content").click()
                        page.keyboard.press("Control+End")
                        page.keyboard.type("\n\nGoodwill credit for late parcels.")
                        page.keyboard.press("Shift+Home")
                        page.get_by_role("button", name="Agents-only block").click()
                        page.wait_for_timeout(800)  # the preview's debounce
                        page.evaluate("() => window.scrollTo(0, 0)")
                        if size == "mobile":
                            page.locator(".md-toolbar").scroll_into_view_if_needed()
                    target = OUT / f"{name}-{size}.png"
                    page.screenshot(path=str(target), full_page=size == "mobile" and
                                    name != "editor")
                    print(target.relative_to(ROOT))
                context.close()
            browser.close()


if __name__ == "__main__":
    main()
