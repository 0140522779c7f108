/* The task page's local copy of marks not yet saved (methods mixed, with task-save.js's, into
 * the Task of labeling.js and the Phase1Task of phase1.js).
 *
 * Marks not yet acknowledged are also kept in localStorage (key: task id + user), with the
 * revision they were based on: a reload or a closed tab while signed out or offline restores
 * and resends them when the server is still at that revision, and shows them as a conflict
 * otherwise. While such marks exist and the last attempt failed, leaving the page warns
 * (beforeunload).
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;

  /* "+ + 0 − ⚑" for a message about marks. */
  function describeMarks(marks) {
    const signs = { "-1": "−", 0: "0", 1: "+" };
    return marks
      .map((m) => (m.rating === null ? "·" : signs[m.rating]) + (m.flagged ? "⚑" : ""))
      .join(" ");
  }

  SL.unsent = {
    /* Marks this page holds that the server has not acknowledged, after a failed attempt
     * (signed out, offline, no answer, refused as invalid): leaving now would lose them here.
     * Not for a tab told "Changed in another tab" or "submitted elsewhere": reloading is what
     * it asks for (the marks are kept locally and shown as a conflict after the reload). */
    hasUnsentWork() {
      if (this.submitted || this.blocked === "stale" || this.blocked === "conflict") return false;
      const failing = this.blocked !== null || this.retryTimer !== null;
      return failing && (this.dirty || this.unacked.length > 0);
    },

    /* Keep the marks not yet acknowledged in localStorage (or forget them once saved). */
    keepLocal() {
      try {
        if (this.submitted || (!this.dirty && !this.inFlight && this.unacked.length === 0)) {
          window.localStorage.removeItem(this.pendingKey);
        } else {
          window.localStorage.setItem(
            this.pendingKey,
            JSON.stringify({ revision: this.revision, marks: JSON.parse(this.marksJson()) })
          );
        }
      } catch (e) {
        // storage full or disabled: the beforeunload warning still guards the marks
      }
    },

    /* On load: marks left unsent by an earlier visit of this page. Resend them when the server
     * still holds the revision they were based on; when it has moved on (another tab or
     * device saved since), show them as a conflict and keep the server's. */
    restoreLocal() {
      let kept = null;
      try {
        kept = JSON.parse(window.localStorage.getItem(this.pendingKey) || "null");
      } catch (e) {
        kept = null;
      }
      if (!kept || !Array.isArray(kept.marks) || this.submitted) {
        if (kept) this.forgetLocal();
        return;
      }
      const unsent = JSON.stringify(kept.marks);
      if (unsent === this.marksJson()) {
        this.forgetLocal(); // the server has them (the answer was lost)
        return;
      }
      if (kept.revision !== this.revision) {
        this.forgetLocal();
        this.setSaveState(
          "stale",
          "Ratings left unsent by an earlier visit were not applied: the task changed since " +
            "(" + (this.describeUnsent || describeMarks)(kept.marks) + "). The saved ones are shown.",
          null
        );
        return;
      }
      this.takeMarks(kept.marks);
      this.restored = true;
    },

    forgetLocal() {
      try {
        window.localStorage.removeItem(this.pendingKey);
      } catch (e) {
        // nothing kept
      }
    },
  };
})();
