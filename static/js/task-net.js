/* Requests from the task page: every one with a timeout, the CSRF token kept fresh.
 *
 * send() rejects with error.kind "timeout" (no answer within the timeout: AbortController)
 * or "offline" (no connection); an HTTP error is a normal Response for the caller to judge.
 * When a save is refused for the session (expired, or a login in another tab rotated the
 * CSRF token), session(user) asks /session/?user=… whether the browser is signed in again as
 * the page's own user and takes the fresh token from the answer, so the page resends without a
 * reload (docs/annotators.md). The server gives a token only to the page's own user, and the
 * page takes one only for that user. While the page waits for its user (hold()), send() sends
 * nothing but refuses at once with error.kind "auth": a page of user A never sends a request
 * with the cookie of user B who signed in in another tab.
 */
(function () {
  "use strict";

  // Ten seconds: a save is a few milliseconds; a server that has not answered by then is
  // stopped or unreachable. window.STEP_LABELING_SAVE_TIMEOUT_MS overrides it (browser tests).
  function timeoutMs() {
    return Number(window.STEP_LABELING_SAVE_TIMEOUT_MS) || 10000;
  }

  let token = null;

  function csrfToken() {
    if (token !== null) return token;
    try {
      token = JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRFToken"] || "";
    } catch (e) {
      token = "";
    }
    return token;
  }

  function setCsrfToken(fresh) {
    token = fresh;
    // htmx requests on the page (logout form aside) use the same header
    document.body.setAttribute("hx-headers", JSON.stringify({ "X-CSRFToken": fresh }));
  }

  let held = false;

  /* Stop (true) or allow again (false) every request but /session/ (see above). */
  function hold(on) {
    held = Boolean(on);
  }

  function send(method, url, body, options) {
    options = options || {};
    if (held && !options.sessionCheck) {
      const refused = new Error("not signed in as this page's user");
      refused.kind = "auth";
      return Promise.reject(refused);
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), options.timeoutMs || timeoutMs());
    const headers = { Accept: "application/json", "X-CSRFToken": csrfToken() };
    if (body !== undefined && body !== null) headers["Content-Type"] = "application/json";
    Object.assign(headers, options.headers || {});
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      keepalive: Boolean(options.keepalive),
      headers: headers,
      body: body,
      signal: controller.signal,
    })
      .catch((error) => {
        const failure = new Error(
          controller.signal.aborted ? "no answer from the server" : "no connection"
        );
        failure.kind = controller.signal.aborted ? "timeout" : "offline";
        failure.cause = error;
        throw failure;
      })
      .finally(() => clearTimeout(timer));
  }

  /* Resolves {authenticated, username} for the page of `user`, after taking the fresh CSRF
   * token when the browser is signed in as `user` (never another user's); rejects offline. */
  function session(user) {
    const url = "/session/?user=" + encodeURIComponent(user || "");
    return send("GET", url, null, { sessionCheck: true }).then((response) => {
      if (!response.ok) throw new Error(response.statusText);
      return response.json().then((data) => {
        if (data.csrf_token && data.authenticated && data.username === user) {
          setCsrfToken(data.csrf_token);
        }
        return data;
      });
    });
  }

  /* Milliseconds from a Retry-After header (delta-seconds or an HTTP date), or null. */
  function retryAfterMs(response) {
    const value = response && response.headers.get("Retry-After");
    if (!value) return null;
    if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
    const date = Date.parse(value);
    return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
  }

  window.StepLabeling = Object.assign(window.StepLabeling || {}, {
    send: send,
    session: session,
    hold: hold,
    csrfToken: csrfToken,
    retryAfterMs: retryAfterMs,
  });
})();
