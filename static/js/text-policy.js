/* What text the server accepts from the page (labeling/text_policy.py, docs/formats.md "Text
 * and size limits"), checked in the page before a text is taken, so a refused text stays in
 * its form, editable, with the reason next to it.
 *
 * REFUSED is the one list of refused characters on the page's side, the server's `_FORBIDDEN`
 * on its side: surrogate code points U+D800-U+DFFF (a lone one is not valid Unicode; a
 * well-formed pair in a JavaScript string is one astral character and is accepted) and every
 * control character (Unicode Cc) but tab, line feed and carriage return. The two are tied
 * by tests/browser/test_phase1_own_step.py (test_the_page_refuses_exactly_what_the_server_
 * refuses), which runs every code point through both: a change to one list fails it until the
 * other follows. textProblem() words its answer as the server's text_problem() does.
 */
(function () {
  "use strict";

  // Refused: U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+007F-U+009F (control
  // characters but \t \n \r) and U+D800-U+DFFF when not part of a pair.
  const REFUSED = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const NAMES = { 0: "NUL", 0x7f: "DEL" };

  function hex(code) {
    return "U+" + code.toString(16).toUpperCase().padStart(4, "0");
  }

  function describe(code) {
    if (code >= 0xd800 && code <= 0xdfff) {
      return "a lone surrogate (" + hex(code) + "): not valid Unicode text";
    }
    const name = NAMES[code];
    return (
      "the control character " + hex(code) + (name ? " (" + name + ")" : "") +
      ": only tab and line breaks are allowed"
    );
  }

  /* What the server would say is wrong with `text` ("contains the control character U+000C:
   * only tab and line breaks are allowed (at character 19)", the position counted in
   * characters from 1 as Python counts them), or null when it is accepted. */
  function textProblem(text) {
    const found = REFUSED.exec(text);
    if (!found) return null;
    const position = Array.from(text.slice(0, found.index)).length + 1;
    return "contains " + describe(found[0].charCodeAt(0)) + " (at character " + position + ")";
  }

  /* textProblem() and a length limit in characters (code points, as the server counts). */
  function checkText(text, maxChars) {
    const length = Array.from(text).length;
    if (maxChars && length > maxChars) {
      return (
        length.toLocaleString("en-US") + " characters; at most " +
        maxChars.toLocaleString("en-US") + " are allowed"
      );
    }
    return textProblem(text);
  }

  window.StepLabeling = Object.assign(window.StepLabeling || {}, {
    textProblem: textProblem,
    checkText: checkText,
  });
})();
