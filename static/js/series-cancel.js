/*
 * Cancelling a series "from this day on" asks with the fees of the bookings from the day
 * chosen: the page gives the question for each day a booking of the series starts on
 * (data-confirm-by-day); a day between them asks about the bookings from the next one.
 */
(function () {
  'use strict';

  var form = document.getElementById('series-from-form');
  var input = form ? form.elements.namedItem('from_date') : null;
  if (!input) {
    return;
  }
  var byDay = JSON.parse(form.getAttribute('data-confirm-by-day'));
  var days = Object.keys(byDay).sort();

  function question() {
    var chosen = input.value;
    if (!chosen) {  // empty: every booking still to come
      return form.getAttribute('data-confirm-all');
    }
    for (var i = 0; i < days.length; i++) {
      if (days[i] >= chosen) {
        return byDay[days[i]];
      }
    }
    return form.getAttribute('data-confirm-none');
  }

  function update() {
    form.setAttribute('data-confirm', question());
  }

  input.addEventListener('change', update);
  input.addEventListener('input', update);
}());
