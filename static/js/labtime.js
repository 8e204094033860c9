/*
 * Lab wall-clock time for the booking calendar.
 *
 * FullCalendar runs with timeZone 'UTC' and is fed the lab's wall-clock times (Asia/Shanghai)
 * as if they were UTC. Whatever zone the browser is in, the calendar then shows lab time, and
 * a Date it hands back carries the lab's wall clock in its UTC fields (a "wall date").
 * These helpers convert between wall dates and ISO 8601 times with the lab's offset.
 * Loaded as a plain script (window.LabTime) and, for tests, from Node (module.exports).
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module.exports) {
    module.exports = api;
  } else {
    root.LabTime = api;
  }
}(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  function pad(n) {
    return (n < 10 ? '0' : '') + n;
  }

  /** "+08:00" -> 480 */
  function offsetMinutes(offset) {
    var match = /^([+-])(\d{2}):(\d{2})$/.exec(offset || '');
    if (!match) {
      return 0;
    }
    var minutes = parseInt(match[2], 10) * 60 + parseInt(match[3], 10);
    return match[1] === '-' ? -minutes : minutes;
  }

  /** "2026-12-07T10:00:00+08:00" -> "2026-12-07T10:00:00" (the wall clock, as FullCalendar
   *  reads it in its 'UTC' zone). */
  function wallFromIso(iso) {
    var match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2})?)/.exec(iso || '');
    return match ? match[1] : iso;
  }

  /** A wall date -> {date: "2026-12-07", time: "10:00"}. */
  function wallParts(date) {
    return {
      date: date.getUTCFullYear() + '-' + pad(date.getUTCMonth() + 1) + '-' + pad(date.getUTCDate()),
      time: pad(date.getUTCHours()) + ':' + pad(date.getUTCMinutes())
    };
  }

  /** Lab-local date and time strings -> ISO 8601 with the lab's offset. */
  function isoFromParts(date, time, offset) {
    return date + 'T' + time + ':00' + offset;
  }

  /** A wall date -> ISO 8601 with the lab's offset. */
  function isoFromWall(date, offset) {
    var parts = wallParts(date);
    return isoFromParts(parts.date, parts.time, offset);
  }

  /** The lab's current wall clock as a wall date (for FullCalendar's `now`). */
  function labNow(offset, nowMillis) {
    var now = typeof nowMillis === 'number' ? nowMillis : Date.now();
    return new Date(now + offsetMinutes(offset) * 60000);
  }

  return {
    offsetMinutes: offsetMinutes,
    wallFromIso: wallFromIso,
    wallParts: wallParts,
    isoFromParts: isoFromParts,
    isoFromWall: isoFromWall,
    labNow: labNow
  };
}));
