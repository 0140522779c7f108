/* The task page's clock (methods mixed into the Task of labeling.js and phase1.js).
 *
 * Time counts only while the page is visible: `visibleSince` is when it last became visible
 * (null while hidden), `visibleMs` what was counted before, `baseTime` the total the server had
 * when the page loaded. The total is sent as an absolute number of milliseconds with each save,
 * so retries and reloads never count it twice; while the page is visible and idle a heartbeat
 * save every HEARTBEAT_MS keeps the stored time and the hold current. Leaving the page (hidden,
 * reload, close) stops the clock and sends the time with keepalive.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;
  const HEARTBEAT_MS = 15000;

  function formatDuration(ms) {
    const seconds = Math.floor(ms / 1000);
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h ? h + ":" + String(m).padStart(2, "0") + ":" + s : m + ":" + s;
  }

  SL.timing = {
    totalTime() {
      const running = this.visibleSince === null ? 0 : performance.now() - this.visibleSince;
      return Math.round(this.baseTime + this.visibleMs + running);
    },

    renderTime() {
      this.$("timer").textContent = formatDuration(this.totalTime());
    },

    tick() {
      this.renderTime();
      if (!this.submitted && this.visibleSince !== null && !this.blocked &&
          performance.now() - this.lastHeartbeat > HEARTBEAT_MS && !this.inFlight) {
        this.lastHeartbeat = performance.now();
        // keeps the saved time current; the server writes no marks when they are unchanged,
        // and answers 409 when another tab has changed them (this page then says so)
        this.dirty = true;
        this.flush({ quiet: this.$("save-status").dataset.state === "saved" });
      }
    },

    onVisibility() {
      if (document.visibilityState === "visible") {
        if (this.visibleSince === null) this.visibleSince = performance.now();
      } else {
        this.onLeave();
      }
    },

    onLeave() {
      // Hidden, or the page is going away (reload, close, navigation): stop the clock and send
      // the time with keepalive so it survives the page. (While a save is in flight, it follows
      // that one and never overtakes it.)
      if (this.visibleSince !== null) {
        this.visibleMs += performance.now() - this.visibleSince;
        this.visibleSince = null;
      }
      if (!this.submitted && !this.blocked) {
        this.dirty = true;
        this.flush({ keepalive: true, quiet: true });
      }
    },
  };
})();
