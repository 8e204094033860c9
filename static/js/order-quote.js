/* The testing-order form's running quote (a form with data-quote-url).

   As a line's service code, samples or express change, the form is sent to the quote URL and
   the quote it answers (tier, unit price, samples, express surcharge, total, and the lab's
   terms) replaces the one shown, with the total it carries in the hidden field the order is
   placed at; a live region reads the new total. Only the latest answer is shown. Without
   JavaScript "Show price and terms" does the same by sending the whole page. */
(function () {
  'use strict';

  var DELAY_MS = 250;
  var PRICED = /^(service|samples|express)_\d+$/;

  function setUp(form) {
    var quote = document.getElementById('order-quote');
    var status = document.getElementById('order-quote-status');
    var timer = null;
    var asked = 0;

    function show(html) {
      quote.innerHTML = html;
      var total = quote.querySelector('[data-quote-total]');
      status.textContent = total ? total.parentNode.textContent.trim() : '';
    }

    // The form carries its token too; the header is how every script of labbook posts.
    var csrfMeta = document.querySelector('meta[name="csrf-token"]');
    var csrfToken = csrfMeta ? csrfMeta.getAttribute('content') : '';

    function requote() {
      var mine = ++asked;
      var body = new FormData(form);
      body.delete('action');
      fetch(form.getAttribute('data-quote-url'), {
        method: 'POST', body: body, credentials: 'same-origin',
        headers: {'Accept': 'text/html', 'X-CSRFToken': csrfToken}
      }).then(function (response) {
        return response.ok && !response.redirected ? response.text() : null;
      }).then(function (html) {
        if (html !== null && mine === asked) {
          show(html);
        }
      }).catch(function () {
        // The quote shown stays; the server checks the total again on submitting.
      });
    }

    function changed(event) {
      if (!event.target.name || !PRICED.test(event.target.name)) {
        return;
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(requote, DELAY_MS);
    }

    form.addEventListener('input', changed);
    form.addEventListener('change', changed);
  }

  document.querySelectorAll('form[data-quote-url]').forEach(setUp);
}());
