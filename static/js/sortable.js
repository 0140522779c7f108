/* Click a column header of a table.sortable to sort by it (again to reverse). Cells may carry
 * data-sort with the value to sort by; numbers sort numerically, "–" last. */
document.addEventListener("click", function (event) {
  const th = event.target.closest("table.sortable th");
  if (!th) return;
  const table = th.closest("table");
  const index = Array.from(th.parentNode.children).indexOf(th);
  const ascending = th.dataset.order !== "asc";
  th.parentNode.querySelectorAll("th").forEach((h) => delete h.dataset.order);
  th.dataset.order = ascending ? "asc" : "desc";
  const value = (row) => {
    const cell = row.children[index];
    const raw = cell ? (cell.dataset.sort ?? cell.textContent.trim()) : "";
    const number = parseFloat(raw);
    return isNaN(number) ? raw : number;
  };
  const body = table.tBodies[0];
  Array.from(body.rows)
    .sort((a, b) => {
      const x = value(a), y = value(b);
      if (x === y) return 0;
      if (x === "–" || x === "") return 1;
      if (y === "–" || y === "") return -1;
      return (x < y ? -1 : 1) * (ascending ? 1 : -1);
    })
    .forEach((row) => body.appendChild(row));
});
