// Sort a table by a header click (numbers with units compare as numbers), filter its rows
// from the box above it, show a capability cell's exact error under its matrix on a click
// (or Enter), and mark the section in view in the navigation. No network.
(function () {
  "use strict";
  var SCALE = {ns: 1e-9, "µs": 1e-6, ms: 1e-3, s: 1, B: 1, kB: 1e3, MB: 1e6, GB: 1e9};
  function key(text) {
    var m = /^\s*([-+]?[0-9.]+(?:e[-+]?[0-9]+)?)\s*(ns|µs|ms|s|B|kB|MB|GB)?\b/.exec(text);
    return m ? parseFloat(m[1]) * (SCALE[m[2]] || 1) : null;
  }
  function compare(a, b) {
    var x = key(a), y = key(b);
    if (x !== null && y !== null) { return x - y; }
    return a.localeCompare(b);
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var body = table.tBodies[0];
    table.querySelectorAll("thead th").forEach(function (th, column) {
      th.addEventListener("click", function () {
        var down = th.dataset.order === "asc";
        th.dataset.order = down ? "desc" : "asc";
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var d = compare(r.cells[column].textContent, s.cells[column].textContent);
          return down ? -d : d;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
    var box = table.parentElement.previousElementSibling;
    if (box && box.classList.contains("filter")) {
      box.addEventListener("input", function () {
        var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
        Array.prototype.forEach.call(body.rows, function (row) {
          var text = row.textContent.toLowerCase();
          row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
        });
      });
    }
  });
  document.querySelectorAll(".matrix table").forEach(function (table) {
    var box = table.parentElement, detail = null;
    var headers = table.tHead.rows[0].cells;
    function show(cell) {
      if (!detail) {
        detail = document.createElement("p");
        detail.className = "cap-detail";
        detail.setAttribute("aria-live", "polite");
        box.parentElement.insertBefore(detail, box.nextSibling);
      }
      var kind = cell.parentElement.cells[0].textContent;
      var serializer = headers[cell.cellIndex].textContent;
      detail.textContent = kind + " × " + serializer + ": " + cell.textContent.trim() +
        " — " + cell.title;
      table.querySelectorAll("td.picked").forEach(function (c) { c.classList.remove("picked"); });
      cell.classList.add("picked");
    }
    table.querySelectorAll("td[class^='cap-']").forEach(function (cell) {
      if (!cell.title) { return; }
      cell.tabIndex = 0;
      cell.addEventListener("click", function () { show(cell); });
      cell.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); show(cell); }
      });
    });
  });
  var links = {};
  document.querySelectorAll("nav a").forEach(function (a) { links[a.hash.slice(1)] = a; });
  if ("IntersectionObserver" in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        var link = links[entry.target.id];
        if (link && entry.isIntersecting) {
          Object.keys(links).forEach(function (id) { links[id].classList.remove("current"); });
          link.classList.add("current");
        }
      });
    }, {rootMargin: "-10% 0px -80% 0px"});
    document.querySelectorAll("main > section").forEach(function (s) { observer.observe(s); });
  }
}());
