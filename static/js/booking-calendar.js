/*
 * The instrument calendar: busy time from the events feed, drag to fill the booking form,
 * every rule problem shown before the form is sent, suggested slots that refill the form.
 * Configuration comes from data-* attributes; the page works without this script.
 */
(function () {
  'use strict';

  var calendarEl = document.getElementById('booking-calendar');
  var form = document.getElementById('booking-form');
  var LabTime = window.LabTime;
  if (!calendarEl || !LabTime) {
    return;
  }
  var config = JSON.parse(calendarEl.getAttribute('data-config'));
  var text = calendarEl.dataset;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrfToken = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var resultEl = document.getElementById('check-result');
  var calendar = null;
  var checkSequence = 0;
  var checkTimer = null;
  // The time last chosen in the calendar itself (not typed into the form).
  var selected = null;

  function field(name) {
    return form ? form.elements.namedItem(name) : null;
  }

  function value(name) {
    var element = field(name);
    return element && element.value ? element.value.trim() : '';
  }

  function minutesToDuration(minutes) {
    var hours = Math.floor(minutes / 60);
    var rest = minutes % 60;
    return (hours < 10 ? '0' : '') + hours + ':' + (rest < 10 ? '0' : '') + rest + ':00';
  }

  // -- the booking form --------------------------------------------------------------------

  function setFormTimes(date, startTime, endTime, endDate) {
    if (!form) {
      return;
    }
    field('date').value = date;
    field('start_time').value = startTime;
    field('end_time').value = endTime;
    field('end_date').value = endDate && endDate !== date ? endDate : '';
    scheduleCheck(0);
  }

  // A time chosen with the keyboard keeps the focus in the calendar (the choice is announced);
  // one chosen by pointer moves on to the purpose.
  var keepFocus = false;

  function fillFromSelection(start, end) {
    var from = LabTime.wallParts(start);
    var to = LabTime.wallParts(end);
    setFormTimes(from.date, from.time, to.time, to.date);
    selected = requestedInterval();
    var purpose = field('purpose');
    if (purpose && !purpose.value && !keepFocus) {
      purpose.focus({preventScroll: true});
    }
    if (resultEl && resultEl.scrollIntoView) {
      resultEl.scrollIntoView({block: 'nearest', behavior: 'smooth'});
    }
  }

  // A whole date the form accepts. While a year is being typed digit by digit the field holds
  // years like 0002 or 0202 for a moment: those are not asked about.
  function plausibleDate(date) {
    return /^20\d{2}-\d{2}-\d{2}$/.test(date);
  }

  function requestedInterval() {
    var date = value('date');
    var start = value('start_time');
    var end = value('end_time');
    var endDate = value('end_date');
    if (!plausibleDate(date) || (endDate && !plausibleDate(endDate)) ||
        !/^\d{2}:\d{2}$/.test(start) || !/^\d{2}:\d{2}$/.test(end)) {
      return null;
    }
    return {
      start: LabTime.isoFromParts(date, start, config.labOffset),
      end: LabTime.isoFromParts(endDate || date, end, config.labOffset)
    };
  }

  // -- checking a time with the server -----------------------------------------------------

  function clear(element) {
    while (element.firstChild) {
      element.removeChild(element.firstChild);
    }
  }

  function node(tag, className, content) {
    var element = document.createElement(tag);
    if (className) {
      element.className = className;
    }
    if (content) {
      element.textContent = content;
    }
    return element;
  }

  function suggestionButton(suggestion) {
    if (suggestion.same_instrument) {
      var button = node('button', 'btn btn-outline-primary btn-sm', suggestion.label);
      button.type = 'button';
      button.addEventListener('click', function () {
        useSuggestion(suggestion.date, suggestion.start_time, suggestion.end_time,
          suggestion.end_date);
      });
      return button;
    }
    var link = node('a', 'btn btn-outline-secondary btn-sm', suggestion.label);
    link.href = withFormText(suggestion.url);
    return link;
  }

  function withFormText(url) {
    var target = new URL(url, window.location.href);
    ['purpose', 'project_ref'].forEach(function (name) {
      if (value(name)) {
        target.searchParams.set(name, value(name));
      }
    });
    return target.toString();
  }

  // A refusal for want of training says whom to ask and offers to ask for it (or says when
  // the person did).
  function trainingHelp(training) {
    var box = node('section', 'alert alert-info py-2 mt-2 mb-0');
    box.setAttribute('data-training-help', '');
    box.appendChild(node('p', 'fw-semibold mb-1', text.msgTrainingTitle));
    var contact = training.contact;
    if (contact) {
      var address = node('address', 'mb-2');
      address.appendChild(node('strong', null, contact.name));
      [['tel:', contact.phone, text.msgPhone], ['mailto:', contact.email, text.msgEmail]]
        .forEach(function (entry) {
          if (!entry[1]) {
            return;
          }
          address.appendChild(document.createElement('br'));
          address.appendChild(node('span', 'visually-hidden', entry[2] + ': '));
          var link = node('a', 'text-break', entry[1]);
          link.href = entry[0] + entry[1].replace(/ /g, '');
          address.appendChild(link);
        });
      box.appendChild(address);
    } else {
      box.appendChild(node('p', 'mb-2 text-muted', text.msgNoContact));
    }
    if (training.requested_label) {
      var asked = node('p', 'mb-0', text.msgTrainingRequested.replace('{when}',
        training.requested_label));
      asked.setAttribute('data-training-requested', '');
      box.appendChild(asked);
      return box;
    }
    var request = node('form', 'mb-0');
    request.method = 'post';
    request.action = training.request_url;
    [['csrf_token', csrfToken], ['next', window.location.pathname]].forEach(function (pair) {
      var hidden = node('input');
      hidden.type = 'hidden';
      hidden.name = pair[0];
      hidden.value = pair[1];
      request.appendChild(hidden);
    });
    var button = node('button', 'btn btn-primary btn-sm', text.msgRequestTraining);
    button.type = 'submit';
    request.appendChild(button);
    request.appendChild(node('span', 'small text-muted ms-1', text.msgRequestTrainingNote));
    box.appendChild(request);
    return box;
  }

  // What the time costs and what cancelling it would cost, in the server's words; drawn as
  // the page draws it without JavaScript (booking/_macros.html, price_note).
  function priceNote(answer) {
    var note = node('div', 'lb-price mt-2');
    note.setAttribute('data-price', '');
    var estimate = node('p', 'mb-1', answer.estimate.text);
    estimate.setAttribute('data-estimate', '');
    note.appendChild(estimate);
    var fee = answer.cancellation_fee;
    if (fee) {
      var terms = node('p', fee.in_window ? 'alert alert-warning py-1 px-2 mb-0' : 'small text-muted mb-0',
        fee.text);
      terms.setAttribute('data-cancellation-fee', '');
      note.appendChild(terms);
    }
    return note;
  }

  // The time chosen in the calendar shows its price too, once the server has priced it. The
  // calendar draws the selection anew whenever it redraws (another week, events fetched
  // again), so the price is kept here and drawn again each time (`selectionContent`).
  var selectionPrice = null;  // {start, end, label}: the ISO times priced, and the amount

  function isPricedSelection(start, end) {
    return Boolean(selectionPrice && selected && selectionPrice.start === selected.start &&
      selectionPrice.end === selected.end && start === selected.start && end === selected.end);
  }

  function labelSelection(answer, interval) {
    if (!answer.estimate || !selected || interval.start !== selected.start ||
        interval.end !== selected.end) {
      return;
    }
    selectionPrice = {start: interval.start, end: interval.end, label: answer.estimate.label};
    var mirror = calendarEl.querySelector('.fc-event-mirror .fc-event-main');
    if (!mirror) {
      return;
    }
    var label = mirror.querySelector('.lb-selection-price');
    if (!label) {
      label = mirror.appendChild(node('div', 'lb-selection-price'));
    }
    label.textContent = selectionPrice.label;
  }

  // The selection as FullCalendar draws it (its times), with its price while it stands.
  function selectionContent(info) {
    if (!info.isMirror || !info.event.start || !info.event.end ||
        !isPricedSelection(LabTime.isoFromWall(info.event.start, config.labOffset),
          LabTime.isoFromWall(info.event.end, config.labOffset))) {
      return true;  // FullCalendar's own content
    }
    var frame = node('div', 'fc-event-main-frame');
    frame.appendChild(node('div', 'fc-event-time', info.timeText));
    frame.appendChild(node('div', 'lb-selection-price', selectionPrice.label));
    return {domNodes: [frame]};
  }

  function showAnswer(answer, interval) {
    clear(resultEl);
    if (interval) {
      labelSelection(answer, interval);
    }
    var problems = answer.problems || [];
    if (answer.ok && !problems.length) {
      resultEl.appendChild(node('div', 'alert alert-success py-2 mb-0', text.msgOk));
      if (answer.estimate) {
        resultEl.appendChild(priceNote(answer));
      }
      return;
    }
    var box = node('div', 'alert ' + (answer.ok ? 'alert-warning' : 'alert-danger') + ' py-2 mb-0');
    box.appendChild(node('p', 'mb-1', text.msgProblems));
    var list = node('ul', 'mb-0');
    problems.forEach(function (problem) {
      var item = node('li', null, problem.message);
      item.setAttribute('data-code', problem.code);
      if (problem.soft && field('override')) {
        item.appendChild(node('span', 'text-muted', ' (' + text.msgSoft + ')'));
      }
      list.appendChild(item);
    });
    box.appendChild(list);
    problems.forEach(function (problem) {
      if (problem.training) {
        box.appendChild(trainingHelp(problem.training));
      }
    });
    var suggestions = answer.suggestions || [];
    if (suggestions.length) {
      box.appendChild(node('p', 'mt-2 mb-1', text.msgSuggestions));
      var buttons = node('div', 'd-flex flex-wrap gap-2');
      suggestions.forEach(function (suggestion) {
        buttons.appendChild(suggestionButton(suggestion));
      });
      box.appendChild(buttons);
    }
    resultEl.appendChild(box);
    if (answer.estimate) {
      resultEl.appendChild(priceNote(answer));
    }
  }

  function showMessage(className, message) {
    clear(resultEl);
    resultEl.appendChild(node('div', className, message));
  }

  function check() {
    if (!resultEl) {
      return;
    }
    var interval = requestedInterval();
    if (!interval) {
      clear(resultEl);
      return;
    }
    var body = {start: interval.start, end: interval.end};
    var override = field('override');
    if (override && override.checked) {
      body.override = true;
    }
    // Booked for someone else: their rules and their organization's price.
    if (value('for_user')) {
      body.for_user = value('for_user');
    }
    retireSummary();
    var sequence = ++checkSequence;
    showMessage('text-muted small', text.msgChecking);
    fetch(config.checkUrl, {
      method: 'POST',
      credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', 'Accept': 'application/json',
                'X-CSRFToken': csrfToken},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        return {ok: response.ok, data: data};
      });
    }).then(function (reply) {
      if (sequence !== checkSequence) {
        return;
      }
      if (reply.ok) {
        showAnswer(reply.data, interval);
      } else if (reply.data && reply.data.problems) {
        showAnswer({ok: false, problems: reply.data.problems, suggestions: []});
      } else {
        showMessage('alert alert-secondary py-2 mb-0',
          (reply.data && reply.data.title) || text.msgFailed);
      }
    }).catch(function () {
      if (sequence === checkSequence) {
        showMessage('alert alert-secondary py-2 mb-0', text.msgFailed);
      }
    });
  }

  function scheduleCheck(delay) {
    window.clearTimeout(checkTimer);
    checkTimer = window.setTimeout(check, delay);
  }

  // After a refusal, the summary at the top is about the time that was sent. Once another
  // time is chosen it no longer applies: the check below the times speaks for the new one.
  var sentInterval = requestedInterval();

  function retireSummary() {
    var summary = document.getElementById('error-summary');
    var interval = requestedInterval();
    if (summary && sentInterval && interval &&
        (interval.start !== sentInterval.start || interval.end !== sentInterval.end)) {
      summary.hidden = true;
    }
  }

  function useSuggestion(date, startTime, endTime, endDate) {
    setFormTimes(date, startTime, endTime, endDate);
    if (calendar) {
      calendar.gotoDate(date);
    }
  }

  // -- repeat options: shown only when a repeat is chosen ----------------------------------

  function syncRepeat() {
    var options = document.getElementById('repeat-options');
    var chosen = form ? form.querySelector('input[name="repeat"]:checked') : null;
    if (options) {
      options.classList.toggle('d-none', !chosen || chosen.value === 'none');
    }
  }

  if (form) {
    ['date', 'start_time', 'end_time', 'end_date', 'override', 'for_user'].forEach(function (name) {
      var element = field(name);
      if (element) {
        element.addEventListener('change', function () { scheduleCheck(300); });
      }
    });
    // A day chosen in the form is shown in the calendar too (handy on a phone's day view).
    var dateField = field('date');
    var gotoTimer = null;
    if (dateField) {
      dateField.addEventListener('change', function () {
        window.clearTimeout(gotoTimer);
        gotoTimer = window.setTimeout(function () {
          if (calendar && plausibleDate(dateField.value)) {
            calendar.gotoDate(dateField.value);
          }
        }, 300);
      });
    }
    form.addEventListener('change', function (event) {
      if (event.target && event.target.name === 'repeat') {
        syncRepeat();
      }
    });
    syncRepeat();
    // A refusal of the time in the form, just sent by the server (its problems carry codes),
    // says at the top all the check would, the way to training and the free slots with it.
    if (requestedInterval() && !document.querySelector('#error-summary [data-code]')) {
      scheduleCheck(0);
    }
  }

  // Suggestions rendered by the server after a refusal: same instrument -> refill in place.
  Array.prototype.forEach.call(document.querySelectorAll('.js-suggestion'), function (link) {
    if (link.getAttribute('data-same-instrument') !== 'true' || !form) {
      return;
    }
    link.addEventListener('click', function (event) {
      event.preventDefault();
      useSuggestion(link.getAttribute('data-date'), link.getAttribute('data-start-time'),
        link.getAttribute('data-end-time'), link.getAttribute('data-end-date'));
    });
  });

  // -- the calendar ------------------------------------------------------------------------

  if (!window.FullCalendar) {
    return;
  }

  function toEvent(entry) {
    var event = {
      title: entry.title,
      start: LabTime.wallFromIso(entry.start),
      end: LabTime.wallFromIso(entry.end)
    };
    if (entry.kind === 'blackout') {
      event.display = 'background';
      event.classNames = ['lb-blackout'];
    } else {
      event.classNames = ['lb-booking', entry.own ? 'lb-own' : 'lb-busy'];
      if (entry.state) {
        event.classNames.push('lb-state-' + entry.state);
      }
      if (entry.url) {
        event.url = entry.url;
      }
    }
    return event;
  }

  function loadEvents(info, success, failure) {
    var url = new URL(config.eventsUrl, window.location.href);
    url.searchParams.set('start', LabTime.isoFromWall(info.start, config.labOffset));
    url.searchParams.set('end', LabTime.isoFromWall(info.end, config.labOffset));
    fetch(url.toString(), {credentials: 'same-origin', headers: {'Accept': 'application/json'}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error('HTTP ' + response.status);
        }
        return response.json();
      })
      .then(function (entries) { success(entries.map(toEvent)); })
      .catch(function (error) {
        var note = document.createElement('div');
        note.className = 'alert alert-warning mt-2';
        note.textContent = text.msgLoadFailed;
        if (!calendarEl.parentNode.querySelector('.lb-load-failed')) {
          note.classList.add('lb-load-failed');
          calendarEl.parentNode.insertBefore(note, calendarEl.nextSibling);
        }
        failure(error);
      });
  }

  var statusEl = document.getElementById('calendar-status');

  function loading(isLoading) {
    calendarEl.setAttribute('aria-busy', isLoading ? 'true' : 'false');
    if (statusEl) {
      statusEl.textContent = isLoading ? text.msgLoading : '';
    }
  }

  // -- choosing a time by a tap or a click, and with the keyboard --------------------------
  //
  // A tap (or a click) chooses a time of the usual length from where it lands: an hour, or the
  // instrument's shortest booking when that is longer, cut short by the next busy time. A long
  // press then a drag still chooses any length. With the keyboard, the calendar's grid takes
  // the focus: the arrow keys move a highlighted time (up and down by a slot, left and right
  // by a day), Enter or Space chooses it, Escape clears the choice; each move is announced.

  var MINUTE = 60000;
  var slotMinutes = config.slotMinutes;
  var usualMinutes = Math.min(config.maxMinutes || Infinity, Math.max(config.minMinutes || 0,
    Math.ceil(60 / slotMinutes) * slotMinutes));
  var cursorEl = document.getElementById('calendar-cursor');
  var cursor = null;  // the keyboard's highlighted start (a wall date)
  var CURSOR_ID = 'lb-keyboard-cursor';

  function addMinutes(date, minutes) {
    return new Date(date.getTime() + minutes * MINUTE);
  }

  function minutesOfDay(time) {  // "08:30" or "08:30:00" -> 510
    var parts = time.split(':');
    return parseInt(parts[0], 10) * 60 + parseInt(parts[1], 10);
  }

  function dayStart(date) {
    return new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  }

  var dayFormat = new Intl.DateTimeFormat(document.documentElement.lang || 'zh-CN',
    {weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC'});

  function describeSpan(start, end) {
    return dayFormat.format(start) + ' ' + LabTime.wallParts(start).time + '–' +
      LabTime.wallParts(end).time;
  }

  // What holds the time from start to end: a closure, one's own booking, someone else's.
  function busyEvents(start, end) {
    if (!calendar) {
      return [];
    }
    return calendar.getEvents().filter(function (event) {
      return event.id !== CURSOR_ID && event.start < end && (event.end || event.start) > start;
    });
  }

  function isOpen(start, end) {
    var hours = config.businessHours || [];
    if (!hours.length) {
      return true;
    }
    var weekday = start.getUTCDay();
    var from = start.getUTCHours() * 60 + start.getUTCMinutes();
    var to = from + (end - start) / MINUTE;
    return hours.some(function (span) {
      return span.daysOfWeek.indexOf(weekday) !== -1 && minutesOfDay(span.startTime) <= from &&
        to <= minutesOfDay(span.endTime);
    });
  }

  // The time a tap or Enter chooses from start: the usual length, ending at the next busy time.
  function usualSpan(start) {
    var end = addMinutes(start, usualMinutes);
    var dayEnd = addMinutes(dayStart(start), minutesOfDay(config.slotMaxTime));
    if (end > dayEnd) {
      end = dayEnd;
    }
    busyEvents(start, end).forEach(function (event) {
      if (event.start > start && event.start < end) {
        end = event.start;
      }
    });
    return {start: start, end: end};
  }

  function availability(start, end) {
    if (start < LabTime.labNow(config.labOffset)) {
      return text.msgPast;
    }
    var busy = busyEvents(start, end);
    if (busy.some(function (event) { return event.classNames.indexOf('lb-blackout') !== -1; })) {
      return text.msgClosed;
    }
    if (busy.some(function (event) { return event.classNames.indexOf('lb-own') !== -1; })) {
      return text.msgOwn;
    }
    if (busy.length) {
      return text.msgBooked;
    }
    return isOpen(start, end) ? text.msgFree : text.msgOutside;
  }

  function announce(message) {
    if (cursorEl) {
      cursorEl.textContent = message;
    }
  }

  // Chooses the usual span from start, unless start itself is past or taken (then says so).
  function chooseFrom(start, byKeyboard) {
    var slotEnd = addMinutes(start, slotMinutes);
    if (!config.selectable || start < LabTime.labNow(config.labOffset) ||
        busyEvents(start, slotEnd).length) {
      announce(describeSpan(start, slotEnd) + ' — ' + availability(start, slotEnd));
      return;
    }
    var span = usualSpan(start);
    keepFocus = byKeyboard;
    calendar.select(span.start, span.end);  // fills the form through `select`
    keepFocus = false;
    announce(text.msgChosen + ' ' + describeSpan(span.start, span.end) + ' — ' +
      availability(span.start, span.end));
  }

  function showCursor() {
    var shown = calendar.getEventById(CURSOR_ID);
    if (shown) {
      shown.remove();
    }
    var slotEnd = addMinutes(cursor, slotMinutes);
    calendar.addEvent({id: CURSOR_ID, start: cursor, end: slotEnd, display: 'background',
      classNames: ['lb-cursor']});
    var view = calendar.view;
    if (cursor < view.activeStart || cursor >= view.activeEnd) {
      calendar.gotoDate(cursor);
    }
    announce(describeSpan(cursor, slotEnd) + ' — ' + availability(cursor, slotEnd));
  }

  function firstCursor() {
    var interval = requestedInterval();
    if (interval) {
      return new Date(LabTime.wallFromIso(interval.start) + 'Z');
    }
    var now = LabTime.labNow(config.labOffset);
    var start = dayStart(calendar.view.activeStart > now ? calendar.view.activeStart : now);
    var first = minutesOfDay(config.slotMinTime);
    var minutes = Math.max(first, Math.ceil((now - start) / MINUTE / slotMinutes) * slotMinutes);
    if (minutes + slotMinutes > minutesOfDay(config.slotMaxTime)) {  // the day is over
      return addMinutes(start, 24 * 60 + first);
    }
    return addMinutes(start, minutes);
  }

  function moveCursor(minutes) {
    var next = addMinutes(cursor, minutes);
    var start = dayStart(next);
    var first = addMinutes(start, minutesOfDay(config.slotMinTime));
    var last = addMinutes(start, minutesOfDay(config.slotMaxTime) - slotMinutes);
    cursor = next < first ? first : (next > last ? last : next);
    showCursor();
  }

  function onGridKey(event) {
    if (event.target !== event.currentTarget || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    var moves = {ArrowUp: -slotMinutes, ArrowDown: slotMinutes, ArrowLeft: -24 * 60,
                 ArrowRight: 24 * 60, PageUp: -7 * 24 * 60, PageDown: 7 * 24 * 60};
    if (event.key === 'Escape') {
      calendar.unselect();
      selected = null;
      var shown = calendar.getEventById(CURSOR_ID);
      if (shown) {
        shown.remove();
      }
      cursor = null;
      announce(text.msgCleared);
    } else if (event.key === 'Enter' || event.key === ' ') {
      if (!cursor) {
        cursor = firstCursor();
      }
      chooseFrom(cursor, true);
    } else if (moves[event.key] !== undefined) {
      if (!cursor) {
        cursor = firstCursor();
        showCursor();
      } else {
        moveCursor(moves[event.key]);
      }
    } else {
      return;
    }
    event.preventDefault();
  }

  // The grid of a time view takes the focus; the list view is read as it is.
  function prepareView(info) {
    if (info.view.type.indexOf('timeGrid') !== 0) {
      return;
    }
    info.el.setAttribute('tabindex', '0');
    info.el.setAttribute('role', 'application');
    info.el.setAttribute('aria-label', text.msgGrid);
    if (document.getElementById('calendar-keys')) {
      info.el.setAttribute('aria-describedby', 'calendar-keys');
    }
    info.el.addEventListener('keydown', onGridKey);
    info.el.addEventListener('focus', function () {
      if (!cursor && info.el.matches(':focus-visible')) {  // from the keyboard, not a click
        cursor = firstCursor();
        showCursor();
      }
    });
  }

  // Each booking and closure is read with its day, not only its times.
  function nameEvent(info) {
    if (info.event.id === CURSOR_ID || !info.event.start) {
      return;
    }
    var day = node('span', 'visually-hidden', dayFormat.format(info.event.start) + ' ');
    info.el.insertBefore(day, info.el.firstChild);
  }

  // FullCalendar forgets its selection whenever it moves to another week or day; the time
  // chosen in it still stands in the form, so the calendar draws it again (with its price)
  // each time it is in view. Drawn again, it is not chosen anew: nothing is checked again.
  var redrawing = false;

  function drawChosenAgain() {
    var interval = requestedInterval();
    if (!selected || !interval || interval.start !== selected.start ||
        interval.end !== selected.end) {
      return;
    }
    var start = new Date(LabTime.wallFromIso(selected.start) + 'Z');
    var end = new Date(LabTime.wallFromIso(selected.end) + 'Z');
    if (start < calendar.view.activeStart || end > calendar.view.activeEnd) {
      return;
    }
    redrawing = true;
    calendar.select(start, end);
    redrawing = false;
  }

  var slot = minutesToDuration(config.slotMinutes);
  calendar = new window.FullCalendar.Calendar(calendarEl, {
    initialView: window.matchMedia('(max-width: 575.98px)').matches ? 'timeGridDay' : 'timeGridWeek',
    initialDate: config.initialDate,
    headerToolbar: {left: 'prev,next today', center: 'title', right: 'timeGridWeek,timeGridDay,listWeek'},
    locale: config.locale,
    firstDay: 1,
    // Lab wall-clock times are fed as UTC: the calendar shows lab time in any browser zone.
    timeZone: 'UTC',
    now: function () { return LabTime.labNow(config.labOffset); },
    nowIndicator: true,
    allDaySlot: false,
    height: 'auto',
    slotDuration: slot,
    snapDuration: slot,
    slotMinTime: config.slotMinTime,
    slotMaxTime: config.slotMaxTime,
    scrollTime: config.slotMinTime,
    businessHours: config.businessHours,
    selectable: config.selectable,
    selectMirror: true,
    unselectAuto: false,
    selectOverlap: false,
    selectAllow: function (info) {
      return info.start >= LabTime.labNow(config.labOffset);
    },
    select: function (info) {
      if (!redrawing) {
        fillFromSelection(info.start, info.end);
      }
    },
    datesSet: function () { window.setTimeout(drawChosenAgain, 0); },
    // A drag needs the pointer to move; a plain click or tap is a dateClick (above).
    selectMinDistance: 5,
    selectLongPressDelay: 500,
    dateClick: function (info) {
      if (!info.allDay) {
        if (calendar.getEventById(CURSOR_ID)) {
          calendar.getEventById(CURSOR_ID).remove();
        }
        cursor = info.date;
        chooseFrom(info.date);
      }
    },
    viewDidMount: prepareView,
    eventContent: selectionContent,
    eventDidMount: nameEvent,
    loading: loading,
    events: loadEvents
  });
  calendar.render();
  // The toolbar's arrows are drawn as role="img" without a name; the buttons around them carry
  // the name, so the icons are hidden from screen readers.
  Array.prototype.forEach.call(calendarEl.querySelectorAll('.fc-toolbar .fc-icon'), function (icon) {
    icon.setAttribute('aria-hidden', 'true');
  });
}());
