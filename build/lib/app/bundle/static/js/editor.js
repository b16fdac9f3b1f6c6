/* Live preview for the editor: posts the text to /preview (same render pipeline as pages). */
(function () {
  "use strict";
  var form = document.getElementById("editor");
  var body = document.getElementById("body");
  var out = document.getElementById("preview");
  var advice = document.getElementById("clarity");
  var audience = form.querySelector("[name=audience]");
  if (!form || !body || !out) { return; }
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null;
  var seq = 0;
  function refresh() {
    var mine = ++seq;
    var data = new FormData();
    data.append("body", body.value);
    if (audience) { data.append("audience", audience.value); }
    fetch(form.dataset.preview, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": token }
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.status); }
      return res.json();
    }).then(function (json) {
      // sanitized: the server renders with the page pipeline and nh3 before sending it.
      if (mine === seq) { out.innerHTML = json.html; showAdvice(json.findings || []); }
    }).catch(function () {
      if (mine === seq) { out.textContent = "Preview unavailable; your text is safe."; }
    });
  }
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
  if (audience) { audience.addEventListener("change", function () { refresh(); }); }
  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  refresh();
})();
