/* What text the server accepts from the page (labeling/text_policy.py, docs/formats.md "Text
 * and size limits"), checked in the page before a text is taken, so a refused text stays in
 * its form, editable, with the reason next to it.
 *
 * REFUSED is the one list of refused characters on the page's side, the server's
 * `REFUSED_CODE_POINTS` on its side: surrogate code points U+D800-U+DFFF (a lone one is not
 * valid Unicode; a well-formed pair in a JavaScript string is one astral character and is
 * accepted), every control character (Unicode Cc) but tab, line feed and carriage return, and
 * the bidi embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069), and the
 * noncharacters (U+FDD0-U+FDEF, the last two code points of every plane). isBlank()
 * is the server's is_blank() (whitespace as Python's str.isspace, and Unicode Cf). They are tied
 * by tests/browser/test_phase1_own_step.py (test_the_page_refuses_exactly_what_the_server_
 * refuses), which runs every code point through both: a change to one list fails it until the
 * other follows. textProblem() words its answer as the server's text_problem() does.
 */
(function () {
  "use strict";

  // Refused: U+0000-U+0008, U+000B, U+000C, U+000E-U+001F, U+007F-U+009F (control
  // characters but \t \n \r), the bidi controls U+202A-U+202E and U+2066-U+2069, the
  // noncharacters U+FDD0-U+FDEF, U+FFFE, U+FFFF and U+1FFFE ... U+10FFFF (the last two of
  // every plane: as a pair, a high surrogate whose low 6 bits are all 1 before U+DFFE or
  // U+DFFF), and U+D800-U+DFFF when not part of a pair.
  const REFUSED = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
  const NAMES = { 0: "NUL", 0x7f: "DEL" };
  // the Unicode names of the bidi controls (Python's unicodedata.name on the server)
  const BIDI = {
    0x202a: "LEFT-TO-RIGHT EMBEDDING",
    0x202b: "RIGHT-TO-LEFT EMBEDDING",
    0x202c: "POP DIRECTIONAL FORMATTING",
    0x202d: "LEFT-TO-RIGHT OVERRIDE",
    0x202e: "RIGHT-TO-LEFT OVERRIDE",
    0x2066: "LEFT-TO-RIGHT ISOLATE",
    0x2067: "RIGHT-TO-LEFT ISOLATE",
    0x2068: "FIRST STRONG ISOLATE",
    0x2069: "POP DIRECTIONAL ISOLATE",
  };
  // Python's str.isspace() characters, and every format character (Cf)
  const BLANK = /^[\t\n\x0b\x0c\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\p{Cf}]*$/u;

  function hex(code) {
    return "U+" + code.toString(16).toUpperCase().padStart(4, "0");
  }

  function describe(code) {
    if (code >= 0xd800 && code <= 0xdfff) {
      return "a lone surrogate (" + hex(code) + "): not valid Unicode text";
    }
    if (BIDI[code]) {
      return (
        "the bidirectional control " + hex(code) + " (" + BIDI[code] + "): it reorders " +
        "the text shown after it"
      );
    }
    if ((code >= 0xfdd0 && code <= 0xfdef) || (code & 0xfffe) === 0xfffe) {
      return "the noncharacter " + hex(code) + ": not meant for text";
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
    return "contains " + describe(found[0].codePointAt(0)) + " (at character " + position + ")";
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

  /* Whether `text` is empty once whitespace and invisible format characters are removed: the
   * server's is_blank(), what "a non-empty text is required" means. */
  function isBlank(text) {
    return BLANK.test(text);
  }

  window.StepLabeling = Object.assign(window.StepLabeling || {}, {
    isBlank: isBlank,
    textProblem: textProblem,
    checkText: checkText,
  });
})();
