/* The phase-1 task page's rendering (methods mixed into the Phase1Task of phase1.js): the
 * path taken so far, the open step's proposals with their rating buttons, the own step's live
 * KaTeX preview. Every text goes in as text (textContent); math is rendered by task-math.js.
 */
(function () {
  "use strict";

  const SL = window.StepLabeling;
  const ANSWER_MARKER = "# Answer\n\n";
  const RATING_NAME = { "-1": "Negative", 0: "Neutral", 1: "Positive" };

  /* {body, answer} of a step text: the final `# Answer` block split off (as the server). */
  function splitAnswer(text) {
    const at = text.lastIndexOf(ANSWER_MARKER);
    if (at < 0) return { body: text, answer: null };
    return { body: text.slice(0, at).replace(/\s+$/, ""), answer: text.slice(at + ANSWER_MARKER.length) };
  }

  function stepContent(text) {
    const parts = splitAnswer(text);
    const holder = document.createElement("div");
    if (parts.body) {
      const body = document.createElement("div");
      body.className = "math text";
      body.textContent = parts.body;
      holder.appendChild(body);
    }
    if (parts.answer !== null) {
      const answer = document.createElement("div");
      answer.className = "final-answer";
      answer.append("# Answer: ");
      const tex = document.createElement("span");
      tex.className = "math tex";
      tex.textContent = parts.answer;
      answer.appendChild(tex);
      holder.appendChild(answer);
    }
    return holder;
  }

  function blank(n) {
    return { ratings: new Array(n).fill(null), flagged: new Array(n).fill(false), chosen: null, human: null };
  }

  SL.phase1View = {
    scrollToHighlight() {
      const li = this.$("alternatives").querySelectorAll("li.alt")[this.highlight];
      if (li) li.scrollIntoView({ block: "nearest" });
    },

    preview() {
      const target = this.$("own-preview");
      target.replaceChildren(stepContent(this.$("own-text").value));
      SL.renderMath(target);
    },

    render() {
      this.renderPath();
      this.renderOpen();
      const reason = this.finishReason();
      this.$("finish").hidden = this.submitted || !reason;
      if (reason) {
        this.$("finish-text").textContent =
          "You continued with the final answer: this labeling is finished (solution).";
      }
      this.$("done").hidden = !this.submitted;
      this.$("other-endings").hidden = this.submitted;
      this.$("hint").hidden = true;
      this.renderTime();
    },

    renderPath() {
      const path = this.pathTexts();
      const refused = this.refusedOwn;
      const key = JSON.stringify([path, this.positions.map((p) => [p.ratings, p.chosen]), refused]);
      if (key === this.pathKey) return;
      this.pathKey = key;
      const list = this.$("path");
      list.replaceChildren();
      path.forEach((text, i) => {
        const p = this.positions[i];
        const li = document.createElement("li");
        li.className = "step card";
        li.dataset.index = String(i);
        const rating = p.chosen !== null ? p.ratings[p.chosen] : null;
        li.dataset.rating = rating === null ? "" : String(rating);
        const head = document.createElement("div");
        head.className = "step-head";
        const others = p.ratings.filter((r) => r !== null).length - (p.chosen !== null ? 1 : 0);
        head.textContent =
          "Step " + (i + 1) + " · " +
          (p.human !== null ? "your own step" : RATING_NAME[rating] + " proposal " + (p.chosen + 1)) +
          (others > 0 ? " · " + others + " other proposal" + (others > 1 ? "s" : "") + " rated" : "");
        li.appendChild(head);
        li.appendChild(stepContent(text));
        if (refused && refused.index === i) {
          const error = document.createElement("p");
          error.className = "errorlist";
          error.dataset.role = "step-error";
          error.textContent =
            "Not saved: this step " + refused.problem + ". Press u (undo) to take it back and " +
            "change it.";
          li.appendChild(error);
        }
        list.appendChild(li);
      });
      SL.renderMath(list);
    },

    renderOpen() {
      const card = this.$("open");
      const finished = this.finishReason();
      card.hidden = this.submitted || Boolean(finished);
      if (card.hidden) return;
      const at = this.openIndex();
      const texts = this.openTexts();
      this.$("open-head").textContent =
        "Step " + (at + 1) + " · rate each proposed step, then continue with one or write your own";
      const wait = this.$("wait");
      const source = this.$("alt-source");
      if (this.open && this.open.source) {
        source.textContent = "Proposed steps: " + this.open.source + ".";
      }
      if (texts === null) {
        wait.hidden = false;
        const failed = this.open && this.open.status === "failed" && this.open.position === at;
        wait.textContent = failed
          ? "The generator could not propose next steps here (" + (this.open.error || "failed") +
            "). Write your own step (w)."
          : "Waiting for the generator to propose next steps after your path… You can write " +
            "your own step (w) meanwhile.";
        wait.dataset.state = failed ? "failed" : "pending";
      } else {
        wait.hidden = texts.length > 0;
        if (!texts.length) wait.textContent = "No proposed steps here: write your own step (w).";
      }
      const list = this.$("alternatives");
      const key = JSON.stringify([at, texts]);
      if (key !== this.openKey) {
        this.openKey = key;
        list.replaceChildren();
        (texts || []).forEach((text, j) => list.appendChild(this.alternativeItem(text, j)));
        SL.renderMath(list);
      }
      const p = this.positions[at] || blank((texts || []).length);
      list.querySelectorAll("li.alt").forEach((li, j) => {
        const rating = p.ratings[j] === undefined ? null : p.ratings[j];
        li.dataset.rating = rating === null ? "" : String(rating);
        li.classList.toggle("focused", j === this.highlight);
        li.setAttribute("aria-current", j === this.highlight ? "true" : "false");
        li.querySelectorAll("button.rate").forEach((button) => {
          button.setAttribute("aria-pressed", String(rating !== null && Number(button.dataset.rating) === rating));
          button.disabled = this.submitted;
        });
        const flag = li.querySelector('[data-role="flag"]');
        flag.setAttribute("aria-pressed", String(Boolean(p.flagged[j])));
      });
      this.$("continue").disabled = !texts || !texts.length;
    },

    alternativeItem(text, j) {
      const li = document.createElement("li");
      li.className = "alt step card";
      li.dataset.index = String(j);
      li.tabIndex = -1;
      const head = document.createElement("div");
      head.className = "step-head";
      head.textContent = "Proposal " + (j + 1);
      li.appendChild(head);
      li.appendChild(stepContent(text));
      const group = document.createElement("div");
      group.className = "rating";
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Rate proposal " + (j + 1));
      [[-1, "negative", "1"], [0, "neutral", "2"], [1, "positive", "3"]].forEach(([r, cls, key]) => {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "rate " + cls;
        button.dataset.rating = String(r);
        button.textContent = RATING_NAME[r] + " ";
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        button.appendChild(kbd);
        button.addEventListener("click", () => {
          this.highlight = j;
          this.rate(j, r);
        });
        group.appendChild(button);
      });
      const flag = document.createElement("button");
      flag.type = "button";
      flag.className = "flag";
      flag.dataset.role = "flag";
      flag.textContent = "Flag ";
      const kbd = document.createElement("kbd");
      kbd.textContent = "f";
      flag.appendChild(kbd);
      flag.addEventListener("click", () => this.toggleFlag(j));
      group.appendChild(flag);
      li.appendChild(group);
      return li;
    },

    moveHighlight(delta) {
      const texts = this.openTexts() || [];
      if (!texts.length) return;
      this.highlight = Math.max(0, Math.min(texts.length - 1, this.highlight + delta));
      this.renderOpen();
      this.scrollToHighlight();
    },
  };
  SL.phase1Blank = blank;
})();
