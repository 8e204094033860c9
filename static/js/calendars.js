// Calendar subscriptions page: "Copy" buttons for the subscription link.
// Progressive enhancement: the buttons are hidden until this script runs; without it the link
// is still in a read-only field to select and copy by hand.
(function () {
  "use strict";

  function selectField(field) {
    field.focus();
    field.select();
    field.setSelectionRange(0, field.value.length);
  }

  function copied(button) {
    var label = button.textContent;
    button.textContent = button.getAttribute("data-copied-label") || label;
    window.setTimeout(function () { button.textContent = label; }, 2000);
  }

  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy-target"));
    if (!field) { return; }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(function () { copied(button); },
        function () { selectField(field); });
      return;
    }
    selectField(field);
    try {
      if (document.execCommand("copy")) { copied(button); }
    } catch (error) {
      // The text stays selected for copying by hand.
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var buttons = document.querySelectorAll("[data-copy-target]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copy(button); });
    });
  });
})();
