// The console's only script (no inline scripts: the Content-Security-Policy allows none). Everything
// works without it; with it, the data table under each chart folds behind a button.
(function () {
  "use strict";
  function enhance() {
    var tables = document.querySelectorAll("[data-chart-table]");
    tables.forEach(function (wrapper) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "secondary table-toggle";
      button.setAttribute("aria-expanded", "false");
      button.setAttribute("aria-controls", wrapper.id);
      var show = wrapper.getAttribute("data-show") || "Show table";
      var hide = wrapper.getAttribute("data-hide") || "Hide table";
      button.textContent = show;
      wrapper.hidden = true;
      button.addEventListener("click", function () {
        var open = wrapper.hidden;
        wrapper.hidden = !open;
        button.setAttribute("aria-expanded", open ? "true" : "false");
        button.textContent = open ? hide : show;
      });
      wrapper.parentNode.insertBefore(button, wrapper);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();

// The questionnaire preview: after each answer, ask the server which items are shown and what it would
// say (the same page with ?state=1 answers in JSON), then show or hide the items. The conditions are
// evaluated by the server's own code; this script only applies its answer.
(function () {
  "use strict";
  function preview(form) {
    var timer = null;
    var asked = 0;
    function apply(state) {
      var enabled = {};
      state.enabled.forEach(function (name) { enabled[name] = true; });
      form.querySelectorAll("[data-item]").forEach(function (item) {
        var name = item.getAttribute("data-item");
        var on = enabled[name] === true;
        item.hidden = !on;
        item.querySelectorAll("fieldset").forEach(function (fieldset) { fieldset.disabled = !on; });
        var messages = state.errors[name] || [];
        var box = item.querySelector("[data-errors]");
        if (box) {
          box.textContent = messages.join("; ");
          box.hidden = messages.length === 0;
        }
      });
      form.setAttribute("data-state", String(asked));
    }
    function refresh() {
      var params = new URLSearchParams(new FormData(form));
      params.delete("check");
      params.set("state", "1");
      var mine = ++asked;
      fetch(form.action + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (state) { if (state && mine === asked) { apply(state); } })
        .catch(function () { /* the Update button still works */ });
    }
    function soon() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 120);
    }
    form.addEventListener("change", soon);
    form.addEventListener("input", soon);
  }
  function start() {
    document.querySelectorAll("form[data-preview]").forEach(preview);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
