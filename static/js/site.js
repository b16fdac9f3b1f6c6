// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var box = document.getElementById("q");
    var typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName) ||
      document.activeElement.isContentEditable;
    if (event.key === "/" && box && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      box.focus();
      box.select();
    }
  });

  // Forms posted from public pages (feedback) carry no CSRF token in the page, so that the
  // page sets no cookie and can be cached: fetch one when the form is sent.  Without it the
  // server asks the visitor to confirm instead.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var field = form.querySelector && form.querySelector("input[name=csrf_token]");
    if (!form.dataset || !form.dataset.token || !field || field.value || !window.fetch) {
      return;
    }
    event.preventDefault();
    fetch(form.dataset.token, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (res) { return res.ok ? res.json() : {}; })
      .then(function (data) { field.value = data.token || ""; })
      .catch(function () { /* offline: the server's confirmation page takes over */ })
      .then(function () { form.submit(); });
  });
})();
