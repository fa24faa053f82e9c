// The top bar's search as a combobox (the ARIA combobox pattern with a listbox): results
// as one types, from the portal's JSON (/api/search/); arrows move through them, Enter
// opens the highlighted one (a service's tool), Escape closes them, `/` focuses the box.
// Without this script the box is a plain form to the results page. Server text is set
// with textContent only, never as HTML.
(function () {
  "use strict";

  var DEBOUNCE_MS = 150;
  var SHOWN = 8;

  function setUp(form) {
    var input = form.querySelector("[role=combobox]");
    var listbox = form.querySelector("[role=listbox]");
    var status = form.querySelector("[role=status]");
    var timer = null;
    var asked = 0; // the number of the latest request: older answers are dropped
    var pending = null;
    var active = -1;

    function options() {
      return listbox.querySelectorAll("[role=option]:not([aria-disabled=true])");
    }

    function close() {
      listbox.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var all = options();
      if (!all.length) {
        return;
      }
      active = (index + all.length) % all.length;
      for (var i = 0; i < all.length; i++) {
        all[i].setAttribute("aria-selected", String(i === active));
      }
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    }

    function option(id, href) {
      var item = document.createElement("li");
      item.id = id;
      item.setAttribute("role", "option");
      item.setAttribute("aria-selected", "false");
      item.setAttribute("data-href", href);
      return item;
    }

    function line(className, text) {
      var span = document.createElement("span");
      span.className = className;
      span.textContent = text;
      return span;
    }

    function show(answer, query) {
      listbox.textContent = "";
      answer.results.forEach(function (result, index) {
        var item = option("site-search-option-" + index, result.tool_url || result.url);
        item.setAttribute("data-kind", result.kind);
        item.appendChild(line("search-option-name", result.name));
        item.appendChild(line("search-option-kind", result.kind_label));
        var where = result.kind === "category" ? result.summary : result.category_name;
        if (where) {
          item.appendChild(line("search-option-where", where));
        }
        listbox.appendChild(item);
      });
      if (answer.results.length) {
        var all = option("site-search-option-all", form.action + "?q=" + encodeURIComponent(query));
        all.className = "search-option-all";
        all.textContent = form.getAttribute("data-all-results") + " (" + answer.total + ")";
        listbox.appendChild(all);
      } else {
        // An option, as a listbox holds nothing else; disabled, the arrows skip it.
        var none = document.createElement("li");
        none.setAttribute("role", "option");
        none.setAttribute("aria-disabled", "true");
        none.className = "search-option-none";
        none.textContent = form.getAttribute("data-no-results");
        listbox.appendChild(none);
      }
      status.textContent = form.getAttribute("data-count").replace("{count}", answer.total);
      active = -1;
      input.removeAttribute("aria-activedescendant");
      listbox.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function ask() {
      var query = input.value.trim();
      var number = ++asked;
      if (pending) {
        pending.abort();
      }
      if (!query) {
        close();
        status.textContent = "";
        return;
      }
      pending = new AbortController();
      var url = form.getAttribute("data-api") + "?limit=" + SHOWN + "&q=" + encodeURIComponent(query);
      fetch(url, { credentials: "same-origin", signal: pending.signal, headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (answer) {
          if (answer && number === asked) {
            show(answer, query);
          }
        })
        .catch(function () {
          // Aborted by a newer keystroke, or offline: Enter still submits the form.
        });
    }

    function open(item) {
      window.location.assign(item.getAttribute("data-href"));
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, DEBOUNCE_MS);
    });

    input.addEventListener("keydown", function (event) {
      var expanded = !listbox.hidden;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!expanded) {
          if (options().length) {
            listbox.hidden = false;
            input.setAttribute("aria-expanded", "true");
          } else {
            return;
          }
        }
        event.preventDefault();
        highlight(event.key === "ArrowDown" ? active + 1 : active < 0 ? -1 : active - 1);
      } else if (event.key === "Enter" && expanded && active >= 0) {
        event.preventDefault();
        open(options()[active]);
      } else if (event.key === "Escape" && (expanded || input.value)) {
        // Handled here: the phone menu's own Escape (aixops.js) must not fold it too.
        event.stopPropagation();
        if (expanded) {
          event.preventDefault(); // a search field's own Escape would clear the query too
          close();
        } else {
          input.value = "";
        }
      }
    });

    // Keep the focus in the box while a result is clicked.
    listbox.addEventListener("mousedown", function (event) {
      event.preventDefault();
    });
    listbox.addEventListener("click", function (event) {
      var item = event.target.closest("[role=option]");
      if (item) {
        open(item);
      }
    });
    input.addEventListener("blur", close);
    input.addEventListener("focus", function () {
      if (input.value.trim() && options().length) {
        listbox.hidden = false;
        input.setAttribute("aria-expanded", "true");
      }
    });

    // `/` anywhere but in a field focuses the box; on a phone, opening the folded menu.
    document.addEventListener("keydown", function (event) {
      if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) {
        return;
      }
      var target = event.target;
      if (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) {
        return;
      }
      event.preventDefault();
      var bar = form.closest(".topbar");
      var menuButton = bar && bar.querySelector(".menu-button");
      if (!input.offsetParent && menuButton && !bar.classList.contains("menu-open")) {
        menuButton.click();
      }
      input.focus();
      input.select();
    });
  }

  function whenParsed() {
    var form = document.querySelector("form.topbar-search");
    if (form && window.fetch) {
      setUp(form);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", whenParsed);
  } else {
    whenParsed();
  }
})();
