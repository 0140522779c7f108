/* The adjudication page: KaTeX over the problem and step texts (.math), by the task page's
 * rules (task-math.js). A file, not an inline script: the Content-Security-Policy allows none. */
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  const root = document.querySelector('[data-testid="adjudicate"]');
  if (root && window.StepLabeling && window.StepLabeling.renderMath) {
    window.StepLabeling.renderMath(root);
  }
});
