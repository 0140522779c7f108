/* The phase-1 task page's clicks and keys (methods mixed into the Phase1Task of phase1.js):
 * rate, continue with a proposal or with your own step, the endings, the keys dialog. Which
 * key means what: task-keys.js.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;

  SL.phase1Events = {
    bind() {
      this.bindCommon(); // labeling.js: submit, retry, keys dialog, endings
      this.$("continue").addEventListener("click", () => this.continueWith(this.highlight));
      this.$("open-own").addEventListener("click", () => this.openOwn());
      this.$("own-cancel").addEventListener("click", () => this.closeOwn());
      this.$("own-text").addEventListener("input", () => this.preview());
      this.$("own-form").addEventListener("submit", (event) => {
        event.preventDefault();
        const text = this.$("own-text").value;
        if (SL.isBlank(text)) {  // "\u200b" is as empty as "  " (text-policy.js)
          this.ownError("Write your step first.");
          return;
        }
        if (this.continueOwn(text)) this.$("own-text").value = "";
      });
    },

    onKey(event) {
      const target = event.target;
      const own = this.$("own-form");
      const reasonForm = this.$("reason-form");
      for (const form of [own, reasonForm]) {
        if (target && target.nodeType === 1 && form.contains(target)) {
          if (event.key === "Escape") {
            event.preventDefault();
            if (form === own) this.closeOwn();
            else this.closeEnding();
          } else if (target.tagName === "TEXTAREA" && SL.isSendReason(event)) {
            event.preventDefault();
            if (!event.repeat) form.requestSubmit();
          }
          return;
        }
      }
      if (document.querySelector("dialog[open]")) return;
      if (SL.inTextField(target)) return;
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const letter = event.key && event.key.length === 1 ? event.key.toLowerCase() : "";
      let action = null;
      if (letter === "j") action = ["move", 1];
      else if (letter === "k") action = ["move", -1];
      else if (letter === "w" || (!letter.match(/^[a-z]$/) && event.code === "KeyW")) action = ["own"];
      else action = SL.keyAction(event);
      if (!action) return;
      const [name, value] = action;
      if (!reasonForm.hidden || !own.hidden) {
        if (name === "close") {
          event.preventDefault();
          if (!own.hidden) this.closeOwn();
          else this.closeEnding();
        }
        return;
      }
      if (name === "submit" && target && (target.tagName === "BUTTON" || target.tagName === "A") &&
          !target.closest("li.alt")) {
        return; // the focused button's own Enter
      }
      event.preventDefault();
      if (event.repeat && !SL.isRepeatable(action)) return;
      if (name === "help") {
        this.$("keys").showModal();
        return;
      }
      if (name === "move") {
        this.moveHighlight(value);
        return;
      }
      if (this.locked()) return;
      if (name === "rate") this.rate(this.highlight, value);
      else if (name === "flag") this.toggleFlag(this.highlight);
      else if (name === "undo") this.undo();
      else if (name === "own") this.openOwn();
      else if (name === "give_up" || name === "bad_problem") this.openEnding(name);
      else if (name === "submit") this.enter();
    },

    enter() {
      if (this.blocked === "stale") {
        this.showHint(
          "This tab is blocked: the task was changed in another tab or window. Reload to " +
            "continue with the saved work."
        );
        return;
      }
      const reason = this.finishReason();
      if (reason) this.submit(reason);
      else this.continueWith(this.highlight);
    },
  };
})();
