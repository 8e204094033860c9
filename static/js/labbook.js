/*
 * Small helpers on every page (every page works without them):
 * - a page that shows a refused form moves the focus to its error summary (or to the first
 *   refused field), so keyboard and screen-reader users learn what went wrong without hunting;
 * - a form that is being sent says so on the button that sent it, and is not sent twice by a
 *   second click while the next page loads;
 * - what a form showed for the values it was sent with (a quote, marked data-hide-on-edit)
 *   disappears as soon as one of them is changed, rather than show a price that no longer
 *   applies;
 * - a table too wide for the screen, which scrolls sideways, can be scrolled from the keyboard:
 *   when nothing in it takes the focus, the scrolling box itself does (WCAG 2.1.1), named after
 *   the table's caption or the heading above it.
 */
(function () {
  'use strict';

  function focusErrorSummary() {
    var summary = document.querySelector('[data-error-summary]');
    if (!summary) {
      // No summary: the first field that was refused, with its message next to it.
      var field = document.querySelector('main .is-invalid');
      if (field && field.focus) {
        field.focus();
      }
      return;
    }
    if (!summary.hasAttribute('tabindex')) {
      summary.setAttribute('tabindex', '-1');
    }
    summary.focus({preventScroll: true});
    if (summary.scrollIntoView) {
      summary.scrollIntoView({block: 'center'});
    }
  }

  function busy(button) {
    if (!button || button.classList.contains('lb-busy')) {
      return;
    }
    button.classList.add('lb-busy');
    button.setAttribute('aria-busy', 'true');
    var spinner = document.createElement('span');
    spinner.className = 'spinner-border spinner-border-sm ms-2 lb-busy-spinner';
    spinner.setAttribute('aria-hidden', 'true');
    button.appendChild(spinner);
  }

  function idle(form) {
    delete form.dataset.lbSending;
    Array.prototype.forEach.call(form.querySelectorAll('.lb-busy'), function (button) {
      button.classList.remove('lb-busy');
      button.removeAttribute('aria-busy');
      var spinner = button.querySelector('.lb-busy-spinner');
      if (spinner) {
        spinner.parentNode.removeChild(spinner);
      }
    });
  }

  // On the window, so that it runs after the document's listeners (confirm.js may cancel).
  window.addEventListener('submit', function (event) {
    var form = event.target;
    if (event.defaultPrevented || !form || (form.method || '').toLowerCase() !== 'post') {
      return;
    }
    if (form.dataset.lbSending) {
      event.preventDefault();  // already on its way
      return;
    }
    form.dataset.lbSending = 'true';
    busy(event.submitter || form.querySelector('[type=submit]'));
    // A download (or a page that never comes) leaves the form usable again.
    window.setTimeout(function () { idle(form); }, 10000);
  });

  // Back to a page from the browser's cache: its forms are not being sent any more.
  window.addEventListener('pageshow', function (event) {
    if (event.persisted) {
      Array.prototype.forEach.call(document.forms, idle);
    }
  });

  function hideOnEdit() {
    Array.prototype.forEach.call(document.querySelectorAll('[data-hide-on-edit]'), function (shown) {
      var form = shown.closest('form');
      if (!form) {
        return;
      }
      var hide = function (event) {
        if (event.target && event.target.name) {
          shown.hidden = true;
        }
      };
      form.addEventListener('input', hide);
      form.addEventListener('change', hide);
    });
  }

  function tableName(box) {
    var caption = box.querySelector('caption');
    if (caption && caption.textContent.trim()) {
      return caption.textContent.trim();
    }
    for (var el = box; el && el !== document.body; el = el.parentElement) {
      for (var before = el.previousElementSibling; before; before = before.previousElementSibling) {
        if (/^H[1-6]$/.test(before.tagName) && before.textContent.trim()) {
          return before.textContent.trim();
        }
      }
    }
    return document.title;
  }

  var FOCUSABLE = 'a[href], button, input, select, textarea, [tabindex]';

  function scrollingTablesTakeFocus() {
    Array.prototype.forEach.call(document.querySelectorAll('.table-responsive'), function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (box.dataset.lbScrollFocus) {
        box.tabIndex = scrolls ? 0 : -1;
        return;
      }
      if (!scrolls || box.querySelector(FOCUSABLE)) {
        return;
      }
      box.dataset.lbScrollFocus = 'true';
      box.tabIndex = 0;
      box.setAttribute('role', 'region');
      box.setAttribute('aria-label', tableName(box));
    });
  }

  function ready() {
    focusErrorSummary();
    hideOnEdit();
    scrollingTablesTakeFocus();
    window.addEventListener('resize', scrollingTablesTakeFocus);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', ready);
  } else {
    ready();
  }
}());
