/* Warns an official shortly before their idle session ends and lets them extend it with one
 * action (WCAG 2.2.1 Timing Adjustable). Progressive: without this script every official page
 * still states when the session ends and offers the same "Seguir conectado" button, which
 * posts and returns to the page. See docs/accessibility.md. */
(function () {
  "use strict";
  var notice = document.getElementById("session-notice");
  var dialog = document.getElementById("session-warning");
  if (!notice || !dialog || typeof dialog.showModal !== "function" || !window.fetch) {
    return;
  }
  var warnMs = Number(notice.getAttribute("data-session-warn")) * 1000;
  var deadline = Date.now() + Number(notice.getAttribute("data-session-remaining")) * 1000;
  var countdown = dialog.querySelector("[data-countdown]");
  var announce = dialog.querySelector("[data-announce]");
  var text = dialog.querySelector("#session-warning-text");
  var endsAt = notice.querySelector("[data-session-ends]");
  var returnFocus = null;
  var announced = 0;

  function format(ms) {
    var seconds = Math.ceil(ms / 1000);
    var rest = seconds % 60;
    return Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function open() {
    returnFocus = document.activeElement;
    dialog.showModal();
    dialog.querySelector("[data-keep-alive] button").focus();
  }

  function close() {
    if (!dialog.open) {
      return; // extended from the page's own notice: nothing to close, focus stays
    }
    dialog.close();
    if (returnFocus && typeof returnFocus.focus === "function") {
      returnFocus.focus();
    }
    returnFocus = null;
    announced = 0;
  }

  function tick() {
    var left = deadline - Date.now();
    if (left <= 0) {
      // The server has ended the session: reloading (as a GET) shows the login page, which
      // brings the person back here after signing in.
      window.location.assign(window.location.href.split("#")[0]);
      return;
    }
    if (left <= warnMs) {
      if (!dialog.open) {
        open();
      }
      countdown.textContent = format(left);
      // Screen readers hear the remaining time at each whole minute and at 30 seconds,
      // not every second.
      var mark = left <= 30000 ? 30 : Math.ceil(left / 60000) * 60;
      if (announced && mark < announced) {
        announce.textContent = text.textContent.replace(/\s+/g, " ");
      }
      announced = announced ? Math.min(announced, mark) : mark;
    }
    window.setTimeout(tick, 1000);
  }

  function keepAlive(event) {
    var form = event.target;
    event.preventDefault();
    var token = form.querySelector("input[name=csrfmiddlewaretoken]").value;
    window.fetch(form.action, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": token},
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("keep-alive refused");
      }
      return response.json();
    }).then(function (data) {
      deadline = Date.now() + data.remaining_seconds * 1000;
      endsAt.textContent = data.ends_display;
      endsAt.setAttribute("datetime", data.ends_at);
      close();
    }).catch(function () {
      form.submit(); // the plain form: the server answers or asks to sign in again
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-keep-alive]"), function (f) {
    f.addEventListener("submit", keepAlive);
  });
  // Escape closes the dialog: the person is here, so that too extends the session.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    dialog.querySelector("[data-keep-alive] button").click();
  });
  window.setTimeout(tick, 1000);
}());
