/* The editor page: CodeMirror 6 over the body textarea, a formatting toolbar with shortcuts,
   a live preview that follows the scroll, a local draft, and a warning before leaving with
   unsaved changes.  Progressive enhancement: without JavaScript (or without the vendored
   CodeMirror bundle) the plain textarea and the Save button do everything.

   The textarea stays the form field: CodeMirror is a view over it.  Every edit is copied back
   to the textarea, and anything typed into the textarea (an assistive tool, a test) is copied
   into CodeMirror, so the form always submits what the author sees. */
(function () {
  "use strict";
  var form = document.getElementById("editor");
  if (!form) { return; }
  var body = document.getElementById("body");
  var out = document.getElementById("preview");
  var advice = document.getElementById("clarity");
  var audience = form.querySelector("[name=audience]");
  var audienceNote = document.getElementById("audience-note");
  var token = form.querySelector("input[name=csrf_token]").value;
  var CM = window.PortalCodeMirror;
  var view = null;
  var DRAFT_KEY = "kb-draft:" + window.location.pathname;
  var SKIP = {csrf_token: true, base_rev: true};

  function text() { return view ? view.state.doc.toString() : body.value; }

  // -- live preview --------------------------------------------------------------------------
  var timer = null, seq = 0;
  function refresh() {
    var mine = ++seq;
    var data = new FormData();
    data.append("body", text());
    if (audience) { data.append("audience", audience.value); }
    fetch(form.dataset.preview, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": token }
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.status); }
      return res.json();
    }).then(function (json) {
      // sanitized: the server renders with the page pipeline and nh3 before sending it.
      if (mine === seq) { out.innerHTML = json.html; showAdvice(json.findings || []); followScroll(); }
    }).catch(function () {
      if (mine === seq) { out.textContent = "Preview unavailable; your text is safe."; }
    });
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 300); }

  // Clarity advice never blocks a save: it is a list of hints next to the preview.
  function showAdvice(findings) {
    if (!advice) { return; }
    advice.replaceChildren();
    var heading = document.createElement("h2");
    heading.textContent = findings.length ? "Clarity: " + findings.length + " suggestion" +
      (findings.length === 1 ? "" : "s") : "Clarity: no suggestions";
    advice.appendChild(heading);
    var list = document.createElement("ul");
    findings.forEach(function (f) {
      var item = document.createElement("li");
      var what = document.createElement("strong");
      what.textContent = f.message;
      item.appendChild(what);
      if (f.hint) { item.appendChild(document.createTextNode(" — " + f.hint)); }
      if (f.excerpt && f.excerpt !== f.message) {
        var quote = document.createElement("q");
        quote.textContent = f.excerpt.length > 160 ? f.excerpt.slice(0, 157) + "…" : f.excerpt;
        item.appendChild(document.createElement("br"));
        item.appendChild(quote);
      }
      list.appendChild(item);
    });
    advice.appendChild(list);
  }

  // The preview pane scrolls to the same place, proportionally, as the text.
  function followScroll() {
    if (!view) { return; }
    var pane = out.closest(".preview");
    var s = view.scrollDOM, range = s.scrollHeight - s.clientHeight;
    var ratio = range > 0 ? s.scrollTop / range : 0;
    pane.scrollTop = ratio * (pane.scrollHeight - pane.clientHeight);
  }

  // -- the audience switch says who will see the page ----------------------------------------
  function sayAudience() {
    if (!audience || !audienceNote) { return; }
    var pub = audience.value === "public";
    audienceNote.textContent = pub ? audienceNote.dataset.public : audienceNote.dataset.internal;
    audienceNote.className = "audience-note " + (pub ? "public" : "internal");
  }

  // -- formatting commands -------------------------------------------------------------------
  function wrapInline(before, after, placeholder) {
    return function (v) {
      v.dispatch(v.state.changeByRange(function (range) {
        var inner = v.state.sliceDoc(range.from, range.to) || placeholder;
        var start = range.from + before.length;
        return {changes: {from: range.from, to: range.to, insert: before + inner + after},
                range: CM.EditorSelection.range(start, start + inner.length)};
      }));
      v.focus();
      return true;
    };
  }

  // Prefix every line the selection touches (headings replace any heading marks there).
  function linePrefix(prefix, numbered) {
    return function (v) {
      var state = v.state, changes = [], seen = {};
      state.selection.ranges.forEach(function (range) {
        var n = 1;
        for (var pos = range.from; pos <= range.to;) {
          var line = state.doc.lineAt(pos);
          if (!seen[line.number]) {
            seen[line.number] = true;
            var existing = /^(#{1,6} |[-*+] |\d+\. )?/.exec(line.text)[0];
            var add = numbered ? (n++) + ". " : prefix;
            changes.push({from: line.from, to: line.from + existing.length, insert: add});
          }
          pos = line.to + 1;
        }
      });
      v.dispatch({changes: changes});
      v.focus();
      return true;
    };
  }

  // A block on lines of its own: the selected lines go inside, or a placeholder does.
  function block(open, close, placeholder, indent) {
    return function (v) {
      v.dispatch(v.state.changeByRange(function (range) {
        var doc = v.state.doc;
        var from = range.empty ? range.from : doc.lineAt(range.from).from;
        var to = range.empty ? range.to : doc.lineAt(range.to).to;
        var inner = v.state.sliceDoc(from, to) || placeholder;
        if (indent) { inner = inner.split("\n").map(function (l) { return indent + l; }).join("\n"); }
        // A blank line before the block, unless one is there already.
        var before = doc.sliceString(Math.max(0, from - 2), from);
        var lead = from === 0 || before === "\n\n" ? "" : (before.slice(-1) === "\n" ? "\n" : "\n\n");
        var insert = lead + open + "\n" + inner + (close ? "\n" + close : "") + "\n";
        var start = from + lead.length + open.length + 1;
        return {changes: {from: from, to: to, insert: insert},
                range: CM.EditorSelection.range(start, start + inner.length)};
      }));
      v.focus();
      return true;
    };
  }

  var TABLE = "| Column | Column |\n| --- | --- |\n| Text | Text |";
  var COMMANDS = [
    {id: "h2", label: "Heading", key: "Mod-Alt-2", run: linePrefix("## ")},
    {id: "h3", label: "Subheading", key: "Mod-Alt-3", run: linePrefix("### ")},
    {id: "bold", label: "Bold", key: "Mod-b", run: wrapInline("**", "**", "bold text")},
    {id: "ul", label: "Bulleted list", key: "Mod-Shift-8", run: linePrefix("- ")},
    {id: "ol", label: "Numbered list", key: "Mod-Shift-7", run: linePrefix("", true)},
    {id: "link", label: "Link", key: "Mod-k", run: wrapInline("[", "](https://)", "link text")},
    {id: "table", label: "Table", key: "Mod-Alt-t", run: block(TABLE.split("\n")[0],
      "", TABLE.split("\n").slice(1).join("\n"))},
    {id: "note", label: "Note box", key: "Mod-Alt-n", run: block("!!! note \"Note\"", "",
      "Text of the note.", "    ")},
    {id: "internal", label: "Agents-only block", key: "Mod-Alt-i", run: block("::: internal",
      ":::", "Only agents see this.")}
  ];

  function keyLabel(key) {
    var mac = /Mac|iPhone|iPad/.test(navigator.platform);
    return key.replace("Mod", mac ? "Cmd" : "Ctrl").split("-").join("+");
  }

  function toolbar() {
    var bar = document.createElement("div");
    bar.className = "md-toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", "Formatting");
    bar.setAttribute("aria-controls", "body-editor");
    COMMANDS.forEach(function (c, i) {
      var b = document.createElement("button");
      b.type = "button";
      b.dataset.cmd = c.id;
      b.textContent = c.label;
      b.title = c.label + " (" + keyLabel(c.key) + ")";
      b.setAttribute("aria-keyshortcuts", c.key.replace("Mod", "Control").split("-").join("+"));
      b.tabIndex = i === 0 ? 0 : -1;  // one tab stop; arrow keys move along the bar
      if (c.id === "internal") { b.className = "internal"; }
      b.addEventListener("click", function () { c.run(view); });
      bar.appendChild(b);
    });
    bar.addEventListener("keydown", function (e) {
      var buttons = Array.prototype.slice.call(bar.querySelectorAll("button"));
      var i = buttons.indexOf(document.activeElement);
      if (i < 0) { return; }
      var next = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: buttons.length - 1}[e.key];
      if (next === undefined) { return; }
      e.preventDefault();
      next = (next + buttons.length) % buttons.length;
      buttons[i].tabIndex = -1;
      buttons[next].tabIndex = 0;
      buttons[next].focus();
    });
    return bar;
  }

  // -- local draft and the leave warning ------------------------------------------------------
  function snapshot() {
    var fields = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || SKIP[el.name] || el.type === "submit") { return; }
      fields[el.name] = el.type === "checkbox" ? el.checked : (el.name === "body" ? text() : el.value);
    });
    return fields;
  }
  var initial = JSON.stringify(snapshot());
  var submitting = false;
  function dirty() { return !submitting && JSON.stringify(snapshot()) !== initial; }

  var draftTimer = null;
  function keepDraft() {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(function () {
      try {
        if (dirty()) {
          localStorage.setItem(DRAFT_KEY, JSON.stringify({
            fields: snapshot(), base_rev: form.elements.base_rev.value, at: Date.now()}));
        } else {
          localStorage.removeItem(DRAFT_KEY);
        }
      } catch (e) { /* storage full or disabled: the form itself still works */ }
    }, 400);
  }

  // The draft keeps the revision it was written against: saving it then goes through the
  // server's three-way merge instead of silently undoing someone else's newer save.
  function restore(fields, baseRev) {
    if (baseRev) { form.elements.base_rev.value = baseRev; }
    Object.keys(fields).forEach(function (name) {
      var el = form.elements[name];
      if (!el || name === "body") { return; }
      if (el.type === "checkbox") { el.checked = !!fields[name]; } else { el.value = fields[name]; }
    });
    setText(fields.body || "");
    sayAudience();
    refresh();
  }

  function offerDraft() {
    var box = document.getElementById("draft-offer");
    var saved = null;
    try { saved = JSON.parse(localStorage.getItem(DRAFT_KEY) || "null"); } catch (e) { saved = null; }
    if (!box || !saved || !saved.fields || JSON.stringify(saved.fields) === initial) { return; }
    var when = new Date(saved.at);
    var p = document.createElement("p");
    p.textContent = "This browser kept a draft of this page that was not saved (" +
      when.toLocaleString() + "). ";
    var yes = document.createElement("button");
    yes.type = "button"; yes.className = "restore-draft"; yes.textContent = "Restore the draft";
    var no = document.createElement("button");
    no.type = "button"; no.className = "discard-draft"; no.textContent = "Discard it";
    yes.addEventListener("click", function () {
      restore(saved.fields, saved.base_rev); box.hidden = true; if (view) { view.focus(); } keepDraft();
    });
    no.addEventListener("click", function () {
      try { localStorage.removeItem(DRAFT_KEY); } catch (e) { /* nothing kept */ }
      box.hidden = true;
      if (view) { view.focus(); } else { body.focus(); }
    });
    p.append(yes, " ", no);
    box.replaceChildren(p);
    box.hidden = false;
  }

  function changed() { later(); keepDraft(); }

  // -- CodeMirror ----------------------------------------------------------------------------
  function setText(value) {
    if (view) {
      view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: value}});
    } else {
      body.value = value;
    }
  }

  function nonce() {
    var meta = document.querySelector("meta[name=csp-nonce]");
    return meta ? meta.nonce || meta.getAttribute("nonce") || "" : "";
  }

  function startCodeMirror() {
    var t = CM.tags;
    var style = CM.HighlightStyle.define([  // every colour >= 4.5:1 on white
      {tag: [t.heading1, t.heading2, t.heading3, t.heading4], fontWeight: "700", color: "#1f5fa8"},
      {tag: t.strong, fontWeight: "700"},
      {tag: t.emphasis, fontStyle: "italic"},
      {tag: [t.link, t.url], color: "#1f5fa8", textDecoration: "underline"},
      {tag: t.monospace, color: "#9b1c1c"},
      {tag: t.quote, color: "#1e6b3a"},
      {tag: [t.processingInstruction, t.meta, t.contentSeparator], color: "#5b6472"},
      {tag: t.list, color: "#1d2430"}
    ]);
    var keys = COMMANDS.map(function (c) { return {key: c.key, run: c.run, preventDefault: true}; });
    var host = document.createElement("div");
    host.className = "cm-host";
    body.parentNode.insertBefore(toolbar(), body);
    body.parentNode.insertBefore(host, body.nextSibling);
    view = new CM.EditorView({
      parent: host,
      state: CM.EditorState.create({
        doc: body.value,
        extensions: [
          CM.EditorView.cspNonce.of(nonce()),
          CM.history(), CM.drawSelection(), CM.highlightSpecialChars(), CM.indentOnInput(),
          CM.highlightActiveLine(), CM.highlightSelectionMatches(), CM.search({top: true}),
          CM.markdown({base: CM.markdownLanguage}), CM.syntaxHighlighting(style),
          CM.EditorView.lineWrapping,
          CM.keymap.of(keys.concat(CM.searchKeymap, CM.historyKeymap, CM.defaultKeymap)),
          CM.EditorView.contentAttributes.of({"aria-labelledby": "body-label", id: "body-editor",
                                              spellcheck: "true", "aria-multiline": "true"}),
          CM.EditorView.updateListener.of(function (u) {
            if (u.docChanged) { body.value = u.state.doc.toString(); changed(); }
          })
        ]
      })
    });
    view.scrollDOM.addEventListener("scroll", followScroll, {passive: true});
    // The textarea stays in the form (and in sync) but out of sight, focus and the a11y tree.
    body.classList.add("cm-mirror");
    body.tabIndex = -1;
    body.setAttribute("aria-hidden", "true");
    body.addEventListener("input", function () {
      if (body.value !== view.state.doc.toString()) { setText(body.value); }
    });
    document.getElementById("body-label").addEventListener("click", function (e) {
      e.preventDefault(); view.focus();
    });
    form.classList.add("cm-active");
  }

  if (CM && CM.EditorView) {
    startCodeMirror();
  } else {
    body.addEventListener("input", changed);
  }
  if (audience) {
    if (audienceNote) { audience.setAttribute("aria-describedby", "audience-note"); }
    audience.addEventListener("change", function () { sayAudience(); refresh(); });
  }
  form.addEventListener("input", function (e) { if (e.target !== body) { keepDraft(); } });
  form.addEventListener("change", keepDraft);
  form.addEventListener("submit", function () {
    submitting = true;  // a failed save shows this text again, from the server
    try { localStorage.removeItem(DRAFT_KEY); } catch (e) { /* nothing kept */ }
  });
  window.addEventListener("beforeunload", function (e) {
    if (dirty()) { e.preventDefault(); e.returnValue = ""; }
  });
  sayAudience();
  offerDraft();
  refresh();
})();
