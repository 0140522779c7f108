/* The task page: progressive step rating, keyboard first, every change saved as it is made.
 *
 * The server is the source of truth: the page starts from the saved draft (embedded as JSON),
 * and each rating or flag is sent with PUT .../draft/ (one request in flight at a time, the
 * latest state always wins). Time counts only while the page is visible and is sent as an
 * absolute total, so retries and reloads never count it twice.
 */
(function () {
  "use strict";

  const RATING_KEYS = { "1": -1, "-": -1, "2": 0, "0": 0, "3": 1, "+": 1 };
  const HEARTBEAT_MS = 15000;
  const RETRY_DELAYS_MS = [1000, 3000, 10000, 30000];
  const FINISH_TEXT = {
    found_error: "You rated a step Negative: this labeling ends there (found an error).",
    solution: "Every step is rated and the final answer step is fine (solution).",
  };

  function csrfToken() {
    const headers = document.body.getAttribute("hx-headers");
    try {
      return JSON.parse(headers)["X-CSRFToken"];
    } catch (e) {
      return "";
    }
  }

  function renderMath(element) {
    if (!window.renderMathInElement) return;
    // Answers are bare TeX (MATH's convention, e.g. "1\pm\sqrt{19}") unless they carry
    // delimiters; render those whole.
    element.querySelectorAll(".tex").forEach(function (node) {
      const source = node.textContent;
      if (/[$]|\\\(|\\\[/.test(source) || !window.katex) return;
      try {
        window.katex.render(source, node, { throwOnError: false, trust: false, strict: "ignore" });
      } catch (e) {
        node.textContent = source;
      }
    });
    element.querySelectorAll(".math").forEach(function (node) {
      window.renderMathInElement(node, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "\\(", right: "\\)", display: false },
          { left: "$", right: "$", display: false },
        ],
        throwOnError: false, // a bad formula shows as its source, never breaks the page
        trust: false,
        strict: "ignore",
      });
    });
  }

  function formatDuration(ms) {
    const seconds = Math.floor(ms / 1000);
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
  }

  class Task {
    constructor(root) {
      this.root = root;
      this.state = JSON.parse(root.querySelector("#task-state").textContent);
      this.id = this.state.id;
      this.api = root.dataset.api;
      this.home = root.dataset.home;
      this.project = Number(root.dataset.project);
      this.count = this.state.steps.length;
      this.marks = [];
      for (let i = 0; i < this.count; i++) {
        const saved = this.state.draft.steps[i];
        this.marks.push({
          rating: saved ? saved.rating : null,
          flagged: saved ? Boolean(saved.flagged) : false,
        });
      }
      // Submitted, or abandoned (its hold expired and the slot went to someone else): read-only.
      this.submitted = this.state.status !== "draft";
      this.baseTime = this.state.draft.total_time_ms || 0;
      this.visibleMs = 0;
      this.visibleSince = document.visibilityState === "visible" ? performance.now() : null;
      this.focusIndex = null;
      this.inFlight = false;
      this.dirty = false;
      this.failures = 0;
      this.retryTimer = null;
      this.next = null; // {id, html} or {none: true} once prefetched
      this.prefetching = null;
      this.endingKind = null;
      this.bind();
      renderMath(root);
      this.render();
      this.focusStep(this.current(), false);
      this.heartbeat = setInterval(() => this.tick(), 1000);
      this.lastHeartbeat = performance.now();
    }

    destroy() {
      clearInterval(this.heartbeat);
      clearTimeout(this.retryTimer);
    }

    $(role) {
      return this.root.querySelector('[data-role="' + role + '"]');
    }

    stepElements() {
      return Array.from(this.root.querySelectorAll("li.step"));
    }

    /* --- the rules (kept in step with labeling/rating_rules.py) ------------------------- */

    negativeAt() {
      return this.marks.findIndex((m) => m.rating === -1);
    }

    current() {
      const negative = this.negativeAt();
      if (negative >= 0) return negative;
      const unrated = this.marks.findIndex((m) => m.rating === null);
      return unrated >= 0 ? unrated : this.count - 1;
    }

    finishReason() {
      if (this.negativeAt() >= 0) return "found_error";
      if (this.count && this.marks.every((m) => m.rating === 0 || m.rating === 1)) {
        return "solution";
      }
      return null;
    }

    visibleCount() {
      const negative = this.negativeAt();
      if (negative >= 0) return negative + 1;
      const unrated = this.marks.findIndex((m) => m.rating === null);
      return unrated >= 0 ? unrated + 1 : this.count;
    }

    /* --- actions ---------------------------------------------------------------------- */

    rate(index, rating) {
      if (this.submitted || index >= this.visibleCount()) return;
      this.marks[index].rating = rating;
      if (rating === -1) {
        // A Negative ends the labeling: later steps are dropped and hidden again.
        for (let i = index + 1; i < this.count; i++) this.marks[i] = { rating: null, flagged: false };
      }
      this.changed();
      this.focusStep(this.finishReason() ? index : this.current(), true);
    }

    toggleFlag(index) {
      if (this.submitted || index >= this.visibleCount()) return;
      this.marks[index].flagged = !this.marks[index].flagged;
      this.changed();
    }

    undo() {
      if (this.submitted) return;
      let last = -1;
      this.marks.forEach((m, i) => {
        if (m.rating !== null) last = i;
      });
      if (last < 0) return;
      this.marks[last].rating = null;
      this.changed();
      this.focusStep(last, true);
    }

    changed() {
      this.render();
      this.save();
      if (this.finishReason()) this.prefetchNext();
    }

    focusStep(index, moveFocus) {
      const visible = this.visibleCount();
      this.focusIndex = Math.max(0, Math.min(index, visible - 1));
      this.stepElements().forEach((el, i) => el.classList.toggle("focused", i === this.focusIndex));
      const el = this.stepElements()[this.focusIndex];
      if (el && moveFocus) {
        el.focus({ preventScroll: true });
        el.scrollIntoView({ block: "nearest" });
      }
    }

    /* --- rendering -------------------------------------------------------------------- */

    render() {
      const visible = this.visibleCount();
      const current = this.current();
      this.stepElements().forEach((el, i) => {
        el.hidden = i >= visible;
        const mark = this.marks[i];
        el.classList.toggle("current", i === current && !this.finishReason());
        el.dataset.rating = mark.rating === null ? "" : String(mark.rating);
        el.querySelectorAll("button.rate").forEach((button) => {
          button.setAttribute(
            "aria-pressed",
            String(mark.rating !== null && Number(button.dataset.rating) === mark.rating)
          );
          button.disabled = this.submitted;
        });
        const flag = el.querySelector('[data-role="flag"]');
        flag.setAttribute("aria-pressed", String(mark.flagged));
        flag.disabled = this.submitted;
      });
      const reason = this.finishReason();
      const finish = this.$("finish");
      finish.hidden = this.submitted || !reason;
      if (reason) this.$("finish-text").textContent = FINISH_TEXT[reason];
      this.$("done").hidden = !this.submitted;
      this.$("other-endings").hidden = this.submitted;
      this.renderTime();
    }

    setSaveState(state, text) {
      const el = this.$("save-status");
      el.dataset.state = state;
      el.textContent = text;
      this.$("retry").hidden = state !== "error";
    }

    /* --- saving ----------------------------------------------------------------------- */

    totalTime() {
      const running = this.visibleSince === null ? 0 : performance.now() - this.visibleSince;
      return Math.round(this.baseTime + this.visibleMs + running);
    }

    renderTime() {
      this.$("timer").textContent = formatDuration(this.totalTime());
    }

    payload() {
      return JSON.stringify({
        steps: this.marks.map((m) => ({ rating: m.rating, flagged: m.flagged })),
        total_time_ms: this.totalTime(),
      });
    }

    request(method, url, body, keepalive) {
      return fetch(url, {
        method: method,
        credentials: "same-origin",
        keepalive: Boolean(keepalive),
        headers: {
          "Content-Type": "application/json",
          Accept: "application/json",
          "X-CSRFToken": csrfToken(),
        },
        body: body,
      });
    }

    save() {
      if (this.submitted) return Promise.resolve(true);
      this.dirty = true;
      return this.flush();
    }

    flush() {
      if (this.inFlight) return this.inFlight;
      if (!this.dirty) return Promise.resolve(true);
      this.dirty = false;
      this.setSaveState("saving", "Saving…");
      clearTimeout(this.retryTimer);
      this.inFlight = this.request("PUT", this.api + "draft/", this.payload())
        .then((response) => {
          if (response.ok) {
            return response.json().then((data) => {
              // Another tab, or a beacon from before a reload, may have stored more time.
              const behind = (data.total_time_ms || 0) - this.totalTime();
              if (behind > 0) this.baseTime += behind;
              return true;
            });
          }
          return response.json().then(
            (data) => {
              const error = new Error(data.detail || response.statusText);
              error.conflict = response.status === 409; // expired hold or already submitted
              return Promise.reject(error);
            },
            () => Promise.reject(new Error(response.statusText))
          );
        })
        .then(() => {
          this.inFlight = false;
          this.failures = 0;
          this.lastHeartbeat = performance.now();
          if (this.dirty) return this.flush();
          this.setSaveState("saved", "Saved");
          return true;
        })
        .catch((error) => {
          this.inFlight = false;
          this.dirty = true; // what failed is still to be saved
          this.failures += 1;
          this.setSaveState("error", "Not saved: " + (error.message || "network error"));
          if (error.conflict) {
            // Retrying cannot help; reloading takes the task back if it is still free.
            this.reloadOnRetry = true;
            return false;
          }
          const delay = RETRY_DELAYS_MS[Math.min(this.failures - 1, RETRY_DELAYS_MS.length - 1)];
          this.retryTimer = setTimeout(() => this.flush(), delay);
          return false;
        });
      return this.inFlight;
    }

    tick() {
      this.renderTime();
      if (!this.submitted && this.visibleSince !== null &&
          performance.now() - this.lastHeartbeat > HEARTBEAT_MS && !this.inFlight) {
        this.lastHeartbeat = performance.now();
        this.save(); // keeps the saved time current
      }
    }

    onVisibility() {
      if (document.visibilityState === "visible") {
        if (this.visibleSince === null) this.visibleSince = performance.now();
      } else {
        this.onLeave();
      }
    }

    onLeave() {
      // Hidden, or the page is going away (reload, close, navigation): stop the clock and send
      // the time with keepalive so it survives the page. (Not while a save is in flight: that
      // one carries the same ratings and must not be overtaken.)
      if (this.visibleSince !== null) {
        this.visibleMs += performance.now() - this.visibleSince;
        this.visibleSince = null;
      }
      if (!this.submitted && !this.inFlight) {
        this.request("PUT", this.api + "draft/", this.payload(), true).catch(() => {});
      }
    }

    /* --- submitting and the next task ------------------------------------------------ */

    prefetchNext() {
      if (this.next || this.prefetching) return this.prefetching;
      this.prefetching = this.request(
        "POST", "/api/assignments/next/", JSON.stringify({ project: this.project, exclude: [this.id] })
      )
        .then((response) => {
          if (response.status === 204) {
            return { none: true, reason: response.headers.get("X-No-Task-Reason") || "" };
          }
          if (!response.ok) throw new Error(response.statusText);
          return response.json().then((data) =>
            fetch("/tasks/" + data.id + "/", {
              credentials: "same-origin",
              headers: { "HX-Request": "true" },
            })
              .then((page) => (page.ok ? page.text() : Promise.reject(new Error(page.statusText))))
              .then((html) => ({ id: data.id, html: html }))
          );
        })
        .then((next) => {
          this.next = next;
          this.prefetching = null;
          return next;
        })
        .catch(() => {
          this.prefetching = null;
          return null;
        });
      return this.prefetching;
    }

    submit(finishReason, reason) {
      if (this.submitted || this.submitting) return;
      this.submitting = true;
      const button = this.$("submit");
      button.disabled = true;
      this.flush()
        .then((saved) => {
          if (!saved) throw new Error("your ratings are not saved yet");
          return this.request(
            "POST",
            this.api + "submit/",
            JSON.stringify({ finish_reason: finishReason, reason: reason || "", total_time_ms: this.totalTime() })
          );
        })
        .then((response) => {
          if (!response.ok) {
            return response.json().then((data) => {
              throw new Error(data.detail || JSON.stringify(data));
            });
          }
          this.submitted = true;
          this.setSaveState("saved", "Submitted");
          this.render();
          return this.goNext();
        })
        .catch((error) => {
          this.setSaveState("error", "Not submitted: " + error.message);
          this.$("retry").hidden = true;
        })
        .finally(() => {
          this.submitting = false;
          button.disabled = false;
        });
    }

    goNext() {
      const ready = this.next ? Promise.resolve(this.next) : this.prefetchNext();
      return ready.then((next) => {
        if (next && next.html) {
          swapIn(next.html, "/tasks/" + next.id + "/");
        } else if (next && next.none) {
          window.location.assign(
            this.home + "?finished=" + this.project + "&reason=" + encodeURIComponent(next.reason)
          );
        } else {
          window.location.assign(this.home);
        }
      });
    }

    openEnding(kind) {
      this.endingKind = kind;
      const form = this.$("reason-form");
      form.hidden = false;
      this.$("reason-label").textContent =
        kind === "give_up" ? "Why are you giving up?" : "What is wrong with the problem?";
      this.$("reason-submit").textContent = kind === "give_up" ? "Give up" : "Report bad problem";
      this.$("reason-error").hidden = true;
      form.querySelector("textarea").focus();
    }

    closeEnding() {
      this.$("reason-form").hidden = true;
      this.endingKind = null;
      this.focusStep(this.focusIndex || 0, true);
    }

    /* --- events ----------------------------------------------------------------------- */

    bind() {
      this.stepElements().forEach((el, i) => {
        el.querySelectorAll("button.rate").forEach((button) =>
          button.addEventListener("click", () => {
            this.focusStep(i, false);
            this.rate(i, Number(button.dataset.rating));
          })
        );
        el.querySelector('[data-role="flag"]').addEventListener("click", () => this.toggleFlag(i));
      });
      this.$("submit").addEventListener("click", () => {
        const reason = this.finishReason();
        if (reason) this.submit(reason);
      });
      this.$("retry").addEventListener("click", () => {
        if (this.reloadOnRetry) {
          window.location.reload();
          return;
        }
        this.failures = 0;
        this.flush();
      });
      this.$("show-keys").addEventListener("click", () => this.$("keys").showModal());
      this.$("open-give_up").addEventListener("click", () => this.openEnding("give_up"));
      this.$("open-bad_problem").addEventListener("click", () => this.openEnding("bad_problem"));
      this.$("reason-cancel").addEventListener("click", () => this.closeEnding());
      this.$("reason-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const text = this.$("reason-form").querySelector("textarea").value.trim();
        if (!text) {
          const error = this.$("reason-error");
          error.textContent = "Please give a short reason.";
          error.hidden = false;
          return;
        }
        this.prefetchNext();
        this.submit(this.endingKind, text);
      });
    }

    onKey(event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target;
      const typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT");
      if (typing) {
        if (event.key === "Escape") this.closeEnding();
        return;
      }
      if (this.$("keys").open) return; // the dialog handles its own keys
      const key = event.key;
      if (key === "?") {
        event.preventDefault();
        this.$("keys").showModal();
        return;
      }
      if (this.submitted) return;
      if (key in RATING_KEYS) {
        event.preventDefault();
        this.rate(this.focusIndex === null ? this.current() : this.focusIndex, RATING_KEYS[key]);
      } else if (key === "f" || key === "F") {
        event.preventDefault();
        this.toggleFlag(this.focusIndex === null ? this.current() : this.focusIndex);
      } else if (key === "u" || key === "U" || key === "Backspace") {
        event.preventDefault();
        this.undo();
      } else if (key === "ArrowUp" || key === "ArrowLeft") {
        event.preventDefault();
        this.focusStep((this.focusIndex || 0) - 1, true);
      } else if (key === "ArrowDown" || key === "ArrowRight") {
        event.preventDefault();
        this.focusStep((this.focusIndex || 0) + 1, true);
      } else if (key === "Enter") {
        if (target && target.tagName === "BUTTON") return; // the button's own click
        const reason = this.finishReason();
        if (reason) {
          event.preventDefault();
          this.submit(reason);
        }
      }
    }
  }

  let task = null;

  function start(root) {
    if (task) task.destroy();
    task = root ? new Task(root) : null;
    window.stepLabelingTask = task; // for debugging and tests
  }

  function swapIn(html, url) {
    const holder = document.createElement("div");
    holder.innerHTML = html;
    const fresh = holder.querySelector("#task-root");
    const old = document.getElementById("task-root");
    if (!fresh || !old) {
      window.location.assign(url);
      return;
    }
    old.replaceWith(fresh);
    document.title = "Task " + fresh.dataset.assignment + " · Step labeling";
    window.history.pushState({}, "", url);
    window.scrollTo(0, 0);
    start(fresh);
  }

  document.addEventListener("keydown", (event) => task && task.onKey(event));
  document.addEventListener("visibilitychange", () => task && task.onVisibility());
  window.addEventListener("pagehide", () => task && task.onLeave());
  window.addEventListener("popstate", () => window.location.reload());
  window.addEventListener("DOMContentLoaded", () => start(document.getElementById("task-root")));
})();
