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
