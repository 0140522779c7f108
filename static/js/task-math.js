/* Math on the task page: KaTeX over problem and step texts (docs/annotators.md, "Math").
 *
 * 1. Delimited math: $…$, $$…$$, \(…\), \[…\] and the LaTeX display environments (equation,
 *    align, gather, multline, with or without *), by KaTeX's auto-render.
 * 2. Bare TeX outside delimiters (MATH and PRM800K steps often end "\boxed{5}"): a command
 *    `\name` followed by at least one {…} group (`\boxed{…}`, `\frac{1}{2}`), or one of a
 *    short list of symbols that never mean anything else (`\pi`, `\cdot`, …), together with
 *    its [optional] argument, its brace groups, ^/_ scripts and directly adjacent commands.
 *    Rendered only when KaTeX accepts it (throwOnError), else left as the source text: a
 *    backslash in prose never breaks a step.
 * 4. Dollars: "$" is a delimiter only by Pandoc's rule (literalDollars): "Cost is $5 and
 *    then $10" stays prose; "\$" is a literal dollar, shown without the backslash.
 * 3. Compact display math: the blank lines and spaces written around a display formula (the
 *    texts keep their whitespace, white-space: pre-wrap) are dropped next to it; the display's
 *    own margin is the gap.
 * Answers (.tex) are bare TeX by MATH's convention: rendered whole unless they carry
 * delimiters.
 */
(function () {
  "use strict";

  const OPTIONS = { throwOnError: false, trust: false, strict: "ignore" };
  const DELIMITERS = [
    { left: "$$", right: "$$", display: true },
    { left: "\\[", right: "\\]", display: true },
    { left: "\\(", right: "\\)", display: false },
    { left: "$", right: "$", display: false },
  ].concat(
    ["equation", "align", "alignat", "gather", "multline", "CD"].flatMap((env) =>
      [env, env + "*"].map((name) => ({
        left: "\\begin{" + name + "}",
        right: "\\end{" + name + "}",
        display: true,
      }))
    )
  );
  // Bare commands that render on their own (no argument needed) and are not words.
  const BARE_SYMBOLS = new Set(
    ("pi cdot times div pm mp le leq ge geq neq ne approx equiv infty sqrt circ degree " +
      "alpha beta gamma delta theta lambda mu sigma phi omega ldots cdots dots implies iff " +
      "Rightarrow rightarrow to in cap cup subset subseteq angle triangle perp parallel")
      .split(" ")
  );

  /* For each "{" and "[" of `text`, the index just past its balanced closing partner (-1 when
   * it has none), each kind counted on its own, a backslash escaping the next character. One
   * pass with a stack per kind: O(n), so bareSpans stays linear (it used to scan to the end of
   * the text from every unclosed group: seconds on a 96,000-character step). `counter.steps`
   * (optional) counts the characters visited. */
  function groupEnds(text, counter) {
    const ends = new Map();
    const stacks = { "{": [], "[": [] };
    const opener = { "}": "{", "]": "[" };
    for (let j = 0; j < text.length; j++) {
      if (counter) counter.steps++;
      const c = text[j];
      if (c === "\\") {
        j++; // an escaped character never opens or closes
      } else if (c === "{" || c === "[") {
        stacks[c].push(j);
      } else if (c === "}" || c === "]") {
        const open = stacks[opener[c]].pop();
        if (open !== undefined) ends.set(open, j + 1);
      }
    }
    return ends;
  }

  /* [start, end) spans of bare TeX in plain text (rule 2 above). Linear in the length of the
   * text: every character is looked at a bounded number of times (`counter.steps`, optional,
   * counts the steps; a browser test holds it to a multiple of the length). */
  function bareSpans(text, counter) {
    const spans = [];
    const ends = groupEnds(text, counter);
    const groupEnd = (i) => (ends.has(i) ? ends.get(i) : -1);
    const command = /\\([A-Za-z]+)/g;
    const commandHere = /\\([A-Za-z]+)/y;
    let match;
    while ((match = command.exec(text))) {
      const start = match.index;
      let end = start;
      let groups = 0;
      const names = [];
      for (;;) {
        if (counter) counter.steps++;
        commandHere.lastIndex = end;
        const next = commandHere.exec(text);
        if (next) {
          names.push(next[1]);
          end += next[0].length;
          if (text[end] === "[") {
            const close = groupEnd(end);
            if (close < 0) break;
            end = close;
          }
        } else if (text[end] === "{") {
          const close = groupEnd(end);
          if (close < 0) break;
          end = close;
          groups++;
        } else if ((text[end] === "^" || text[end] === "_") && end + 1 < text.length) {
          if (text[end + 1] === "{") {
            const close = groupEnd(end + 1);
            if (close < 0) break;
            end = close;
          } else if (/[A-Za-z0-9]/.test(text[end + 1])) {
            end += 2;
          } else {
            break;
          }
        } else {
          break;
        }
      }
      if (groups > 0 || names.every((name) => BARE_SYMBOLS.has(name))) {
        spans.push([start, end]);
      }
      command.lastIndex = Math.max(end, start + 1);
    }
    return spans;
  }

  /* Dollar signs that are not math delimiters. A "$" pairs with the next unescaped "$" only
   * when both pass Pandoc's rule (tex_math_dollars): the opening one has a non-space
   * character right after it, the closing one a non-space character right before it and no
   * digit right after it; otherwise the opening "$" is a literal dollar. So in "Cost is $5 and
   * then $10" both are prose, while "$5$" and "$x + 1$" are math. $$…$$ is display math. An
   * escaped \$ outside math is a literal dollar (shown without its backslash). Returns
   * [[index, length]] of the literal dollars ("$", "$$" or "\$"). Linear: each search stops at
   * the next "$". */
  function literalDollars(text) {
    const literal = [];
    let noDisplayEnd = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (c === "\\") {
        if (text[i + 1] === "$") literal.push([i, 2]);
        i++;
        continue;
      }
      if (c !== "$") continue;
      if (text[i + 1] === "$") {
        const close = noDisplayEnd ? -1 : text.indexOf("$$", i + 2);
        if (close < 0) noDisplayEnd = true; // none later either: never searched again
        if (close < 0) {
          literal.push([i, 2]);
          i++;
        } else {
          i = close + 1;
        }
        continue;
      }
      let next = -1;
      for (let j = i + 1; j < text.length; j++) {
        if (text[j] === "\\") j++;
        else if (text[j] === "$") {
          next = j;
          break;
        }
      }
      const opens = text[i + 1] !== undefined && !/\s/.test(text[i + 1]);
      const closes =
        next > 0 &&
        text[next + 1] !== "$" &&
        !/\s/.test(text[next - 1]) &&
        !/[0-9]/.test(text[next + 1] || "");
      if (opens && closes) i = next;
      else literal.push([i, 1]);
    }
    return literal;
  }

  /* Wrap literal dollars in <span class="tex-dollar"> (skipped by auto-render). */
  function protectDollars(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) {
      if (walker.currentNode.nodeValue.indexOf("$") >= 0) nodes.push(walker.currentNode);
    }
    nodes.forEach((node) => {
      const text = node.nodeValue;
      const literal = literalDollars(text);
      if (!literal.length) return;
      const fragment = document.createDocumentFragment();
      let at = 0;
      literal.forEach(([index, length]) => {
        fragment.appendChild(document.createTextNode(text.slice(at, index)));
        const dollar = document.createElement("span");
        dollar.className = "tex-dollar";
        dollar.textContent = length === 2 && text[index] === "$" ? "$$" : "$";
        fragment.appendChild(dollar);
        at = index + length;
      });
      fragment.appendChild(document.createTextNode(text.slice(at)));
      node.replaceWith(fragment);
    });
  }

  function renderBare(root) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
      acceptNode(node) {
        const parent = node.parentElement;
        if (parent && parent.closest(".katex, .katex-error")) return NodeFilter.FILTER_REJECT;
        return node.nodeValue.indexOf("\\") >= 0 ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP;
      },
    });
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    nodes.forEach((node) => {
      const text = node.nodeValue;
      const spans = bareSpans(text);
      if (!spans.length) return;
      const fragment = document.createDocumentFragment();
      let at = 0;
      spans.forEach(([start, end]) => {
        const source = text.slice(start, end);
        const holder = document.createElement("span");
        try {
          window.katex.render(source, holder, { throwOnError: true, trust: false, strict: "ignore" });
        } catch (e) {
          return; // not TeX after all: stays text
        }
        fragment.appendChild(document.createTextNode(text.slice(at, start)));
        holder.className = "bare-tex";
        fragment.appendChild(holder);
        at = end;
      });
      if (at === 0) return;
      fragment.appendChild(document.createTextNode(text.slice(at)));
      node.replaceWith(fragment);
    });
  }

  /* Rule 3: no blank lines next to a display formula. */
  function compactDisplays(root) {
    root.querySelectorAll(".katex-display").forEach((display) => {
      const box = display.parentElement && display.parentElement.closest(".math") === root
        ? display.parentElement
        : display;
      const before = box.previousSibling;
      const after = box.nextSibling;
      // a display formula is a block: whitespace next to it (blank lines, the space in
      // "\] This") would only show as a gap or an indent under pre-wrap
      if (before && before.nodeType === Node.TEXT_NODE) {
        before.nodeValue = before.nodeValue.replace(/\s+$/, "");
      }
      if (after && after.nodeType === Node.TEXT_NODE) {
        after.nodeValue = after.nodeValue.replace(/^\s+/, "");
      }
    });
  }

  function renderMath(element) {
    if (!window.renderMathInElement || !window.katex) return;
    element.querySelectorAll(".tex").forEach(function (node) {
      const source = node.textContent;
      if (/[$]|\\\(|\\\[/.test(source)) return;
      window.katex.render(source, node, OPTIONS); // throwOnError false: errors show the source
    });
    element.querySelectorAll(".math").forEach(function (node) {
      // a bad formula shows as its source, never breaks the page
      protectDollars(node);
      window.renderMathInElement(
        node,
        Object.assign({ delimiters: DELIMITERS, ignoredClasses: ["tex-dollar"] }, OPTIONS)
      );
      renderBare(node);
      compactDisplays(node);
    });
  }

  window.StepLabeling = Object.assign(window.StepLabeling || {}, {
    renderMath: renderMath,
    bareSpans: bareSpans,
    literalDollars: literalDollars,
  });
})();
