/* Home: Enter starts labeling in the first project (unless focus is on another control). */
document.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target && target !== document.body && target.tagName !== "HTML") return;
  const form = document.querySelector("form[data-start]");
  if (form) {
    event.preventDefault();
    form.requestSubmit();
  }
});
