/* The task page: progressive step rating, keyboard first, every change saved as it is made.
 *
 * The server is the source of truth: the page starts from the saved draft (embedded as JSON),
 * and each rating or flag is sent with PUT .../draft/ (one request in flight at a time, the
 * latest state always wins) naming the draft revision it was based on. A save refused as
 * stale (another tab saved since) stops saving and says "Changed in another tab — reload";
 * one refused for the session waits for a login (in another tab) and resends with a fresh
 * CSRF token; one without an answer (timeout, offline, 503) is retried with backoff, honouring
 * Retry-After. Time counts only while the page is visible and is sent as an absolute total,
 * so retries and reloads never count it twice. Helpers: task-net.js (requests), task-keys.js
 * (which key means what), task-math.js (KaTeX), task-time.js (the clock and heartbeat). docs/annotators.md describes the behaviour.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;
  const FINISH_TEXT = {
    found_error: "You rated a step Negative: this labeling ends there (found an error).",
    solution: "Every step is rated and the final answer step is fine (solution).",
  };

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
      this.username = root.dataset.user;
      this.history = []; // the marks before each change made on this page, for undo
      this.initSaving();
      this.restoreLocal();
      this.next = null; // {id, html} or {none: true} once prefetched
      this.prefetching = null;
      this.endingKind = null;
      this.bind();
      SL.renderMath(root);
      this.render();
      this.focusStep(this.current(), false);
      this.heartbeat = setInterval(() => this.tick(), 1000);
      this.lastHeartbeat = performance.now();
      if (this.restored) this.changed(); // marks an earlier visit could not send: send them
    }

    destroy() {
      clearInterval(this.heartbeat);
      this.destroySaving();
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

    /* No change to the marks while a submit is in flight (it was sent with this revision) or
     * after it. */
    locked() {
      return this.submitted || Boolean(this.submitting);
    }

    remember() {
      this.history.push(this.marks.map((m) => ({ rating: m.rating, flagged: m.flagged })));
      if (this.history.length > 200) this.history.shift();
    }

    rate(index, rating) {
      if (this.locked() || index >= this.visibleCount()) return;
      if (this.marks[index].rating !== rating) this.remember();
      this.marks[index].rating = rating;
      if (rating === -1) {
        // A Negative ends the labeling: later steps are dropped and hidden again.
        for (let i = index + 1; i < this.count; i++) this.marks[i] = { rating: null, flagged: false };
      }
      this.changed();
      this.focusStep(this.finishReason() ? index : this.current(), true);
    }

    toggleFlag(index) {
      if (this.locked() || index >= this.visibleCount()) return;
      this.remember();
      this.marks[index].flagged = !this.marks[index].flagged;
      this.changed();
    }

    /* Undo the last change made on this page (a rating or a flag): the marks are exactly as
     * they were before it, including later ratings a Negative cleared. With no change made on
     * this page (just loaded), undo clears the last rating. docs/annotators.md, "Undo". */
    undo() {
      if (this.locked()) return;
      if (this.history.length) {
        const before = this.history.pop();
        this.marks = before;
        this.changed();
        this.focusStep(this.current(), true);
        return;
      }
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
      this.$("hint").hidden = true;
      this.renderTime();
    }

    /* --- time ------------------------------------------------------------------------ */

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
      this.bindCommon();
    }

    /* The controls both task pages have (phase1-events.js borrows this): submit, retry, the
     * keys dialog and the two endings with their reason form. */
    bindCommon() {
      this.$("submit").addEventListener("click", () => {
        const reason = this.finishReason();
        if (reason) this.submit(reason);
      });
      this.$("retry").addEventListener("click", () => this.retryNow());
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

    /* Keys (task-keys.js has the layout rule): none while a dialog is open; in the reason
     * form only Escape (close) and Enter / Ctrl+Enter (send; Shift+Enter is a newline); rating
     * keys never while the form is open or the focus is in a text field; a held key acts once. */
    onKey(event) {
      const target = event.target;
      const form = this.$("reason-form");
      if (target && target.nodeType === 1 && form.contains(target)) {
        if (event.key === "Escape") {
          event.preventDefault();
          this.closeEnding();
        } else if (target.tagName === "TEXTAREA" && SL.isSendReason(event)) {
          event.preventDefault();
          if (!event.repeat) form.requestSubmit();
        }
        return;
      }
      if (document.querySelector("dialog[open]")) return; // the dialog handles its own keys
      if (SL.inTextField(target)) return;
      const action = SL.keyAction(event);
      if (!action) return;
      const [name, value] = action;
      if (!form.hidden) {
        // the reason form is open and the focus is elsewhere: no rating, Escape closes it
        if (name === "close") {
          event.preventDefault();
          this.closeEnding();
        }
        return;
      }
      if (
        name === "submit" && target && (target.tagName === "BUTTON" || target.tagName === "A") &&
        !target.closest("li.step")
      ) {
        // the focused button's or link's own Enter (Retry, Submit, Give up, …); a rating or
        // flag button keeps the focus after a click, but Enter there is the page's Enter
        // (submit), never a second click that would undo the mark
        return;
      }
      event.preventDefault();
      if (event.repeat && !SL.isRepeatable(action)) return; // auto-repeat of a held key
      if (name === "help") {
        this.$("keys").showModal();
        return;
      }
      if (name === "move") {
        this.focusStep((this.focusIndex || 0) + value, true);
        return;
      }
      if (this.locked()) return; // a submit in flight: the marks it was sent with stay
      const index = this.focusIndex === null ? this.current() : this.focusIndex;
      if (name === "rate") this.rate(index, value);
      else if (name === "flag") this.toggleFlag(index);
      else if (name === "undo") this.undo();
      else if (name === "give_up" || name === "bad_problem") this.openEnding(name);
      else if (name === "submit") this.submitByKey();
    }

    submitByKey() {
      if (this.blocked === "stale") {
        this.showHint(
          "This tab is blocked: the task was changed in another tab or window. Reload to " +
            "continue with the saved ratings."
        );
        return;
      }
      const reason = this.finishReason();
      if (reason) {
        this.submit(reason);
        return;
      }
      const step = this.current() + 1;
      this.showHint(
        "Not finished yet: rate step " + step + " first (1 Negative · 2 Neutral · 3 Positive), " +
        "or give up (g) / report a bad problem (b)."
      );
    }

    showHint(text) {
      const hint = this.$("hint");
      hint.textContent = text;
      hint.hidden = false;
    }
  }

  Object.assign(Task.prototype, SL.timing, SL.saving, SL.submitting);
  SL.Task = Task; // phase1.js borrows the endings and small helpers

  /* "3 done today · 993 waiting" */
  function showProgress(root, done) {
    const el = root.querySelector('[data-role="progress"]');
    if (!el) return;
    el.dataset.done = String(done);
    el.textContent = done + " done today · " + el.dataset.waiting + " waiting";
  }

  let task = null;

  function start(root) {
    if (task) task.destroy();
    if (!root) task = null;
    else task = root.dataset.mode === "phase1" ? new SL.Phase1Task(root) : new Task(root);
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
    // The next task's page was rendered before this submit counted: count it here.
    const before = old.querySelector('[data-role="progress"]');
    const after = fresh.querySelector('[data-role="progress"]');
    if (before && after) {
      showProgress(fresh, Math.max(Number(after.dataset.done), Number(before.dataset.done) + 1));
    }
    old.replaceWith(fresh);
    document.title = "Task " + fresh.dataset.assignment + " · Step labeling";
    window.history.pushState({}, "", url);
    window.scrollTo(0, 0);
    start(fresh);
  }

  SL.swapIn = swapIn;

  document.addEventListener("keydown", (event) => task && task.onKey(event));
  document.addEventListener("visibilitychange", () => task && task.onVisibility());
  window.addEventListener("pagehide", () => task && task.onLeave());
  window.addEventListener("popstate", () => window.location.reload());
  window.addEventListener("DOMContentLoaded", () => start(document.getElementById("task-root")));
})();
