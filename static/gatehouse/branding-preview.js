/*
 * The live preview on /orgs/<slug>/settings/ (templates/organizations/settings.html): redraws
 * the sign-in card as the admin edits the display name, the colours and the logo, and says when
 * a colour pair is hard to read. The server checks everything again when the form is saved
 * (organizations/branding/colours.py); this only shows what the result will be.
 * No inline script or style: custom properties are set through the CSSOM.
 */
(function () {
  "use strict";

  var preview = document.getElementById("brand-preview");
  var form = document.getElementById("settings-form");
  if (!preview || !form) {
    return;
  }
  var HEX = /^#[0-9a-fA-F]{6}$/;
  var DEFAULT_BACKGROUND = "#f4f5f7";
  var DEFAULT_TEXT = "#111827";
  var field = function (role) {
    return form.querySelector('[data-brand-colour="' + role + '"]');
  };
  var nameInput = form.querySelector('[name="display_name"]');
  var orgNameInput = form.querySelector('[name="name"]');
  var logoInput = form.querySelector('[name="logo"]');
  var logo = document.getElementById("brand-preview-logo");
  var initial = document.getElementById("brand-preview-initial");
  var title = document.getElementById("brand-preview-name");
  var warning = document.getElementById("brand-preview-warning");

  function channel(value) {
    var s = value / 255;
    return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
  }

  function luminance(hex) {
    var r = parseInt(hex.slice(1, 3), 16);
    var g = parseInt(hex.slice(3, 5), 16);
    var b = parseInt(hex.slice(5, 7), 16);
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  }

  function contrast(a, b) {
    var la = luminance(a);
    var lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }

  function colour(role) {
    var input = field(role);
    var value = input ? input.value.trim() : "";
    return HEX.test(value) ? value.toLowerCase() : "";
  }

  function redraw() {
    var primary = colour("primary");
    var background = colour("background");
    var text = colour("text");
    var problems = [];
    preview.classList.toggle("branded-primary", Boolean(primary));
    if (primary) {
      preview.style.setProperty("--brand-primary", primary);
      if (contrast(primary, "#ffffff") < 4.5) {
        problems.push("White text on " + primary + " is hard to read (" +
          contrast(primary, "#ffffff").toFixed(1) + ":1; 4.5:1 is needed). Pick a darker shade.");
      }
    } else {
      preview.style.removeProperty("--brand-primary");
    }
    var backdrop = Boolean(background || text);
    preview.classList.toggle("branded-backdrop", backdrop);
    if (backdrop) {
      var bg = background || DEFAULT_BACKGROUND;
      var fg = text || DEFAULT_TEXT;
      preview.style.setProperty("--brand-bg", bg);
      preview.style.setProperty("--brand-on-bg", fg);
      if (contrast(bg, fg) < 4.5) {
        problems.push("The text " + fg + " is hard to read on " + bg + " (" +
          contrast(bg, fg).toFixed(1) + ":1; 4.5:1 is needed).");
      }
    } else {
      preview.style.removeProperty("--brand-bg");
      preview.style.removeProperty("--brand-on-bg");
    }
    var name = (nameInput && nameInput.value.trim()) || (orgNameInput && orgNameInput.value.trim()) || "";
    title.textContent = name;
    initial.textContent = name.slice(0, 1).toUpperCase();
    warning.textContent = problems.join(" ");
    warning.hidden = problems.length === 0;
  }

  function showLogo() {
    var file = logoInput && logoInput.files && logoInput.files[0];
    if (!file || !/^image\/(png|jpeg|webp)$/.test(file.type)) {
      return;
    }
    if (logo.dataset.objectUrl) {
      URL.revokeObjectURL(logo.dataset.objectUrl);
    }
    logo.dataset.objectUrl = URL.createObjectURL(file);
    logo.src = logo.dataset.objectUrl;
    logo.hidden = false;
    initial.hidden = true;
  }

  form.addEventListener("input", redraw);
  if (logoInput) {
    logoInput.addEventListener("change", showLogo);
  }
  redraw();
})();
