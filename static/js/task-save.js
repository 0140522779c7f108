/* Saving the task page's draft (methods mixed into the Task of labeling.js).
 *
 * One PUT .../draft/ in flight at a time, carrying every mark, the time and the revision the
 * marks were based on. What each answer means for the page:
 *   200            saved: take the new revision; "Saved" (and tell other tabs of this task).
 *   409 stale      another tab or device saved other marks since: stop saving and say
 *                  "Changed in another tab — reload" (the Reload button); nothing is lost on
 *                  the server, and this page never claims "Saved" for marks the server lacks.
 *                  If the stored marks are ones this page sent (an answer lost to a timeout),
 *                  take their revision and carry on.
 *   409 other      the task was submitted, or its hold expired: a reload takes it back if free.
 *   401/403        the session ended or the CSRF token is stale: keep everything, ask for a
 *                  login (in another tab), poll /session/ and resend with the fresh token.
 *                  Until the page's own user is back, the page sends nothing else at all
 *                  (SL.hold): not a save, not the prefetch of the next task.
 *   429/502-504    server busy or restarting: "Server busy — will retry", after Retry-After
 *                  but never sooner than the backoff below (a Retry-After of 0 or a date in
 *                  the past would otherwise retry hundreds of times a second).
 *   timeout        "No answer from the server — will retry"; no connection: "Offline — will
 *                  retry"; with backoff (1, 2, 4, 8, 15, 30 s), at once when the browser comes
 *                  back online. The message stays (retries are quiet) until a save succeeds.
 *   400, 500       "Not saved: …" with a Retry button (500 is retried with backoff as well). After
 *                  a 400 the next change of the marks (an undo of what was refused) sends again.
 *
 * Marks not yet acknowledged are also kept in localStorage: task-unsent.js.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;
  const RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 15000, 30000];
  const SESSION_POLL_MS = 3000;
  const MAX_AUTH_RESENDS = 3;
  const channels = {};

  function channel(id) {
    if (!window.BroadcastChannel) return null;
    if (!channels[id]) channels[id] = new BroadcastChannel("step-labeling-task-" + id);
    return channels[id];
  }

  const saving = {
    initSaving() {
      this.revision = this.state.draft.revision || 0;
      this.inFlight = false;
      this.dirty = false;
      this.failures = 0;
      this.retryTimer = null;
      this.blocked = null; // "stale", "auth", "conflict" or "invalid": saving waits for the user
      this.unacked = []; // marks sent whose answer has not come (it may have been stored)
      this.authResends = 0;
      this.sessionTimer = null;
      this.initUnsent(); // task-unsent.js: this tab's local copy
      this.channel = channel(this.id);
      this.onChannel = (event) => this.otherTabSaved(event.data);
      if (this.channel) this.channel.addEventListener("message", this.onChannel);
      this.onOnline = () => {
        if (this.retryTimer) this.flush();
      };
      window.addEventListener("online", this.onOnline);
      this.onFocus = () => {
        if (this.blocked === "auth") this.checkSession();
      };
      window.addEventListener("focus", this.onFocus);
      this.onBeforeUnload = (event) => {
        if (!this.hasUnsentWork()) return;
        event.preventDefault();
        event.returnValue = ""; // older browsers need it set to show the warning
      };
      window.addEventListener("beforeunload", this.onBeforeUnload);
    },

    /* Take marks kept by an earlier visit (phase1.js takes its positions instead). */
    takeMarks(marks) {
      for (let i = 0; i < this.count; i++) {
        const mark = marks[i];
        this.marks[i] = {
          rating: mark && mark.rating !== undefined ? mark.rating : null,
          flagged: mark ? Boolean(mark.flagged) : false,
        };
      }
    },

    destroySaving() {
      this.destroyUnsent();
      clearTimeout(this.retryTimer);
      clearInterval(this.sessionTimer);
      if (this.channel) this.channel.removeEventListener("message", this.onChannel);
      window.removeEventListener("online", this.onOnline);
      window.removeEventListener("focus", this.onFocus);
      window.removeEventListener("beforeunload", this.onBeforeUnload);
    },

    /* The marks as the server stores them (trailing unrated, unflagged steps dropped). */
    marksJson() {
      const marks = this.marks.map((m) => ({ rating: m.rating, flagged: m.flagged }));
      while (marks.length && marks[marks.length - 1].rating === null && !marks[marks.length - 1].flagged) {
        marks.pop();
      }
      return JSON.stringify(marks);
    },

    /* Where the draft goes (phase 1 saves to its own endpoint: phase1.js). */
    draftUrl() {
      return this.api + "draft/";
    },

    payload() {
      return JSON.stringify({
        steps: JSON.parse(this.marksJson()),
        total_time_ms: this.totalTime(),
        revision: this.revision,
      });
    },

    save() {
      if (this.submitted) return Promise.resolve(true);
      // A 400 refused the marks as they were; changed marks (an undo of the refused step) are
      // a new request: send it without waiting for Retry.
      if (this.blocked === "invalid") this.blocked = null;
      this.dirty = true;
      this.keepLocal();
      return this.flush();
    },

    flush(options) {
      options = options || {};
      if (this.inFlight) return this.inFlight;
      if (!this.dirty) return Promise.resolve(true);
      if (this.blocked) return Promise.resolve(false);
      this.dirty = false;
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      const sent = this.marksJson();
      this.unacked.push(sent);
      if (!options.quiet) this.setSaveState("saving", "Saving…");
      this.inFlight = SL.send("PUT", this.draftUrl(), this.payload(), {
        keepalive: options.keepalive,
      })
        .then((response) => this.saveAnswered(response, sent))
        .catch((error) => this.saveFailed(error));
      return this.inFlight;
    },

    saveAnswered(response, sent) {
      if (response.ok) {
        return response.json().then((data) => {
          this.inFlight = false;
          this.revision = data.revision;
          this.unacked = [];
          this.failures = 0;
          this.authResends = 0;
          this.keepLocal();
          this.lastHeartbeat = performance.now();
          // Another tab, or a beacon from before a reload, may have stored more time.
          const behind = (data.total_time_ms || 0) - this.totalTime();
          if (behind > 0) this.baseTime += behind;
          if (this.channel) {
            this.channel.postMessage({ id: this.id, revision: this.revision, marks: sent });
          }
          if (this.onSaved) this.onSaved(data, sent); // phase 1: the next alternatives
          if (this.dirty) return this.flush();
          this.setSaveState("saved", "Saved");
          return true;
        });
      }
      return response.json().catch(() => ({})).then((data) => {
        this.inFlight = false;
        this.dirty = true; // what was refused is still to be saved
        const detail = data.detail || response.statusText || "error " + response.status;
        if (response.status === 409 && data.code === "stale_draft") {
          const stored = JSON.stringify(data.steps);
          if (this.unacked.includes(stored) || stored === this.marksJson()) {
            // The stored marks are this page's own (an answer that never came): carry on.
            this.revision = data.revision;
            this.unacked = [];
            return this.flush();
          }
          this.markStale();
          return false;
        }
        if (response.status === 409) {
          this.blocked = "conflict"; // submitted elsewhere or the hold expired: reload
          this.setSaveState("error", "Not saved: " + detail, "Reload");
          return false;
        }
        if (response.status === 401 || response.status === 403) {
          this.blockForAuth();
          this.authResends += 1;
          if (this.authResends > MAX_AUTH_RESENDS) {
            this.setSaveState("error", "Not saved: " + detail, "Reload");
            this.blocked = "conflict";
            return false;
          }
          this.checkSession();
          return false;
        }
        if ([429, 502, 503, 504].includes(response.status)) {
          this.retryLater("Server busy — will retry", SL.retryAfterMs(response));
          return false;
        }
        if (response.status >= 500) {
          this.retryLater("Not saved: server error — will retry", null);
          return false;
        }
        this.blocked = "invalid"; // a 400: the same request would fail again, until a change
        this.setSaveState("error", "Not saved: " + detail, "Retry");
        if (this.onRefused) this.onRefused(detail); // phase 1: marks the refused own step
        return false;
      });
    },

    saveFailed(error) {
      this.inFlight = false;
      this.dirty = true;
      if (error && error.kind === "auth") {
        // held: the page waits for its own user (checkSession says so)
        this.blockForAuth();
        this.checkSession();
        return false;
      }
      this.retryLater(
        error && error.kind === "timeout"
          ? "No answer from the server — will retry"
          : "Offline — will retry",
        null
      );
      return false;
    },

    /* Retry after the backoff delay, or after Retry-After when that is longer (a server's
     * Retry-After of 0, or a date already past, never makes the page retry sooner). The
     * message stays until a save succeeds: the retries are quiet. */
    retryLater(text, delayMs) {
      this.failures += 1;
      const backoff = RETRY_DELAYS_MS[Math.min(this.failures - 1, RETRY_DELAYS_MS.length - 1)];
      const delay = Math.max(backoff, Number(delayMs) || 0);
      this.setSaveState("offline", text, "Retry now");
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.flush({ quiet: true });
      }, delay);
    },

    /* Saves (and every other request of the page) wait for the page's own user. */
    blockForAuth() {
      this.blocked = "auth";
      clearTimeout(this.retryTimer);
      this.retryTimer = null;
      SL.hold(true);
    },

    markStale() {
      this.blocked = "stale";
      clearTimeout(this.retryTimer);
      this.setSaveState("stale", "Changed in another tab — reload", "Reload");
    },

    /* A save acknowledged in another tab of this task (BroadcastChannel). */
    otherTabSaved(data) {
      if (!data || data.id !== this.id || this.submitted || data.revision <= this.revision) return;
      if (data.marks === this.marksJson() && !this.dirty) {
        this.revision = data.revision; // the same marks: nothing to tell
        return;
      }
      this.markStale();
    },

    /* After a 401/403: signed in again (maybe in another tab)? Then resend with the fresh
     * token; else ask for a login and look again every few seconds and on focus. */
    checkSession() {
      if (this.checkingSession) return;
      this.checkingSession = true;
      SL.session(this.username)
        .then((data) => {
          if (this.blocked !== "auth") return;
          if (data.authenticated && data.username === this.username) {
            clearInterval(this.sessionTimer);
            this.sessionTimer = null;
            this.blocked = null;
            SL.hold(false);
            this.flush();
            return;
          }
          const who = data.authenticated
            ? "Signed in as " + data.username + " elsewhere — log in as " + this.username
            : "Signed out — log in again";
          this.setSaveState("signed-out", who + " to save; your ratings stay on this page", null);
          if (!this.sessionTimer) {
            this.sessionTimer = setInterval(() => this.checkSession(), SESSION_POLL_MS);
          }
        })
        .catch(() => {
          if (!this.sessionTimer) {
            this.sessionTimer = setInterval(() => this.checkSession(), SESSION_POLL_MS);
          }
        })
        .finally(() => {
          this.checkingSession = false;
        });
    },

    /* The Retry / Reload button. */
    retryNow() {
      if (this.blocked === "stale" || this.blocked === "conflict") {
        window.location.reload();
        return;
      }
      if (this.blocked === "auth") {
        this.checkSession(); // only the page's own user may send
        return;
      }
      this.blocked = null;
      this.failures = 0;
      this.dirty = true;
      this.flush();
    },

    setSaveState(state, text, button) {
      const el = this.$("save-status");
      el.dataset.state = state;
      el.textContent = text;
      const retry = this.$("retry");
      retry.hidden = !button;
      if (button) retry.textContent = button;
      this.$("login").hidden = state !== "signed-out";
    },
  };

  SL.saving = Object.assign({}, SL.unsent, saving); // task-unsent.js: the local copy
})();
