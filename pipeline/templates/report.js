"use strict";
(function () {
  var root = document.documentElement;
  window.addEventListener("error", function (event) {
    root.setAttribute("data-js-errors", (root.getAttribute("data-js-errors") || "") + event.message + "\n");
  });

  function sortKey(cell) {
    var raw = cell.getAttribute("data-sort");
    var text = raw === null ? cell.textContent.trim() : raw;
    var number = Number(text);
    return text !== "" && !isNaN(number) ? { n: number } : { s: text.toLowerCase() };
  }

  function compare(a, b) {
    if ("n" in a && "n" in b) { return a.n - b.n; }
    var x = "s" in a ? a.s : String(a.n);
    var y = "s" in b ? b.s : String(b.n);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function makeSortable(table) {
    var headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(headers, function (th, index) {
      th.classList.add("sortable-th");
      th.tabIndex = 0;
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(headers, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var order = compare(sortKey(r1.cells[index]), sortKey(r2.cells[index]));
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  }

  function openEvidence(event) {
    var link = event.target.closest("a.cell-link");
    var panel = document.getElementById("panel");
    if (!link || !panel || typeof panel.showModal !== "function") { return; }
    var source = document.getElementById(link.getAttribute("href").slice(1));
    if (!source) { return; }
    event.preventDefault();
    var body = document.getElementById("panel-body");
    body.replaceChildren(source.cloneNode(true));
    body.firstChild.removeAttribute("id");
    panel.showModal();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), makeSortable);
  var matrix = document.getElementById("matrix-table");
  if (matrix) { matrix.addEventListener("click", openEvidence); }
  root.setAttribute("data-js-ok", "1");
})();
