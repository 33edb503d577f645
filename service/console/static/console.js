// The console's own script (served by the service, the CSP allows no other): keyboard
// shortcuts. A page marks its rows with data-row and a row's actions with data-key="a" (the
// button the key presses); a page without rows marks the section whose data-key buttons the
// keys press with data-keys. j/k move, Enter opens the row, ? shows or hides the help, Esc
// leaves a text field.
(function () {
  "use strict";

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("[data-row]"));
  }

  function current() {
    return document.querySelector("[data-row].selected");
  }

  function select(row) {
    var previous = current();
    if (previous) previous.classList.remove("selected");
    if (row) {
      row.classList.add("selected");
      row.scrollIntoView({block: "nearest"});
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var index = all.indexOf(current());
    var next = index < 0 ? 0 : Math.min(all.length - 1, Math.max(0, index + step));
    select(all[next]);
  }

  function press(key) {
    var scope = current() || document.querySelector("[data-keys]");
    if (!scope) return false;
    var target = scope.querySelector('[data-key="' + key + '"]');
    if (!target) return false;
    target.click();
    return true;
  }

  function typing(event) {
    var tag = event.target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.target.isContentEditable;
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event)) return;
    var key = event.key;
    if (key === "j") { move(1); event.preventDefault(); return; }
    if (key === "k") { move(-1); event.preventDefault(); return; }
    if (key === "Enter" && current()) {
      var link = current().querySelector("a[href]");
      if (link) { link.click(); event.preventDefault(); }
      return;
    }
    if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help) { help.hidden = !help.hidden; event.preventDefault(); }
      return;
    }
    if (press(key)) event.preventDefault();
  });

  // After an htmx swap the rows are new: select the first one again.
  document.addEventListener("htmx:afterSettle", function () {
    if (!current() && rows().length) select(rows()[0]);
  });
  document.addEventListener("DOMContentLoaded", function () {
    if (rows().length) select(rows()[0]);
  });
})();
