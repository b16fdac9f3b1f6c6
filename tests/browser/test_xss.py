"""The XSS regression table rendered by the live server and opened in real Chromium.

A trap replaces alert/confirm/prompt before any page script runs and records calls; page
dialogs are recorded too; CSP violations are recorded, because the sanitizer alone must stop
every vector (the CSP is the second line, not the first).  Then the DOM is inspected: no
``on*`` attribute, no script URL, no active element the allow-list does not know.
"""

from __future__ import annotations

import pytest

from tests.xss_vectors import VECTORS, browser_documents

TRAP = """
window.__xss = [];
window.__csp = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = function (message) { window.__xss.push(name + ":" + String(message)); };
}
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push(event.violatedDirective + " " + event.blockedURI);
});
"""

INSPECT = """
() => {
  const bad = [];
  const risky = /^(javascript|vbscript|data|livescript):/;
  const invisible = new RegExp("[\\u0000-\\u0020\\u007f-\\u009f\\u00ad\\u200b-\\u200f" +
                               "\\u2028-\\u202e\\u2060-\\u206f\\ufeff]", "g");
  const clean = (v) => (v || "").replace(invisible, "").toLowerCase();
  const urlAttrs = ["href", "src", "action", "formaction", "xlink:href", "srcset", "data",
                    "to", "from", "values"];
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) bad.push(el.tagName + " " + name);
      if (urlAttrs.includes(name) && risky.test(clean(attr.value))) {
        bad.push(el.tagName + " " + name + "=" + attr.value);
      }
      if (name === "style") bad.push(el.tagName + " style");
    }
  }
  const content = document.querySelector(".content");
  const active = "script, iframe, object, embed, base, meta, link, style, form, svg, math, " +
                 "template, frame, frameset";
  for (const el of content.querySelectorAll(active)) {
    bad.push("element " + el.tagName);
  }
  const scripts = [...document.scripts].map((s) => s.src);
  if (scripts.some((src) => !src.includes("/static/"))) bad.push("script " + scripts.join(","));
  return bad;
}
"""

DOCUMENTS = browser_documents()


def test_every_vector_is_on_a_page():
    covered = sorted(i for _, (text, _) in DOCUMENTS.items() for i in range(len(VECTORS))
                     if f"xss-before-{i}\n" in text)
    assert covered == list(range(len(VECTORS)))
    assert len(DOCUMENTS) <= 10  # a few page loads, not one per vector


@pytest.mark.parametrize("path", sorted(DOCUMENTS))
def test_no_script_runs_in_chromium(browser, live_server, path):
    _text, sentinels = DOCUMENTS[path]
    context = browser.new_context()
    context.add_init_script(TRAP)
    page = context.new_page()
    dialogs, errors = [], []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        url = live_server.url + "/" + path.removesuffix(".md")
        response = page.goto(url, wait_until="load")
        assert response.status == 200
        body = page.locator(".content").inner_text()
        for i in sentinels:  # every vector on the page was really rendered
            assert f"xss-sentinel-{i}" in body
        # Give timers, animations (SVG onbegin) and lazy loads a moment to fire.
        page.wait_for_timeout(300)
        page.mouse.move(10, 10)
        for link in page.locator(".content a").all()[:50]:
            link.hover(timeout=2000)
        assert page.evaluate("window.__xss") == []
        assert dialogs == []
        assert page.evaluate("window.__csp") == []
        assert page.evaluate(INSPECT) == []
        assert errors == []
    finally:
        context.close()


def test_trap_and_inspector_detect_script(browser):
    """The checks above can fail: they see a handler, a script URL and a called alert."""
    context = browser.new_context()
    context.add_init_script(TRAP)
    page = context.new_page()
    try:
        page.set_content('<div class="content"><a href="java\u200bscript:alert(1)" '
                         'onclick="alert(2)">x</a><svg></svg></div>')
        page.evaluate("alert(3)")
        assert page.evaluate("window.__xss") == ["alert:3"]
        found = page.evaluate(INSPECT)
        assert "A onclick" in found and "element svg" in found
        assert any(item.startswith("A href=") for item in found)
    finally:
        context.close()
