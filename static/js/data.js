// The import form: upload through the API with a progress bar, then follow the import job
// (records read / total) and show its per-line error report. Without JavaScript the form
// posts to the page, which queues the same job.
(function () {
  const form = document.querySelector("[data-import-form]");
  if (!form) return;
  const box = document.querySelector("[data-import-status]");
  const bar = box.querySelector("[data-import-progress]");
  const percent = box.querySelector("[data-import-percent]");
  const phase = box.querySelector("[data-import-phase]");
  const summary = box.querySelector("[data-import-summary]");
  const errors = box.querySelector("[data-import-errors]");
  const csrf = form.querySelector("[name=csrfmiddlewaretoken]").value;

  function show(done, total) {
    if (total) {
      bar.max = total;
      bar.value = done;
      percent.textContent = Math.floor((100 * done) / total) + "%";
    } else {
      bar.removeAttribute("value");
      percent.textContent = done ? done + " records" : "";
    }
  }

  function follow(url) {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then((r) => r.json())
      .then((job) => {
        phase.textContent = "Import " + job.status;
        show(job.progress, job.total);
        if (job.status === "done") {
          summary.textContent = job.summary;
          refreshJobs();
        } else if (job.status === "failed") {
          summary.textContent = job.error;
          errors.replaceChildren(
            ...job.errors.map((e) => Object.assign(document.createElement("li"), { textContent: e }))
          );
          refreshJobs();
        } else {
          setTimeout(() => follow(url), 1000);
        }
      });
  }

  function refreshJobs() {
    if (window.htmx) htmx.ajax("GET", location.pathname + "?part=jobs", { target: "#jobs", swap: "outerHTML" });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData();
    data.append("project", form.dataset.project);
    data.append("kind", form.querySelector("[name=import-kind]").value);
    const generation = form.querySelector("[name=import-generation]").value;
    if (generation !== "") data.append("generation", generation);
    data.append("file", form.querySelector("[name=import-file]").files[0]);
    box.hidden = false;
    errors.replaceChildren();
    summary.textContent = "";
    phase.textContent = "Uploading";
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.api);
    xhr.setRequestHeader("X-CSRFToken", csrf);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (e) => show(e.loaded, e.lengthComputable ? e.total : 0));
    xhr.addEventListener("load", () => {
      const body = JSON.parse(xhr.responseText || "{}");
      if (xhr.status === 201) {
        phase.textContent = "Import queued";
        show(0, null);
        follow(form.dataset.api + body.id + "/");
      } else {
        phase.textContent = "Upload refused";
        summary.textContent = Object.entries(body).map(([k, v]) => k + ": " + v).join("; ");
      }
    });
    xhr.addEventListener("error", () => { phase.textContent = "Upload failed"; });
    xhr.send(data);
  });
})();
