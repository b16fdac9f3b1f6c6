// Search as you type (ARIA combobox), result click logging, and highlighting on the target
// page.  Progressive enhancement: without this file the box is a plain GET form.
(function () {
  "use strict";
  // As-you-type requests (answers take a few milliseconds): the first keystroke after a
  // pause asks at once, later ones at most every THROTTLE_MS, and never more than one request
  // is in flight: keystrokes made while it is out are sent as one request for the latest
  // text when it answers.  A request out for STALE_MS while newer text waits is cancelled.
  // Anonymous readers share a per-address search limit (KB_SEARCH_LIMIT), so their box asks
  // less often: the form's data-throttle says how often (staff: every 50 ms).
  var THROTTLE_MS = 50, STALE_MS = 1500;
  // The live region announces the count once typing has paused, not on every answer.
  var ANNOUNCE_MS = 700;

  // Server snippets are escaped text with <mark> tags; rebuild them as DOM nodes, keeping
  // only text and <mark>, so nothing else from a response can become markup.
  function snippetNodes(html, parent) {
    var doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
    doc.body.firstChild.childNodes.forEach(function (node) {
      if (node.nodeType === 3) {
        parent.appendChild(document.createTextNode(node.textContent));
      } else if (node.nodeName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        parent.appendChild(mark);
      }
    });
  }

  // Public pages hold no CSRF token (it would need a session cookie, and a page with one
  // cannot be cached): the first click fetches one.  Staff pages carry theirs (data-csrf).
  var tokenRequest = null;
  function csrfToken(form) {
    if (form.dataset.csrf) { return Promise.resolve(form.dataset.csrf); }
    if (!tokenRequest) {
      tokenRequest = fetch(form.dataset.token, {credentials: "same-origin",
                                                headers: {"Accept": "application/json"}})
        .then(function (res) { return res.ok ? res.json() : {}; })
        .then(function (data) { return data.token || ""; })
        .catch(function () { tokenRequest = null; return ""; });
    }
    return tokenRequest;
  }

  // Resolves once the click is on its way; keepalive lets it outlive the page.
  function logClick(form, payload) {
    return csrfToken(form).then(function (token) {
      if (!token) { return; }
      try {
        fetch(form.dataset.click, {
          method: "POST", keepalive: true, credentials: "same-origin",
          headers: {"Content-Type": "application/json", "X-CSRFToken": token},
          body: JSON.stringify(payload)
        }).catch(function () {});
      } catch (e) { /* analytics must never stop navigation */ }
    });
  }

  // Navigate once the click is logged, or after a second at most.
  function goAfter(sent, url) {
    var gone = false;
    function go() {
      if (!gone) { gone = true; window.location.assign(url); }
    }
    sent.then(go, go);
    setTimeout(go, 1000);
  }

  function setupBox(form) {
    var input = form.querySelector("#q");
    var list = form.querySelector("#search-suggestions");
    var status = form.querySelector("#search-status");
    var asCustomer = form.querySelector("input[name=as]");
    var timer = null, announceTimer = null, controller = null, sentAt = -Infinity;
    var pending = false, active = -1, items = [], lastQuery = "";
    var throttle = Number(form.dataset.throttle) || THROTTLE_MS;

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function clear() {
      pending = false;
      if (controller) { controller.abort(); controller = null; }
      clearTimeout(timer);
      clearTimeout(announceTimer);
      input.value = "";
      list.replaceChildren();
      items = [];
      lastQuery = "";
      status.textContent = "";
      close();
    }

    function setActive(index) {
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({block: "nearest"});
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function open(li) {
      goAfter(logClick(form, {q: lastQuery, url: li.dataset.url}), li.dataset.link);
    }

    function render(data) {
      list.replaceChildren();
      items = [];
      data.results.forEach(function (r) {
        var li = document.createElement("li");
        li.id = "search-opt-" + items.length;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.className = "search-option";
        li.dataset.link = r.link;
        li.dataset.url = r.url;
        var title = document.createElement("span");
        title.className = "option-title";
        title.textContent = r.title;
        li.appendChild(title);
        if (r.sections.length && r.sections[0].heading) {
          var sec = document.createElement("span");
          sec.className = "option-section";
          sec.textContent = " › " + r.sections[0].heading;
          li.appendChild(sec);
        }
        var snip = document.createElement("span");
        snip.className = "option-snippet";
        snippetNodes(r.snippet, snip);
        li.appendChild(snip);
        li.addEventListener("mousedown", function (e) { e.preventDefault(); open(li); });
        list.appendChild(li);
        items.push(li);
      });
      if (!items.length) {
        var none = document.createElement("li");
        none.className = "search-none";
        none.id = "search-none";
        none.setAttribute("role", "option");  // a listbox holds only options: a disabled one
        none.setAttribute("aria-disabled", "true");
        none.setAttribute("aria-selected", "false");
        none.textContent = data.suggestion ? "No results. Did you mean " + data.suggestion + "?" : "No results.";
        list.appendChild(none);
      }
      announce(data.count + " result" + (data.count === 1 ? "" : "s"));
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
      setActive(-1);
    }

    function announce(text) {
      clearTimeout(announceTimer);
      announceTimer = setTimeout(function () { status.textContent = text; }, ANNOUNCE_MS);
    }

    function typed() {
      // Keep a trailing space: it tells the server the last word is finished (a word
      // at the very end is also completed: "refu" finds "refund").
      return input.value.replace(/^\s+/, "");
    }

    // Ask now if allowed, else once the throttle or the request in flight lets it.
    function schedule() {
      clearTimeout(timer);
      if (controller) {
        pending = true;
        var left = sentAt + STALE_MS - performance.now();
        if (left <= 0) { controller.abort(); } else { timer = setTimeout(schedule, left); }
        return;
      }
      var wait = sentAt + throttle - performance.now();
      if (wait > 0) { timer = setTimeout(schedule, wait); } else { query(); }
    }

    function query() {
      var q = typed();
      pending = false;
      if (!q.trim()) { clear(); return; }
      var mine = controller = new AbortController();
      sentAt = performance.now();
      // One section per result: the list shows only the best one (the others' snippets
      // are then never made).
      var url = form.dataset.api + "?limit=8&sections=1&q=" + encodeURIComponent(q) +
        (asCustomer ? "&as=customer" : "");
      fetch(url, {signal: mine.signal, credentials: "same-origin",
                  headers: {"Accept": "application/json"}})
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (data) {
          // Only the answer for the text in the box now is shown: never an older one.
          if (data && mine === controller && typed() === q) { lastQuery = q; render(data); }
        })
        .catch(function () { /* cancelled (stale, or the box was cleared), or offline */ })
        .then(function () {
          if (mine !== controller) { return; }  // cleared meanwhile: nothing to follow up
          controller = null;
          if (pending && typed() !== lastQuery) { schedule(); } else { pending = false; }
        });
    }

    input.addEventListener("input", schedule);
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown" && items.length) {
        e.preventDefault();
        if (list.hidden) { list.hidden = false; input.setAttribute("aria-expanded", "true"); }
        setActive((active + 1) % items.length);
      } else if (e.key === "ArrowUp" && items.length) {
        e.preventDefault();
        setActive(active <= 0 ? items.length - 1 : active - 1);
      } else if (e.key === "Enter" && active >= 0 && !list.hidden) {
        e.preventDefault();
        open(items[active]);
      } else if (e.key === "Escape") {
        e.preventDefault();
        clear();
      }
    });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
  }

  function setupResultsPage(form) {
    var results = document.querySelector(".search-results");
    if (!results || !results.dataset.logId) { return; }
    results.addEventListener("click", function (e) {
      var link = e.target.closest("a");
      if (!link) { return; }
      var url = new URL(link.href, window.location.href);
      var sent = logClick(form, {log_id: results.dataset.logId, url: url.pathname + url.hash});
      if (e.button !== 0 || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey) {
        return;  // opened elsewhere: this page stays, and so does the request
      }
      e.preventDefault();
      goAfter(sent, link.href);
    });
  }

  // On a document: mark the searched words inside the content and the section landed on.
  function highlightTarget() {
    var content = document.querySelector(".content");
    var params = new URLSearchParams(window.location.search);
    var words = (params.get("hl") || "").toLowerCase().split(/\s+/).filter(function (w) {
      return w.length > 1 && w.length < 60;
    }).slice(0, 12);
    if (content && words.length) {
      var escaped = words.map(function (w) { return w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); });
      var pattern = new RegExp("\\b(" + escaped.join("|") + ")\\b", "gi");
      var walker = document.createTreeWalker(content, NodeFilter.SHOW_TEXT);
      var nodes = [];
      while (walker.nextNode()) { nodes.push(walker.currentNode); }
      nodes.forEach(function (node) {
        var text = node.nodeValue;
        pattern.lastIndex = 0;
        if (!pattern.test(text)) { return; }
        pattern.lastIndex = 0;
        var frag = document.createDocumentFragment(), last = 0, m;
        while ((m = pattern.exec(text)) !== null) {
          frag.appendChild(document.createTextNode(text.slice(last, m.index)));
          var mark = document.createElement("mark");
          mark.className = "search-hit";
          mark.textContent = m[0];
          frag.appendChild(mark);
          last = m.index + m[0].length;
        }
        frag.appendChild(document.createTextNode(text.slice(last)));
        node.parentNode.replaceChild(frag, node);
      });
    }
    var id = decodeURIComponent(window.location.hash.slice(1));
    var target = id && content ? document.getElementById(id) : null;
    if (target && content.contains(target)) {
      target.classList.add("search-target");
      var sib = target.nextElementSibling;
      while (sib && !/^H[12]$/.test(sib.tagName)) {
        sib.classList.add("search-target-body");
        sib = sib.nextElementSibling;
      }
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("form.search-box");
    if (form && window.fetch && window.AbortController) {
      setupBox(form);
      setupResultsPage(form);
    }
    highlightTarget();
  });
})();
