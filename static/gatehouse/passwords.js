/*
 * Gatehouse: password fields. Loaded on every page with <script src defer> (no inline script);
 * the forms work without it, and the server's validators decide either way.
 *
 *  - Every password field gets a "Show" toggle: a real button, labelled, with aria-pressed.
 *  - A field for a new password (autocomplete="new-password") gets a meter and the rules,
 *    ticked as they are met. The estimate is the server's own (zxcvbn in Python, POST
 *    /accounts/password/strength/), asked for once typing pauses, so what the meter says is
 *    what the form will answer. The meter's text is a polite live region.
 *  - The sign-up waiting page's "Send a new code" button counts its cooldown down.
 */
(function () {
  "use strict";

  var ENDPOINT = "/accounts/password/strength/";
  var PAUSE_MS = 250;
  var RULES = [
    ["length", "At least 10 characters"],
    ["strength", "Hard to guess"],
    ["not_breached", "Not known from a data breach"]
  ];

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text) {
      node.textContent = text;
    }
    return node;
  }

  function addToggle(input) {
    var button = el("button", {
      type: "button",
      "class": "btn btn--secondary btn--sm password-toggle",
      "aria-controls": input.id,
      "aria-pressed": "false",
      "aria-label": "Show password"
    }, "Show");
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      button.setAttribute("aria-label", show ? "Hide password" : "Show password");
      input.focus();
    });
    input.insertAdjacentElement("afterend", button);
  }

  function csrfToken(form) {
    var field = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function addMeter(input) {
    var form = input.form;
    var box = el("div", { "class": "password-meter", "data-score": "" });
    var bar = el("div", { "class": "password-meter__bar", "aria-hidden": "true" });
    bar.appendChild(el("span", { "class": "password-meter__fill" }));
    var status = el("p", {
      "class": "password-meter__status",
      id: input.id + "_strength",
      "aria-live": "polite"
    });
    var rules = el("ul", { "class": "password-rules", "aria-label": "Password rules" });
    RULES.forEach(function (rule) {
      rules.appendChild(el("li", { "data-rule": rule[0], "data-met": "false" }, rule[1]));
    });
    box.appendChild(bar);
    box.appendChild(status);
    box.appendChild(rules);
    var anchor = input.nextElementSibling && input.nextElementSibling.classList.contains("password-toggle")
      ? input.nextElementSibling : input;
    anchor.insertAdjacentElement("afterend", box);
    var described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", (described ? described + " " : "") + status.id);

    var timer = null;
    var asked = 0;
    function show(result) {
      box.setAttribute("data-score", String(result.score));
      var text = "Strength: " + result.label + ".";
      if (result.warning) {
        text += " " + result.warning;
      }
      if (result.suggestions && result.suggestions.length) {
        text += " " + result.suggestions.join(" ");
      }
      status.textContent = text;
      RULES.forEach(function (rule) {
        var item = rules.querySelector("[data-rule=" + rule[0] + "]");
        var met = Boolean(result.rules && result.rules[rule[0]]);
        item.setAttribute("data-met", met ? "true" : "false");
        item.textContent = (met ? "\u2713 " : "") + rule[1];
      });
    }
    function ask() {
      var mine = ++asked;
      var body = new URLSearchParams();
      body.set("password", input.value);
      var email = form && form.querySelector("input[name=email]");
      if (email) {
        body.set("email", email.value);
      }
      fetch(ENDPOINT, {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form) },
        body: body
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (result) {
        if (result && mine === asked) {
          show(result);
        }
      }).catch(function () { /* the server still checks on submit */ });
    }
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      if (!input.value) {
        box.setAttribute("data-score", "");
        status.textContent = "";
        return;
      }
      timer = window.setTimeout(ask, PAUSE_MS);
    });
  }

  function countDown(button) {
    var left = parseInt(button.getAttribute("data-cooldown"), 10) || 0;
    var note = document.querySelector("[data-cooldown-left]");
    if (left <= 0) {
      return;
    }
    var tick = window.setInterval(function () {
      left -= 1;
      if (note) {
        note.textContent = String(Math.max(left, 0));
      }
      if (left <= 0) {
        window.clearInterval(tick);
        button.disabled = false;
        var wait = document.getElementById("resend-wait");
        if (wait) {
          wait.setAttribute("aria-live", "polite");
          wait.textContent = "You can ask for a new code now.";
        }
      }
    }, 1000);
  }

  ready(function () {
    document.querySelectorAll("input[type=password]").forEach(function (input) {
      if (!input.id) {
        return;
      }
      addToggle(input);
      if (input.getAttribute("autocomplete") === "new-password" && input.name !== "password2") {
        addMeter(input);
      }
    });
    var resend = document.getElementById("resend-code");
    if (resend) {
      countDown(resend);
    }
  });
})();
