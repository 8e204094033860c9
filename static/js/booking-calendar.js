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

  function fillFromSelection(start, end) {
    var from = LabTime.wallParts(start);
    var to = LabTime.wallParts(end);
    setFormTimes(from.date, from.time, to.time, to.date);
    var purpose = field('purpose');
    if (purpose && !purpose.value) {
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

  function showAnswer(answer) {
    clear(resultEl);
    var problems = answer.problems || [];
    if (answer.ok && !problems.length) {
      resultEl.appendChild(node('div', 'alert alert-success py-2 mb-0', text.msgOk));
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
        showAnswer(reply.data);
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
    ['date', 'start_time', 'end_time', 'end_date', 'override'].forEach(function (name) {
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
    if (requestedInterval()) {
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
    select: function (info) { fillFromSelection(info.start, info.end); },
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
