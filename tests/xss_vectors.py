"""XSS regression table shared by the unit tests and the real-browser tests."""

VECTORS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<iframe src=javascript:alert(1)></iframe>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\u200bscript:alert(1))",
    "[x](java&#x09;script:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "![x](data:image/svg+xml,<svg onload=alert(1)>)",
    "<javascript:alert(1)>",
    "[x](//evil.example/steal)",
    "[x](\\\\evil.example)",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<style>body{background:url(javascript:alert(1))}</style>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<details open ontoggle=alert(1)>x</details>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<object data=javascript:alert(1)></object>",
    "<embed src=javascript:alert(1)>",
    "<meta http-equiv=refresh content=\"0;url=javascript:alert(1)\">",
    "<base href=javascript:alert(1)//>",
    "<a href=\"#\" onclick=\"alert(1)\">x</a>",
    "<<script>script>alert(1)<</script>/script>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "`<img src=x onerror=alert(1)>`",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "Text[^1]\n\n[^1]: <img src=x onerror=alert(1)>",
    "<h2 id=\"q\">clobber the search box id</h2>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"jav&#x0A;ascript:alert(1)\">x</a>",
    "<img src=\"x\" srcset=\"javascript:alert(1)\">",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<template><img src=x onerror=alert(1)></template>",
    "[x](  javascript:alert(1))",
    "<https://example.com/\"onmouseover=\"alert(1)>",
    # --- Markdown-specific: link and image URLs with entities and escapes
    "[x](javascript&colon;alert(1))",
    "[x](&#0000106;&#0000097;vascript:alert(1))",
    "[x](java&#9;script:alert(1))",
    "[x](&#x6a;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3a;alert(1))",
    "![x](&#106;avascript:alert(1))",
    "[x](java%73cript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](java\\script:alert(1))",
    "[x](/ok \"a\\\" onmouseover=\\\"alert(1)\")",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "[x][r]\n\n[r]: <javascript:alert(1)> \"title\"",
    "![x][img]\n\n[img]: javascript:alert(1)",
    # --- zero-width and invisible characters inside the scheme
    "[x](\u200bjavascript:alert(1))",
    "[x](javascript\u200c:alert(1))",
    "[x](\ufeffjavascript:alert(1))",
    "[x](java\u00adscript:alert(1))",
    "[x](ｊａｖａｓｃｒｉｐｔ:alert(1))",
    # --- data: and vbscript:
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](DATA:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](VBScript:msgbox(1))",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    # --- attr_list-style injection
    "# Title {: onclick=\"alert(1)\" }",
    "[x](/ok){: onmouseover=alert(1) }",
    "Para\n{: style=\"background:url(javascript:alert(1))\" onclick=alert(1) }",
    "![x](/i.png){: onerror=alert(1) }",
    "Text {: #q .x onclick=alert(1)}",
    "[x](/ok){: href=javascript:alert(1) }",
    "## Heading {#\"><img src=x onerror=alert(1)>}",
    # --- nested HTML
    "<div markdown=\"1\">[x](javascript:alert(1))</div>",
    "<div><p><a href=\"javascript:alert(1)\">x</a></p></div>",
    "<p><svg><p><style><img src=x onerror=alert(1)>",
    "<table><tr><td><img src=x onerror=alert(1)></td></tr></table>",
    "<div><div><div><iframe srcdoc=\"<script>alert(1)</script>\"></iframe></div></div></div>",
    # --- SVG
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<svg><set attributeName=\"href\" to=\"javascript:alert(1)\"/></svg>",
    "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
    "<svg><use href=\"data:image/svg+xml,<svg id='x' onload='alert(1)'/>#x\"/></svg>",
    # --- autolinks
    "<vbscript:msgbox(1)>",
    "<data:text/html,<script>alert(1)</script>>",
    "https://example.com/\"onmouseover=\"alert(1)",
    "<mailto:\"><img src=x onerror=alert(1)>@example.com>",
    "<https://example.com/<img src=x onerror=alert(1)>>",
    # --- footnotes
    "Text[^x]\n\n[^x]: [y](javascript:alert(1))",
    "Text[^\"onmouseover=alert(1)\"]\n\n[^\"onmouseover=alert(1)\"]: x",
    "Text[^1]\n\n[^1]: <svg onload=alert(1)>",
    # --- tables
    "| [x](javascript:alert(1)) |\n|---|\n| y |",
    "| a |\n|---|\n| <svg onload=alert(1)> |",
    "| a | b |\n|---|---|\n| `x` | <a href=javascript:alert(1)>y</a> |",
    # --- other extensions
    "!!! note \"<img src=x onerror=alert(1)>\"\n    body",
    "Term\n:   <img src=x onerror=alert(1)>",
    "```\"><img src=x onerror=alert(1)>\nx\n```",
    "- [x] <img src=x onerror=alert(1)>",
    "*[HTML]: <img src=x onerror=alert(1)>\n\nHTML",
    # --- the "Agents only" callout faked in raw HTML (only ``::: internal`` makes it)
    "<div class=\"admonition agents-only\"><p class=\"admonition-title\">Agents only</p>"
    "Fake internal note</div>",
    "<p class='agents-only'>x</p>",
    "<div class=\"agents&#45;only admonition\">entity-encoded class</div>",
    "<div class=\"admonition\nagents-only\">newline between classes</div>",
    "<div class=\"kb-callout-0123456789abcdef01234567 admonition\">guessed mark</div>",
    "<span class=\"admonition-title headerlink site-header\">classes of other tags</span>",
]


def browser_documents(per_page: int = 25) -> dict[str, tuple[str, list[int]]]:
    """The table as a few public documents for the real-browser test.

    Returns {content path: (Markdown, indexes of the vectors whose sentinel must show)}.
    Each vector sits between ``xss-before-N`` and ``xss-sentinel-N`` paragraphs.  A vector that
    swallows the rest of its document (an unclosed raw-HTML construct) gets a page of its own,
    so it cannot hide the vectors after it.
    """
    from app.content.render import render

    def chunk(i: int, vector: str) -> str:
        return f"xss-before-{i}\n\n{vector}\n\nxss-sentinel-{i}\n\n"

    def intact(group: list[int]) -> bool:
        html = render("".join(chunk(i, VECTORS[i]) for i in group)).html
        return all(f"xss-sentinel-{i}" in html for i in group)

    alone: list[int] = []
    groups: list[list[int]] = [[]]
    for i in range(len(VECTORS)):
        if not intact([i]):
            alone.append(i)
        elif len(groups[-1]) < per_page and intact([*groups[-1], i]):
            groups[-1].append(i)
        else:
            groups.append([i])
    shared = {i for group in groups for i in group}
    docs = {}
    for number, group in enumerate(groups + [[i] for i in alone]):
        body = "".join(chunk(i, VECTORS[i]) for i in group)
        text = f"---\ntitle: XSS page {number}\naudience: public\n---\n{body}"
        docs[f"policies/xss-{number}.md"] = (text, [i for i in group if i in shared])
    return docs
