/* The task page's keys (docs/annotators.md, "Keys"): which action a keydown means.
 *
 * The rule for keyboard layouts: a key is matched first by the character it types
 * (event.key), so letters are the ones printed on the annotator's own keyboard; when that
 * character is none of ours and not a Latin letter, by the physical key (event.code) at that
 * place on a US QWERTY keyboard. So on AZERTY the key printed "1 &" rates Negative (it types "&", physical Digit1),
 * and on a Cyrillic layout the key in the place of F flags (it types "а", physical KeyF).
 * Auto-repeat (a held key) never repeats an action that changes the labeling.
 */
(function () {
  "use strict";

  const BY_CHARACTER = {
    "1": ["rate", -1],
    "-": ["rate", -1],
    "2": ["rate", 0],
    "0": ["rate", 0],
    "3": ["rate", 1],
    "+": ["rate", 1],
    f: ["flag"],
    u: ["undo"],
    g: ["give_up"],
    b: ["bad_problem"],
    "?": ["help"],
    Backspace: ["undo"],
    Enter: ["submit"],
    Escape: ["close"],
    ArrowUp: ["move", -1],
    ArrowLeft: ["move", -1],
    ArrowDown: ["move", 1],
    ArrowRight: ["move", 1],
  };
  const BY_PHYSICAL_KEY = {
    Digit1: ["rate", -1],
    Numpad1: ["rate", -1],
    Minus: ["rate", -1],
    NumpadSubtract: ["rate", -1],
    Digit2: ["rate", 0],
    Numpad2: ["rate", 0],
    Digit0: ["rate", 0],
    Numpad0: ["rate", 0],
    Digit3: ["rate", 1],
    Numpad3: ["rate", 1],
    NumpadAdd: ["rate", 1],
    KeyF: ["flag"],
    KeyU: ["undo"],
    KeyG: ["give_up"],
    KeyB: ["bad_problem"],
    NumpadEnter: ["submit"],
  };
  // Actions a held key may repeat (moving through the steps); all others act once per press.
  const REPEATABLE = new Set(["move"]);

  /* [action, argument] for a keydown, or null. */
  function keyAction(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return null;
    const key = event.key && event.key.length === 1 ? event.key.toLowerCase() : event.key;
    if (BY_CHARACTER[key]) return BY_CHARACTER[key];
    // A Latin letter that is none of ours stays none of ours (Dvorak's "x" on the place of B
    // does not report a problem); anything else falls back to the physical key.
    if (/^[a-z]$/.test(key)) return null;
    return BY_PHYSICAL_KEY[event.code] || null;
  }

  function isRepeatable(action) {
    return REPEATABLE.has(action[0]);
  }

  /* True when the keydown happens where typing goes (a text field, a select, an editable). */
  function inTextField(target) {
    if (!target || !target.tagName) return false;
    if (target.isContentEditable) return true;
    if (target.tagName === "TEXTAREA" || target.tagName === "SELECT") return true;
    if (target.tagName !== "INPUT") return false;
    const type = (target.getAttribute("type") || "text").toLowerCase();
    return !["button", "submit", "reset", "checkbox", "radio", "range", "color"].includes(type);
  }

  /* Ctrl+Enter / Cmd+Enter, or Enter without Shift: send the reason (Shift+Enter: newline). */
  function isSendReason(event) {
    return event.key === "Enter" && !event.shiftKey && !event.altKey && !event.isComposing;
  }

  window.StepLabeling = Object.assign(window.StepLabeling || {}, {
    keyAction: keyAction,
    isRepeatable: isRepeatable,
    inTextField: inTextField,
    isSendReason: isSendReason,
  });
})();
