/* Tells the editor, as they type, whether saving publishes at once or makes a proposal. */
(function () {
  "use strict";
  var form = document.getElementById("editor");
  var out = document.getElementById("gate");
  if (!form || !out || !form.dataset.gate) { return; }
  var token = form.querySelector("input[name=csrf_token]").value;
  var timer = null;
  var seq = 0;
  function refresh() {
    var mine = ++seq;
    fetch(form.dataset.gate, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRFToken": token }
    }).then(function (res) {
      if (!res.ok) { throw new Error(res.status); }
      return res.json();
    }).then(function (json) {
      if (mine === seq) {
        out.textContent = json.message;
        out.dataset.gated = json.gated ? "yes" : "no";
      }
    }).catch(function () { /* the server-side message stays */ });
  }
  function later() { clearTimeout(timer); timer = setTimeout(refresh, 400); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
