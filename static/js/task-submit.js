/* Submitting a task and moving on (methods mixed into the Task of labeling.js).
 *
 * The next task is prefetched (assignment and page HTML) as soon as the labeling is finished,
 * so Submit swaps it in at once. Until swapped in, the prefetched task is a look-ahead with a
 * short lease (its page is fetched with X-Look-Ahead, which does not open it); swapping it in
 * opens it (GET /api/assignments/<id>/), which gives it the full lease. A submit first flushes the draft (and refuses while the draft
 * is not saved: the save status says why), then sends the finish reason with the revision the
 * page shows; a stale revision (another tab changed the draft) is refused by the server.
 * Nothing is prefetched while the page waits for its own user to sign in again (a prefetch
 * then would claim a task for whoever is signed in in the browser), nor before the save in
 * flight has answered (it is the one that finds out the session is gone). A refused reason (400)
 * shows the field's own message under the reason box.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;

  /* The first message of a 400's field errors ({"reason": ["…"]}), or "". */
  function fieldMessage(data) {
    for (const [key, value] of Object.entries(data || {})) {
      if (key === "detail" || key === "code") continue;
      const first = Array.isArray(value) ? value[0] : value;
      if (typeof first === "string" && first) return first;
    }
    return "";
  }

  /* A message as one sentence: ends with a single full stop (server texts end with one). */
  function sentence(text) {
    const trimmed = String(text || "").trim().replace(/[.\s]+$/, "");
    return trimmed + ".";
  }

  SL.sentence = sentence;

  SL.submitting = {
    prefetchNext() {
      if (this.blocked === "auth") return Promise.resolve(null);
      if (this.next || this.prefetching) return this.prefetching;
      if (this.inFlight) {
        // The save of the last mark goes first: if it finds the session gone (signed out in
        // another tab), the look-ahead is not sent at all (it would only get a 401).
        return this.inFlight.then(() => this.prefetchNext());
      }
      this.prefetching = SL.send(
        "POST", "/api/assignments/next/", JSON.stringify({ project: this.project, exclude: [this.id] })
      )
        .then((response) => {
          if (response.status === 204) {
            return { none: true, reason: response.headers.get("X-No-Task-Reason") || "" };
          }
          if (!response.ok) throw new Error(response.statusText);
          return response.json().then((data) =>
            // X-Look-Ahead: fetching the page does not open the task (its lease stays short)
            SL.send("GET", "/tasks/" + data.id + "/", null, {
              headers: { "HX-Request": "true", "X-Look-Ahead": "1" },
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
    },

    submit(finishReason, reason) {
      if (this.submitted || this.submitting) return;
      this.submitting = true;
      const button = this.$("submit");
      button.disabled = true;
      this.flush()
        .then((saved) => {
          if (!saved) {
            // the save status says why (offline, signed out, changed in another tab)
            throw new Error("your ratings are not saved yet — " + this.$("save-status").textContent);
          }
          return SL.send(
            "POST",
            this.api + "submit/",
            JSON.stringify({
              finish_reason: finishReason,
              reason: reason || "",
              total_time_ms: this.totalTime(),
              revision: this.revision,
            })
          );
        })
        .then((response) => {
          if (!response.ok) {
            return response.json().catch(() => ({})).then((data) => {
              if (response.status === 409 && data.code === "stale_draft") this.markStale();
              if (response.status === 401 || response.status === 403) {
                this.blockForAuth();
                this.checkSession();
              }
              const field = fieldMessage(data);
              if (field && reason !== undefined && !this.$("reason-form").hidden) {
                const error = this.$("reason-error");
                error.textContent = field;
                error.hidden = false;
              }
              throw new Error(
                data.detail || field || response.statusText || "error " + response.status
              );
            });
          }
          this.submitted = true;
          this.forgetLocal();
          this.setSaveState("saved", "Submitted");
          this.render();
          return this.goNext();
        })
        .catch((error) => {
          const again = this.blocked === "stale"
            ? "This tab is blocked: reload to continue."
            : "Press Enter to try again.";
          this.showHint("Not submitted: " + sentence(error.message) + " " + again);
        })
        .finally(() => {
          this.submitting = false;
          button.disabled = false;
        });
    },

    goNext() {
      // "nothing for you" learned before this submit may be out of date now (the screening
      // result, a look-ahead refused while the last screening question was open): ask again.
      // A look-ahead still in flight was sent before the submit (it waits for the last save,
      // not for the submit), so its answer is awaited and, when it is "nothing", asked again.
      const early = Promise.resolve(this.next || this.prefetching);
      const ready = early.then((next) => {
        if (next && !next.none) return next;
        this.next = null;
        return this.prefetchNext();
      });
      return ready.then((next) => {
        if (next && next.html) {
          SL.swapIn(next.html, "/tasks/" + next.id + "/");
          // now it is opened: the server gives the look-ahead the project's full lease
          // (a look-ahead left unopened past its lease and taken by someone else is closed:
          // then the home page offers the next task)
          const home = this.home;
          SL.send("GET", "/api/assignments/" + next.id + "/")
            .then((response) => (response.ok ? response.json() : null))
            .then((detail) => {
              if (detail && detail.status !== "draft") window.location.assign(home);
            })
            .catch(() => null);
        } else if (next && next.none) {
          window.location.assign(
            this.home + "?finished=" + this.project + "&reason=" + encodeURIComponent(next.reason)
          );
        } else {
          window.location.assign(this.home);
        }
      });
    },
  };
})();
