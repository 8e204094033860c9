/* Suggestions while typing in a catalogue search box (an input with data-suggest="URL").

   The box becomes an ARIA combobox with a listbox of the best instruments and testing
   services (lab and price beside each), fetched from URL?q=… as one types. Arrow keys move
   through them, Enter opens the chosen one, Escape closes the list; a live region says how many
   there are. Without JavaScript, or when nothing is chosen, the form is sent as usual. */
(function () {
  'use strict';

  var DELAY_MS = 150;

  function setUp(input, number) {
    var listId = 'search-suggestions-' + number;
    var list = document.createElement('ul');
    var status = document.createElement('div');
    var timer = null;
    var asked = 0;
    var active = -1;
    var items = [];

    list.id = listId;
    list.setAttribute('role', 'listbox');
    list.className = 'list-group search-suggestions shadow';
    list.hidden = true;
    if (input.labels && input.labels.length) {
      list.setAttribute('aria-labelledby', input.labels[0].id || (input.labels[0].id = listId + '-label'));
    }
    status.setAttribute('role', 'status');
    status.setAttribute('aria-live', 'polite');
    status.className = 'visually-hidden';

    input.setAttribute('role', 'combobox');
    input.setAttribute('aria-autocomplete', 'list');
    input.setAttribute('aria-expanded', 'false');
    input.setAttribute('aria-controls', listId);
    // beside a button in an input group, the list goes below the whole group
    var host = input.parentNode.classList.contains('input-group')
      ? input.parentNode.parentNode : input.parentNode;
    host.classList.add('position-relative');
    host.appendChild(list);
    host.appendChild(status);

    function close() {
      list.hidden = true;
      input.setAttribute('aria-expanded', 'false');
      input.removeAttribute('aria-activedescendant');
      active = -1;
    }

    function choose(index) {
      var options = list.children;
      for (var i = 0; i < options.length; i += 1) {
        options[i].setAttribute('aria-selected', i === index ? 'true' : 'false');
        options[i].classList.toggle('active', i === index);
      }
      active = index;
      if (index >= 0) {
        input.setAttribute('aria-activedescendant', options[index].id);
        options[index].scrollIntoView({block: 'nearest'});
      } else {
        input.removeAttribute('aria-activedescendant');
      }
    }

    function show(answer) {
      items = answer.items || [];
      list.textContent = '';
      items.forEach(function (item, index) {
        var option = document.createElement('li');
        var name = document.createElement('span');
        var detail = document.createElement('span');
        option.id = listId + '-' + index;
        option.setAttribute('role', 'option');
        option.setAttribute('aria-selected', 'false');
        option.className = 'list-group-item list-group-item-action d-flex justify-content-between gap-2';
        name.textContent = item.name;
        detail.className = 'small text-nowrap';
        detail.textContent = [item.kind_label, item.lab, item.price].filter(Boolean).join(' · ');
        option.appendChild(name);
        option.appendChild(detail);
        option.addEventListener('mousedown', function (event) {
          event.preventDefault();  // keep the focus in the box until the page changes
          window.location.assign(item.url);
        });
        list.appendChild(option);
      });
      status.textContent = answer.message || '';
      active = -1;
      if (items.length) {
        list.hidden = false;
        input.setAttribute('aria-expanded', 'true');
      } else {
        close();
      }
    }

    function ask() {
      var q = input.value.trim();
      var mine = asked += 1;
      if (!q) {
        close();
        status.textContent = '';
        return;
      }
      fetch(input.getAttribute('data-suggest') + '?q=' + encodeURIComponent(q), {
        credentials: 'same-origin', headers: {Accept: 'application/json'}
      }).then(function (response) {
        return response.ok ? response.json() : {items: []};
      }).then(function (answer) {
        if (mine === asked) {
          show(answer);
        }
      }).catch(function () {
        if (mine === asked) {
          close();
        }
      });
    }

    input.addEventListener('input', function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DELAY_MS);
    });
    input.addEventListener('keydown', function (event) {
      if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
        if (list.hidden) {
          if (items.length) {
            list.hidden = false;
            input.setAttribute('aria-expanded', 'true');
          }
        } else if (items.length) {
          // -1 is the box itself: moving past either end comes back to what was typed
          var next = active + (event.key === 'ArrowDown' ? 1 : -1);
          choose(next >= items.length ? -1 : (next < -1 ? items.length - 1 : next));
        }
        event.preventDefault();
      } else if (event.key === 'Enter' && !list.hidden && active >= 0) {
        event.preventDefault();
        window.location.assign(items[active].url);
      } else if (event.key === 'Escape' && !list.hidden) {
        event.preventDefault();
        close();
      } else if (event.key === 'Tab') {
        close();
      }
    });
    input.addEventListener('blur', close);
  }

  Array.prototype.forEach.call(document.querySelectorAll('input[data-suggest]'), setUp);
}());
