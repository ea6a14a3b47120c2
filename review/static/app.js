// Progressive enhancement only: every page works without this file.
//
// On the item page:
// - Shortcut keys press the page's real buttons (each carries data-key): a category's digit or
//   letter labels the item with that category and submits at once; Enter confirms the
//   prediction; N "Not an error"; S skip; E escalate (with the note); U undo; V reveals or hides
//   blurred content; ? shows the help dialog. Keys never fire while typing in a field, with
//   Ctrl/Alt/Meta held, or while the help dialog is open (except ? and Escape to close it).
// - The Reveal button toggles the blur without a request (without JS it re-renders the page).
// - A heartbeat every 60 s renews the lease (POST with the CSRF token in X-CSRFToken); when the
//   claim is gone a banner says so.
"use strict";

(function () {
  var HEARTBEAT_MS = 60 * 1000;
  var submitting = false;

  function isTyping(target) {
    if (!(target instanceof Element)) return false;
    if (target.isContentEditable) return true;
    return target.matches("input, textarea, select");
  }

  function keyButtons() {
    var map = {};
    document.querySelectorAll("[data-key]").forEach(function (el) {
      var key = el.getAttribute("data-key");
      map[key.length === 1 ? key.toLowerCase() : key] = el;
    });
    return map;
  }

  function setRevealed(button, revealed) {
    var target = document.getElementById(button.getAttribute("data-reveal"));
    if (!target) return;
    target.classList.toggle("blurred", !revealed);
    button.setAttribute("aria-pressed", revealed ? "true" : "false");
    button.textContent = revealed ? "Hide" : "Reveal";
  }

  function toggleReveal(button) {
    var target = document.getElementById(button.getAttribute("data-reveal"));
    if (target) setRevealed(button, target.classList.contains("blurred"));
  }

  function toggleHelp(dialog) {
    if (!dialog) return;
    if (dialog.open) dialog.close();
    else dialog.showModal();
  }

  function press(button) {
    if (button.disabled || submitting) return;
    if (button.hasAttribute("data-reveal")) {
      toggleReveal(button);
      return;
    }
    // One decision per page: a second key press while the first is on its way does nothing.
    if (button.type === "submit") submitting = true;
    button.click();
  }

  function onKey(event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (isTyping(event.target)) return;
    var help = document.getElementById("help");
    if (event.key === "?") {
      event.preventDefault();
      toggleHelp(help);
      return;
    }
    if (help && help.open) return;
    // Enter on a focused button or link keeps its usual meaning: it activates that control.
    if (event.key === "Enter" && event.target instanceof Element &&
        event.target.matches("button, a, summary")) return;
    var key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    var button = keyButtons()[key];
    if (!button) return;
    event.preventDefault();
    press(button);
  }

  function heartbeat(root) {
    var url = root.getAttribute("data-heartbeat-url");
    var token = root.getAttribute("data-csrf-token");
    if (!url || !token || !window.fetch) return;
    window.setInterval(function () {
      fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": token, "Accept": "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (body && body.lease_expires_at === null) {
            var lost = document.getElementById("lease-lost");
            if (lost) lost.hidden = false;
          }
        })
        .catch(function () { /* offline for a moment: the next beat tries again */ });
    }, HEARTBEAT_MS);
  }

  function init() {
    var root = document.getElementById("review");
    if (!root) return;
    document.addEventListener("keydown", onKey);
    document.querySelectorAll("[data-reveal]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        toggleReveal(button);
      });
    });
    document.querySelectorAll("[data-open-help]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        toggleHelp(document.getElementById(button.getAttribute("data-open-help")));
      });
    });
    document.querySelectorAll("[data-close-help]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.getAttribute("data-close-help"));
        if (dialog && dialog.open) dialog.close();
      });
    });
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function () { submitting = true; });
    });
    // A page restored from the back/forward cache may submit again.
    window.addEventListener("pageshow", function () { submitting = false; });
    heartbeat(root);
    // Says the shortcut keys are live (browser tests wait for it before pressing keys).
    root.setAttribute("data-keys", "on");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
