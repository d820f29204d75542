/*
 * Gatehouse: small enhancements for the two-step verification pages. Loaded with <script src>
 * (no inline script, so a strict Content-Security-Policy can apply). Everything works without
 * it; it only adds:
 *  - [data-print] buttons (hidden until now) that print the page (backup codes);
 *  - a confirmation before submitting a form marked data-confirm="question" (Remove, …);
 *  - a page reload when django-otp-webauthn reports a passkey registered, so the new passkey
 *    shows in the list with the server's message.
 */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  ready(function () {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        window.print();
      });
    });
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) {
      return;
    }
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // otp_webauthn_register.js dispatches this (bubbling) on #passkey-register-button.
  document.addEventListener("otp_webauthn.register_complete", function () {
    window.setTimeout(function () {
      window.location.reload();
    }, 600);
  });
})();
