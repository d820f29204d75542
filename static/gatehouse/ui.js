/*
 * Gatehouse: small enhancements on every page. Loaded with <script src defer> (no inline
 * script, so a strict Content-Security-Policy can apply); every page works without it.
 *
 *  - [data-copy] buttons (components/copy_button.html, hidden until now) copy their value to
 *    the clipboard, say "Copied" on the button for a moment, and announce it in a polite live
 *    region for screen readers.
 *  - [data-carry-email] links (the login page's "Send me a sign-in code", "Reset your
 *    password") take the address typed on the page along: it is kept in this tab's
 *    sessionStorage, never in the URL, and fills the empty email field of the page the link
 *    leads to.
 */
(function () {
  "use strict";

  var CARRY_KEY = "gatehouse.carriedEmail";

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  // --- Copy buttons -------------------------------------------------------------------------

  var statusRegion = null;

  function announce(text) {
    if (!statusRegion) {
      return;
    }
    // Emptied first, so that copying twice in a row is announced twice.
    statusRegion.textContent = "";
    window.setTimeout(function () {
      statusRegion.textContent = text;
    }, 50);
  }

  function copyWithSelection(text) {
    // Clipboard API unavailable (plain http on a host other than localhost): copy through a
    // temporary, off-screen text area.
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.top = "-1000px";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (error) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () {
        return copyWithSelection(text);
      });
    }
    return copyWithSelection(text);
  }

  function showResult(button, text) {
    var label = button.querySelector(".copy-button__label");
    if (!label) {
      return;
    }
    window.clearTimeout(button._gatehouseReset);
    label.textContent = text;
    button.classList.toggle("copy-button--done", text === "Copied");
    button._gatehouseReset = window.setTimeout(function () {
      label.textContent = "Copy";
      button.classList.remove("copy-button--done");
    }, 2000);
  }

  function setUpCopyButtons() {
    var buttons = document.querySelectorAll("[data-copy]");
    if (!buttons.length) {
      return;
    }
    statusRegion = document.createElement("div");
    statusRegion.className = "visually-hidden";
    statusRegion.setAttribute("role", "status");
    statusRegion.setAttribute("data-copy-status", "");
    document.body.appendChild(statusRegion);
    buttons.forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        copy(button.getAttribute("data-copy")).then(
          function () {
            showResult(button, "Copied");
            announce("Copied");
          },
          function () {
            showResult(button, "Select and copy it");
            announce("Could not copy. Select the text and copy it yourself.");
          }
        );
      });
    });
  }

  // --- The typed email, carried to the next page ---------------------------------------------

  function setUpCarriedEmail() {
    var stored = null;
    try {
      stored = JSON.parse(window.sessionStorage.getItem(CARRY_KEY) || "null");
      window.sessionStorage.removeItem(CARRY_KEY);
    } catch (error) {
      stored = null;
    }
    if (stored && stored.path === window.location.pathname && stored.email) {
      var field = document.querySelector("main input[type=email][name=email]");
      if (field && !field.value) {
        field.value = stored.email;
      }
    }

    document.querySelectorAll("a[data-carry-email]").forEach(function (link) {
      link.addEventListener("click", function () {
        var source = document.querySelector(link.getAttribute("data-carry-email"));
        var email = source ? source.value.trim() : "";
        if (!email || email.indexOf("@") < 1) {
          return;
        }
        try {
          var target = new URL(link.href, window.location.href);
          window.sessionStorage.setItem(
            CARRY_KEY,
            JSON.stringify({ path: target.pathname, email: email })
          );
        } catch (error) {
          // Storage unavailable (private mode, quota): the next page starts empty.
        }
      });
    });
  }

  ready(function () {
    setUpCopyButtons();
    setUpCarriedEmail();
  });
})();
