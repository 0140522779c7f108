/* The task page's local copy of marks not yet saved (methods mixed, with task-save.js's, into
 * the Task of labeling.js and the Phase1Task of phase1.js).
 *
 * Marks not yet acknowledged are also kept in localStorage, one record per tab (key: task id +
 * user + the tab's id, which sessionStorage keeps over reloads of that tab), with the revision
 * they were based on. A record exists only while the tab holds something the server has not
 * acknowledged: a successful save removes it, so a tab that saved everything leaves none.
 * On load a page looks at its own tab's record (a reload) and at the records of tabs that are
 * gone (closed: `pagehide` marks the record, or its tab stopped refreshing it for ALIVE_MS),
 * never at those of tabs still open (they handle their own). Such marks are resent when the
 * server is still at their revision, and otherwise said in words (which steps, how many
 * ratings) and dropped. While such marks exist and the last attempt failed, leaving the page
 * warns (beforeunload).
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;
  const ALIVE_MS = 10000; // a tab refreshes its record every second while it has one
  const RATING_NAME = { "-1": "Negative", 0: "Neutral", 1: "Positive" };

  /* This tab's id: kept in sessionStorage, so a reload of the tab keeps it. */
  function tabId() {
    try {
      let id = window.sessionStorage.getItem("step-labeling-tab");
      if (!id) {
        id = Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
        window.sessionStorage.setItem("step-labeling-tab", id);
      }
      return id;
    } catch (e) {
      return "tab";
    }
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  SL.unsent = {
    /* Set the keys: `unsentPrefix` (task + user) and this tab's `pendingKey`. */
    initUnsent() {
      this.unsentPrefix = "step-labeling-unsent:" + this.id + ":" + this.username;
      this.pendingKey = this.unsentPrefix + ":" + tabId();
      this.localRecord = null;
      this.unsentTimer = setInterval(() => this.touchLocal(false), 1000);
      this.onPageHide = () => this.touchLocal(true);
      window.addEventListener("pagehide", this.onPageHide);
    },

    destroyUnsent() {
      clearInterval(this.unsentTimer);
      window.removeEventListener("pagehide", this.onPageHide);
    },

    /* Marks this page holds that the server has not acknowledged, after a failed attempt
     * (signed out, offline, no answer, refused as invalid): leaving now would lose them here.
     * Not for a tab told "Changed in another tab" or "submitted elsewhere": reloading is what
     * it asks for (the marks are kept locally and said in words after the reload). */
    hasUnsentWork() {
      if (this.submitted || this.blocked === "stale" || this.blocked === "conflict") return false;
      const failing = this.blocked !== null || this.retryTimer !== null;
      return failing && (this.dirty || this.unacked.length > 0);
    },

    /* Keep the marks not yet acknowledged in localStorage (or forget them once saved). */
    keepLocal() {
      if (this.submitted || (!this.dirty && !this.inFlight && this.unacked.length === 0)) {
        this.forgetLocal();
        return;
      }
      this.localRecord = { revision: this.revision, marks: JSON.parse(this.marksJson()) };
      this.touchLocal(false);
    },

    /* Write this tab's record with the time it was last alive (`closed`: the tab goes away). */
    touchLocal(closed) {
      if (!this.localRecord) return;
      this.localRecord.alive = Date.now();
      this.localRecord.closed = Boolean(closed);
      try {
        window.localStorage.setItem(this.pendingKey, JSON.stringify(this.localRecord));
      } catch (e) {
        // storage full or disabled: the beforeunload warning still guards the marks
      }
    },

    /* The record to look at on load: this tab's own, else one left by a tab that is gone. */
    leftUnsent() {
      const found = [];
      try {
        for (let i = 0; i < window.localStorage.length; i++) {
          const key = window.localStorage.key(i);
          if (key === this.unsentPrefix || key.startsWith(this.unsentPrefix + ":")) found.push(key);
        }
      } catch (e) {
        return null;
      }
      const read = (key) => {
        try {
          const kept = JSON.parse(window.localStorage.getItem(key) || "null");
          return kept && Array.isArray(kept.marks) ? kept : null;
        } catch (e) {
          return null;
        }
      };
      if (found.includes(this.pendingKey)) return { key: this.pendingKey, kept: read(this.pendingKey) };
      for (const key of found) {
        const kept = read(key);
        const gone = !kept || kept.closed || !(Date.now() - (kept.alive || 0) < ALIVE_MS);
        if (gone) return { key: key, kept: kept };
      }
      return null;
    },

    /* On load: marks left unsent by an earlier visit of this page (this tab, or a tab that is
     * gone). Resend them when the server still holds the revision they were based on; when it
     * has moved on (another tab or device saved since), say which were not applied and keep
     * the server's. Marks the server already holds are dropped without a word. */
    restoreLocal() {
      const left = this.leftUnsent();
      if (!left) return;
      const kept = left.kept;
      try {
        window.localStorage.removeItem(left.key);
      } catch (e) {
        // nothing to remove
      }
      if (!kept || this.submitted) return;
      const changes = this.unsentChanges(kept.marks);
      if (!changes.steps.length) return; // the server has them (the answer was lost)
      if (kept.revision !== this.revision) {
        const count = changes.ratings || changes.steps.length;
        this.setSaveState(
          "stale",
          plural(count, changes.ratings ? "rating" : "change") +
            " made in an earlier visit and never saved " + (count === 1 ? "was" : "were") +
            " not applied (" + changes.steps.join("; ") + "): the task was changed since " +
            "in another tab or window. The saved ratings are shown.",
          null
        );
        return;
      }
      this.takeMarks(kept.marks);
      this.localRecord = { revision: kept.revision, marks: kept.marks };
      this.touchLocal(false);
      this.restored = true;
    },

    /* Which steps of `marks` (kept unsent) differ from the page's: {ratings: how many ratings
     * differ, steps: ["step 2 Neutral", "step 3 Positive, flagged", …]} (phase1.js has its
     * own for positions). */
    unsentChanges(marks) {
      const out = { ratings: 0, steps: [] };
      marks.forEach((mark, i) => {
        const shown = this.marks[i] || { rating: null, flagged: false };
        const rating = mark && mark.rating !== undefined ? mark.rating : null;
        const flagged = Boolean(mark && mark.flagged);
        if (rating === shown.rating && flagged === shown.flagged) return;
        if (rating === null && !flagged) return; // only what was done, not what was undone
        if (rating !== shown.rating && rating !== null) out.ratings += 1;
        const words = [rating === null ? "unrated" : RATING_NAME[rating]];
        if (flagged) words.push("flagged");
        out.steps.push("step " + (i + 1) + " " + words.join(", "));
      });
      return out;
    },

    forgetLocal() {
      this.localRecord = null;
      try {
        window.localStorage.removeItem(this.pendingKey);
      } catch (e) {
        // nothing kept
      }
    },
  };
})();
