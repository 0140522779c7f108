/* The phase-1 task page (docs/phase1.md): at each step, rate every proposed next step, then
 * continue with one of them or with your own; keyboard first, one hand.
 *
 * The draft is a list of *positions*, one per step, as the server stores them
 * (labeling/phase1_rules.py): {ratings: [-1|0|1|null], flagged: [bool], chosen: int|null,
 * human: str|null, shown: int}. It is saved with PUT .../phase1/ by the same saving code as
 * phase 2 (task-save.js: one request in flight, revisions, 409 on a stale draft, retries, local
 * copy, time) and submitted by task-submit.js. The alternatives' texts come from the server only:
 * the task state has those of every stored position and of the open one; each save answers
 * the next open position (`open`), which may be "pending" while the generator has not
 * proposed anything for the path taken: the page then shows a wait and polls GET .../phase1/,
 * and the annotator may write their own step meanwhile. Rendering: phase1-view.js; clicks and
 * keys: phase1-events.js.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;
  const POLL_MS = 2500;
  const ANSWER_MARKER = "# Answer\n\n";
  // Borrowed from the phase-2 Task (labeling.js): the common controls, endings, small
  // helpers. The clock is task-time.js, the events and keys phase1-events.js.
  const BORROWED = ["$", "bindCommon", "openEnding", "showHint", "locked"];
  // Phase 1's own versions of what the saving mixin (task-save.js) also defines.
  const OWN = ["draftUrl", "marksJson", "takeMarks", "unsentChanges"];

  const blank = SL.phase1Blank; // phase1-view.js: an unrated position of n proposals

  function continued(position) {
    return position.chosen !== null || position.human !== null;
  }

  class Phase1Task {
    constructor(root) {
      this.root = root;
      this.state = JSON.parse(root.querySelector("#task-state").textContent);
      this.id = this.state.id;
      this.api = root.dataset.api;
      this.phase1Api = root.dataset.phase1;
      this.home = root.dataset.home;
      this.project = Number(root.dataset.project);
      this.username = root.dataset.user;
      this.positions = this.state.draft.positions.map((p) => Object.assign(blank(0), p));
      // shown[i]: the texts proposed at position i on the current path
      this.shown = this.state.draft.steps.map((s) => (s.completions || []).map((c) => c.text));
      this.submitted = this.state.status !== "draft";
      this.open = this.state.open;
      this.takeOpen(this.open);
      this.baseTime = this.state.draft.total_time_ms || 0;
      this.visibleMs = 0;
      this.visibleSince = document.visibilityState === "visible" ? performance.now() : null;
      this.history = [];
      this.refusedOwn = null; // {index, text, problem}: an own step the server refused
      this.highlight = 0;
      this.initSaving();
      this.restoreLocal();
      this.next = null;
      this.prefetching = null;
      this.endingKind = null;
      this.pollTimer = null;
      this.bind();
      SL.renderMath(root.querySelector(".problem"));
      this.highlight = this.firstUnrated();
      this.render();
      this.heartbeat = setInterval(() => this.tick(), 1000);
      this.lastHeartbeat = performance.now();
      if (this.restored) this.changed();
    }

    destroy() {
      clearInterval(this.heartbeat);
      clearTimeout(this.pollTimer);
      this.destroySaving();
    }

    /* --- the state ---------------------------------------------------------------------- */

    /* The position being worked on: the first one not continued (or past the last). */
    openIndex() {
      const at = this.positions.findIndex((p) => !continued(p));
      return at >= 0 ? at : this.positions.length;
    }

    /* The texts shown at the open position, or null while the server has not said. */
    openTexts() {
      const texts = this.shown[this.openIndex()];
      return texts === undefined ? null : texts;
    }

    /* The open position's entry, made (all unrated) when it has alternatives to rate. */
    entry() {
      const at = this.openIndex();
      if (!this.positions[at]) this.positions[at] = blank((this.openTexts() || []).length);
      return this.positions[at];
    }

    pathTexts() {
      const texts = [];
      for (let i = 0; i < this.positions.length; i++) {
        const p = this.positions[i];
        if (!continued(p)) break;
        const proposal = (this.shown[i] || [])[p.chosen];
        texts.push(p.human !== null ? p.human : proposal === undefined ? "" : proposal);
      }
      return texts;
    }

    finishReason() {
      const path = this.pathTexts();
      if (!path.length || this.openIndex() !== this.positions.length) return null;
      return path[path.length - 1].lastIndexOf(ANSWER_MARKER) >= 0 ? "solution" : null;
    }

    firstUnrated() {
      const texts = this.openTexts() || [];
      const p = this.positions[this.openIndex()];
      if (!p) return 0;
      const at = texts.findIndex((t, j) => p.ratings[j] === null || p.ratings[j] === undefined);
      return at >= 0 ? at : Math.min(this.highlight, Math.max(texts.length - 1, 0));
    }

    /* A server's word on the open position: remember its texts when they are ready. */
    takeOpen(open) {
      this.open = open;
      if (open && open.status === "ready") this.shown[open.position] = open.alternatives;
      clearTimeout(this.pollTimer);
      this.pollTimer = null;
      if (open && open.status === "pending" && !this.submitted) {
        this.pollTimer = setTimeout(() => this.poll(), POLL_MS);
      }
    }

    poll() {
      this.pollTimer = null;
      SL.send("GET", this.phase1Api, null)
        .then((response) => (response.ok ? response.json() : Promise.reject(response)))
        .then((state) => {
          if (state.open.position === this.openIndex() && this.openTexts() === null) {
            this.takeOpen(state.open);
            this.highlight = 0;
            this.render();
          } else if (state.open.status === "pending") {
            this.takeOpen(state.open);
          }
        })
        .catch(() => {
          this.pollTimer = setTimeout(() => this.poll(), POLL_MS * 2);
        });
    }

    /* --- actions ------------------------------------------------------------------------ */

    remember() {
      this.history.push(JSON.stringify(this.positions));
      if (this.history.length > 200) this.history.shift();
    }

    rate(index, rating) {
      const texts = this.openTexts();
      if (this.locked() || !texts || index >= texts.length || this.finishReason()) return;
      this.remember();
      this.entry().ratings[index] = rating;
      // on to the next unrated proposal (one key per rating, no arrow in between)
      this.highlight = this.firstUnrated();
      this.changed();
      this.scrollToHighlight();
    }

    toggleFlag(index) {
      const texts = this.openTexts();
      if (this.locked() || !texts || index >= texts.length) return;
      this.remember();
      const entry = this.entry();
      entry.flagged[index] = !entry.flagged[index];
      this.changed();
    }

    /* Enter: continue with the highlighted proposal (all rated, this one 0 or +1). */
    continueWith(index) {
      if (this.locked()) return;
      const texts = this.openTexts();
      if (!texts || !texts.length) {
        this.showHint("No proposed steps to continue with here: write your own step (w).");
        return;
      }
      const entry = this.entry();
      const unrated = texts.filter((t, j) => entry.ratings[j] === null).length;
      if (unrated) {
        this.showHint(
          "Rate every proposed step first (" + unrated + " unrated): 1 Negative · 2 Neutral · " +
            "3 Positive."
        );
        return;
      }
      if (entry.ratings[index] !== 0 && entry.ratings[index] !== 1) {
        this.showHint(
          "Continue with a step rated Neutral or Positive (↑ ↓ to choose one), or write your own (w)."
        );
        return;
      }
      this.remember();
      entry.chosen = index;
      this.advance();
    }

    continueOwn(text) {
      if (this.locked()) return false;
      const texts = this.openTexts() || [];
      const entry = this.entry();
      const unrated = texts.filter((t, j) => entry.ratings[j] === null).length;
      if (unrated) {
        this.ownError("Rate every proposed step first (" + unrated + " unrated), then continue.");
        return false;
      }
      const problem = this.ownStepProblem(text);
      if (problem) {
        this.ownError("Your step " + problem + ". Change it, then continue.");
        return false; // the form stays open with the text, to edit
      }
      this.remember();
      entry.human = text;
      entry.chosen = null;
      this.closeOwn();
      this.advance();
      return true;
    }

    /* After a continue: later positions belong to another path. */
    advance() {
      const at = this.openIndex();
      this.positions.length = at;
      this.shown.length = at;
      this.highlight = 0;
      this.changed();
    }

    undo() {
      if (this.locked() || !this.history.length) return;
      this.positions = JSON.parse(this.history.pop());
      this.highlight = this.firstUnrated();
      const refused = this.refusedOwn;
      const position = refused && this.positions[refused.index];
      if (refused && (!position || position.human !== refused.text)) {
        // the step the server refused is undone: back into the form, to edit
        this.refusedOwn = null;
        this.changed();
        if (this.openIndex() === refused.index) {
          this.openOwn();
          this.$("own-text").value = refused.text;
          this.preview();
          this.ownError("Your step was not saved: it " + refused.problem + ". Change it, then continue.");
        }
        return;
      }
      this.changed();
    }

    changed() {
      this.render();
      this.save();
      if (this.finishReason()) this.prefetchNext();
    }

    /* --- saving (task-save.js asks these) ----------------------------------------------- */

    draftUrl() {
      return this.phase1Api;
    }

    /* The positions as the server stores them (labeling/phase1_rules.py positions_of): an
     * open position with nothing shown and nothing said is not sent; `shown` tells the server
     * how many proposals the page showed (0 while it waited for the generator). */
    marksJson() {
      const out = [];
      this.positions.forEach((p, i) => {
        const shown = (this.shown[i] || []).length;
        if (!continued(p) && !shown) return;
        out.push({ ratings: p.ratings, flagged: p.flagged, chosen: p.chosen, human: p.human, shown: shown });
      });
      return JSON.stringify(out);
    }

    takeMarks(positions) {
      this.positions = positions.map((p) => Object.assign(blank(0), p));
    }

    /* Which positions of `positions` (kept unsent, task-unsent.js) differ from the page's:
     * {ratings, steps: ["step 1: 2 ratings, your own step", …]}. */
    unsentChanges(positions) {
      const out = { ratings: 0, steps: [] };
      positions.forEach((kept, i) => {
        const k = Object.assign(blank(0), kept);
        const now = this.positions[i] || blank(0);
        let ratings = 0;
        k.ratings.forEach((r, j) => {
          if (r !== null && r !== now.ratings[j]) ratings += 1;
        });
        const words = ratings ? [ratings + (ratings === 1 ? " rating" : " ratings")] : [];
        if (k.human !== null && k.human !== now.human) words.push("your own step");
        else if (k.chosen !== null && k.chosen !== now.chosen) {
          words.push("continued with proposal " + (k.chosen + 1));
        }
        if (!words.length) return;
        out.ratings += ratings;
        out.steps.push("step " + (i + 1) + ": " + words.join(", "));
      });
      return out;
    }

    /* A save refused with 400 (task-save.js): an own step the server refused is marked in
     * the path, with what to do (u takes it back into the form; any change resends). */
    onRefused(detail) {
      const found = /^steps\[(\d+)\]\.human: (.*)$/.exec(detail);
      const index = found ? Number(found[1]) : -1;
      const position = this.positions[index];
      this.refusedOwn = position && position.human !== null
        ? { index: index, text: position.human, problem: (found[2].startsWith("contains") ? "" : "has ") + found[2] }
        : null;
      this.pathKey = null;
      this.render();
    }

    onSaved(data, sent) {
      this.refusedOwn = null;
      if (sent !== this.marksJson() || !data.open) return; // more changes are on their way
      const before = this.openTexts();
      this.takeOpen(data.open);
      if (before === null) this.highlight = 0;
      this.render();
    }

    /* --- the own step ------------------------------------------------------------------- */

    openOwn() {
      if (this.locked() || this.finishReason()) return;
      const form = this.$("own-form");
      form.hidden = false;
      this.$("own-error").hidden = true;
      const text = this.$("own-text");
      text.focus();
      this.preview();
    }

    closeOwn() {
      const form = this.$("own-form");
      if (form.contains(document.activeElement)) document.activeElement.blur();
      form.hidden = true;
    }

    /* What the server would refuse in an own step (labeling/phase1_rules.py: the text policy
     * of text-policy.js, at most the text box's maxlength characters, MAX_OWN_STEP_LENGTH
     * there, and an answer after a `# Answer` line), or null. */
    ownStepProblem(text) {
      const limit = Number(this.$("own-text").getAttribute("maxlength")) || 5000;
      const problem = SL.checkText(text, limit);
      if (problem) return problem.startsWith("contains") ? problem : "has " + problem;
      const at = text.lastIndexOf(ANSWER_MARKER);
      if (at >= 0 && !text.slice(at + ANSWER_MARKER.length).trim()) {
        return "has no answer: write the final answer after '# Answer' and a blank line";
      }
      return null;
    }

    ownError(message) {
      const error = this.$("own-error");
      error.textContent = message;
      error.hidden = false;
    }

    closeEnding() {
      this.$("reason-form").hidden = true;
      this.endingKind = null;
    }
  }

  BORROWED.forEach((name) => {
    Phase1Task.prototype[name] = SL.Task.prototype[name];
  });
  const own = {};
  OWN.forEach((name) => {
    own[name] = Phase1Task.prototype[name];
  });
  Object.assign(
    Phase1Task.prototype, SL.phase1View, SL.phase1Events, SL.timing, SL.saving, SL.submitting, own
  );

  SL.Phase1Task = Phase1Task;
})();
