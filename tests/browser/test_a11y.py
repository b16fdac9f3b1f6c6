"""WCAG 2.2 AA in real Chromium: axe-core on every page type, as a customer and as staff,
plus what axe cannot see: 320 px and 200 % zoom, skip link, focus, combobox, reduced motion."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.a11y_helpers import a11y_docs, add_history, axe_violations, with_axe
from tests.browser.conftest import sign_in
from tests.browser.test_search import collect_errors
from tests.conftest import git
from tests.live import LiveServer, prepare_dirs

CUSTOMER_PAGES = [
    "/", "/policies/", "/faq/", "/faq/?tag=orders", "/policies/refunds", "/policies/delivery",
    "/faq/track-order", "/policies/refunds?hl=refund+late#sec-late-claims",
    "/search?q=refund", "/search?q=zzqxwv", "/search", "/changes",
    "/changes/policies/refunds", "/login", "/no-such-page", "/policies/no-such-policy",
]
STAFF_PAGES = [
    "/policies/refunds", "/policies/escalation", "/policies/delivery",
    "/policies/refunds?as=customer", "/edit/policies/refunds", "/new",
    "/history/policies/refunds", "/diff/policies/refunds", "/diff/policies/refunds?view=inline",
    "/diff/policies/refunds?mode=source", "/manage", "/manage?view=all", "/manage?view=due",
    "/manage/search", "/manage/search?days=90&audience=public", "/acks/policies/refunds",
    "/to-read", "/search?q=credit", "/changes",
    "/proposals", "/proposals/7", "/manage/approvals",  # the approval workflow's pages
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    data, content = prepare_dirs(tmp_path_factory.mktemp("a11y"), a11y_docs())
    add_history(content, data)
    # An open proposal pushed as a git branch, so its page is checked too.
    refunds = content / "policies" / "refunds.md"
    git(content, "checkout", "-q", "-b", "proposals/7-a11y-wording")
    refunds.write_text(refunds.read_text() + "\nA proposed sentence for customers.\n")
    git(content, "commit", "-qam", "Proposed wording")
    git(content, "checkout", "-q", "main")
    with LiveServer(data, content, workers=2) as server:
        yield server


@pytest.fixture
def axe_page(browser):
    context = browser.new_context()
    context.set_default_timeout(10_000)
    with_axe(context)
    yield context.new_page()
    context.close()


def check(page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None
    page.wait_for_load_state("networkidle")
    found = [f"{url}: {v}" for v in axe_violations(page)]
    if response.status != 200 and "no-such" not in url:
        found.append(f"{url}: HTTP {response.status}, not the page meant to be checked")
    return found


def test_axe_customer_pages(axe_page, site):
    found = []
    for path in CUSTOMER_PAGES:
        found += check(axe_page, site.url + path)
    assert found == [], "\n".join(found)


def test_axe_search_as_you_type_open(axe_page, site):
    axe_page.goto(site.url + "/")
    axe_page.locator("#q").click()
    axe_page.keyboard.type("refund")
    expect(axe_page.locator("#search-suggestions [role=option]").first).to_be_visible()
    axe_page.keyboard.press("ArrowDown")
    assert axe_violations(axe_page) == []
    axe_page.locator("#q").fill("zzqxwv")
    expect(axe_page.locator("#search-suggestions .search-none")).to_be_visible()
    assert axe_violations(axe_page) == []


@pytest.mark.parametrize("user", ["agent", "editor"])
def test_axe_staff_pages(axe_page, site, user):
    sign_in(axe_page, site.url, user)
    found = []
    for path in STAFF_PAGES:
        if user == "agent" and path.startswith(("/edit", "/new", "/manage", "/acks",
                                                "/proposals")):
            continue
        found += check(axe_page, site.url + path)
    assert found == [], "\n".join(found)


def test_combobox_roles_and_live_count(page, site):
    page.goto(site.url + "/")
    box = page.locator("#q")
    expect(box).to_have_attribute("role", "combobox")
    expect(box).to_have_attribute("aria-expanded", "false")
    listbox = page.locator("#" + box.get_attribute("aria-controls"))
    expect(listbox).to_have_attribute("role", "listbox")
    status = page.locator("#search-status")
    expect(status).to_have_attribute("aria-live", "polite")
    box.click()
    page.keyboard.type("refund")
    expect(listbox.locator("[role=option]").first).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(status).to_have_text(re.compile(r"^\d+ results?$"))
    page.keyboard.press("ArrowDown")
    active = box.get_attribute("aria-activedescendant")
    expect(page.locator(f"#{active}")).to_have_attribute("role", "option")
    expect(page.locator(f"#{active}")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    assert box.get_attribute("aria-activedescendant") is None


def test_skip_link_and_visible_focus(page, site):
    page.goto(site.url + "/policies/refunds")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0 and box["width"] > 20  # on screen
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()
    # Every link and button shows a focus ring, not only the ones tried above.
    for selector in ("header a.brand", "#q", "main a >> nth=0", "button[type=submit] >> nth=-1"):
        page.locator(selector).focus()
        style = page.evaluate("(() => { const s = getComputedStyle(document.activeElement);"
                              " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()")
        assert style[0] != "none" and style[1] >= 2, (selector, style)


def test_lang_on_every_page_type(page, site):
    for path in ("/", "/search?q=refund", "/login", "/no-such-page", "/faq/"):
        page.goto(site.url + path)
        assert page.evaluate("document.documentElement.lang") == "en", path


def no_sideways_scroll(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth,"
                         " document.documentElement.clientWidth]")


@pytest.mark.parametrize("width,zoom", [(320, 1), (1280, 2), (640, 2)])
def test_public_pages_fit_without_sideways_scrolling(browser, site, width, zoom):
    # 200 % zoom of a 1280 px window lays pages out like a 640 px one at twice the pixels:
    # Chromium's device scale factor is the browser zoom Playwright can set.
    context = browser.new_context(viewport={"width": width // zoom, "height": 800},
                                  device_scale_factor=zoom)
    try:
        page = context.new_page()
        too_wide = []
        for path in CUSTOMER_PAGES:
            page.goto(site.url + path)
            scroll, client = no_sideways_scroll(page)
            if scroll > client:
                too_wide.append(f"{path}: {scroll} > {client}")
        page.goto(site.url + "/")
        page.locator("#q").click()
        page.keyboard.type("refund")
        expect(page.locator("#search-suggestions [role=option]").first).to_be_visible()
        scroll, client = no_sideways_scroll(page)
        if scroll > client:
            too_wide.append(f"as-you-type list: {scroll} > {client}")
        assert too_wide == [], too_wide
    finally:
        context.close()


def test_wide_tables_scroll_inside_themselves(browser, site):
    context = browser.new_context(viewport={"width": 320, "height": 800})
    try:
        page = context.new_page()
        page.goto(site.url + "/policies/delivery")
        wrapper = page.locator(".content .table-scroll").first
        expect(wrapper).to_be_visible()
        sizes = wrapper.evaluate("el => [el.scrollWidth, el.clientWidth,"
                                 " getComputedStyle(el).overflowX]")
        assert sizes[0] > sizes[1] and sizes[2] == "auto", sizes
        expect(wrapper).to_have_attribute("tabindex", "0")  # keyboard users can scroll it
        assert no_sideways_scroll(page)[0] <= 320
    finally:
        context.close()


def test_reduced_motion_stops_animation(browser, site):
    context = browser.new_context(reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(site.url + "/policies/refunds#sec-late-claims")
        names = page.evaluate("getComputedStyle(document.getElementById('sec-late-claims'))"
                              ".animationName")
        assert names == "none"
        assert page.evaluate("getComputedStyle(document.documentElement).scrollBehavior") \
            != "smooth"
    finally:
        context.close()
    context = browser.new_context()
    try:  # and the animation is there for everyone else, so the check above means something
        page = context.new_page()
        page.goto(site.url + "/policies/refunds#sec-late-claims")
        assert page.evaluate("getComputedStyle(document.getElementById('sec-late-claims'))"
                             ".animationName") == "flash"
    finally:
        context.close()


def test_print_css_hides_navigation(page, site):
    page.goto(site.url + "/policies/refunds")
    page.emulate_media(media="print")
    expect(page.locator(".site-header")).to_be_hidden()
    expect(page.locator(".content")).to_be_visible()
    expect(page.locator(".site-footer .print-only")).to_be_visible()


def test_axe_reports_a_planted_violation(axe_page, site):
    """The checker itself works: a pale, unlabelled control on a real page is caught."""
    axe_page.goto(site.url + "/")
    axe_page.evaluate("""() => {
        const b = document.createElement('button');
        b.className = 'planted'; b.style.color = '#bbb';
        b.appendChild(document.createElement('svg'));
        const p = document.createElement('p'); p.textContent = 'pale text';
        p.style.color = '#ccc'; p.className = 'planted';
        document.querySelector('main').append(b, p);
    }""")
    found = " ".join(axe_violations(axe_page))
    assert "button-name" in found and "color-contrast" in found, found


CONTRAST_JS = """(selector) => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(c => { c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
    .reduce((a, c, i) => a + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => { for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c; }
    return [255, 255, 255]; };
  return [...document.querySelectorAll(selector)].map(el => {
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(background(el));
    return [el.className || el.tagName, (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)];
  });
}"""


def test_marks_badges_and_agents_only_callout_contrast(page, site):
    """>= 4.5:1 computed for the small coloured text axe may not meet on every page."""
    sign_in(page, site.url, "editor")
    seen = {}
    for path in ("/policies/refunds?hl=refund+late#sec-late-claims", "/policies/delivery",
                 "/manage?view=all", "/to-read", "/acks/policies/refunds", "/"):
        page.goto(site.url + path)
        for name, ratio in page.evaluate(CONTRAST_JS, ".badge, mark, .count, "
                                         ".admonition-title, .admonition p, .meta"):
            seen[name] = min(ratio, seen.get(name, 99))
    for wanted in ("search-hit", "badge internal", "badge warn", "admonition-title"):
        assert any(wanted in name.lower() for name in seen), (wanted, seen)
    low = {name: round(ratio, 2) for name, ratio in seen.items() if ratio < 4.5}
    assert low == {}, low


@pytest.mark.parametrize("path,charts", [
    ("/manage", ["reviews-due", "acks", "helpful"]),
    ("/manage/search", ["search-volume", "zero-results", "failing-queries"]),
    ("/acks/policies/refunds", ["ack-progress"]),
])
def test_charts_are_drawn_with_tables_and_print(page, site, path, charts):
    errors = collect_errors(page)
    sign_in(page, site.url, "editor")
    page.goto(site.url + path)
    for chart_id in charts:
        figure = page.locator(f"#chart-{chart_id}")
        svg = figure.locator("svg.chart-svg")
        expect(svg).to_be_visible()
        assert svg.bounding_box()["height"] > 50
        assert figure.locator(".bar, .dot").count() > 0
        table = figure.locator("table.chart-table")
        expect(table).to_be_hidden()  # one toggle away
        figure.locator("summary").click()
        expect(table).to_be_visible()
        assert table.locator("tbody tr").count() >= 1
        link = figure.locator(".chart-csv a")
        if link.count():
            with page.expect_download() as download:
                link.click()
            assert download.value.suggested_filename == f"{chart_id}.csv"
    page.emulate_media(media="print")
    expect(page.locator(f"#chart-{charts[0]} svg.chart-svg")).to_be_visible()
    assert errors == [], errors


def test_axe_editor_with_draft_offer_and_search_panel(axe_page, site):
    sign_in(axe_page, site.url, "editor")
    axe_page.goto(site.url + "/new")
    axe_page.evaluate("() => localStorage.clear()")
    axe_page.locator(".cm-content").click()
    axe_page.keyboard.type("A draft to offer back.")
    axe_page.wait_for_function("() => !!localStorage.getItem('kb-draft:/new')")
    axe_page.once("dialog", lambda d: d.accept())
    axe_page.reload()
    expect(axe_page.locator("#draft-offer")).to_be_visible()
    axe_page.locator(".cm-content").click()
    axe_page.keyboard.press("Control+f")
    expect(axe_page.locator(".cm-search")).to_be_visible()
    assert axe_violations(axe_page) == []
