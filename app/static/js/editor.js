/* Live preview for the editor: posts the text to /preview (same render pipeline as pages). */
(function () {
  "use strict";
  var form = document.getElementById("editor");
  var body = document.getElementById("body");
  var out = document.getElementById("preview");
  if (!form || !body || !out) { return; }
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null;
  var seq = 0;
  function refresh() {
    var mine = ++seq;
    var data = new FormData();
    data.append("body", body.value);
    fetch(form.dataset.preview, {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": token }
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.status); }
      return res.json();
    }).then(function (json) {
      // sanitized: the server renders with the page pipeline and nh3 before sending it.
      if (mine === seq) { out.innerHTML = json.html; }
    }).catch(function () {
      if (mine === seq) { out.textContent = "Preview unavailable; your text is safe."; }
    });
  }
  body.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  refresh();
})();
