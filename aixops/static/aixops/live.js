// Live status: an open catalog page follows the scans without a reload.
//
// The page names where to ask, how often, and the page state it was drawn from
// (#live-status, portal.views.live_status_of). Every so often it asks whether that state
// moved: unchanged is an empty 204; moved answers the new state and the health the page
// shows (portal/live.py), which is swapped in place: text, classes and attributes of the
// elements marked `data-live`, never markup from the server. One timer at a time (a
// setTimeout chain), nothing asked while the page is hidden, longer waits after errors,
// and no request left hanging: a page open for a day keeps the same few objects.
(function () {
  "use strict";

  var root = document.getElementById("live-status");
  if (!root || !window.fetch || !window.AbortController) {
    return;
  }
  var url = root.getAttribute("data-live-url");
  var state = root.getAttribute("data-live-state");
  var every = Math.max(1, Number(root.getAttribute("data-live-seconds")) || 20) * 1000;
  var LONGEST_WAIT = 10 * 60 * 1000;
  // An answer slower than this is not coming: the question is dropped and counts as an error.
  var DEADLINE = 10 * 1000;
  var failures = 0;
  var timer = null;
  var asking = false;

  // Pages opened together (a team's morning) spread their questions out.
  function wait() {
    var base = Math.min(every * Math.pow(2, failures), LONGEST_WAIT);
    return base * (0.8 + Math.random() * 0.4);
  }

  function schedule() {
    clearTimeout(timer);
    timer = document.hidden ? null : setTimeout(ask, wait());
  }

  function ask() {
    timer = null;
    asking = true;
    var controller = new AbortController();
    var deadline = setTimeout(function () {
      controller.abort();
    }, DEADLINE);
    // Signed out, the answer is a redirect to sign in: an error, so waits grow.
    fetch(url + "?state=" + encodeURIComponent(state), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store",
      redirect: "error",
      signal: controller.signal,
    })
      .then(function (response) {
        if (response.status === 204) {
          return null;
        }
        if (!response.ok) {
          throw new Error("live status: " + response.status);
        }
        return response.json();
      })
      .then(function (answer) {
        if (answer) {
          swap(answer.health);
          state = answer.state;
        }
        failures = 0;
      })
      .catch(function () {
        failures = Math.min(failures + 1, 10);
      })
      .then(function () {
        clearTimeout(deadline);
        asking = false;
        schedule();
      });
  }

  // A page shown again after a while asks at once; hidden, it asks nothing.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (!asking && timer === null) {
      if (failures) {
        schedule();
      } else {
        ask();
      }
    }
  });

  function setText(node, text) {
    if (node && node.textContent !== text) {
      node.textContent = text;
    }
  }

  // The element's one `<prefix><status>` class, as the server draws it.
  function setStatusClass(element, prefix, status) {
    if (!element) {
      return;
    }
    var stale = [];
    element.classList.forEach(function (name) {
      if (name.indexOf(prefix) === 0 && name !== prefix + status) {
        stale.push(name);
      }
    });
    stale.forEach(function (name) {
      element.classList.remove(name);
    });
    element.classList.add(prefix + status);
  }

  // The text node holding a card's status words, after its dot.
  function words(element) {
    var node = element && element.lastChild;
    return node && node.nodeType === Node.TEXT_NODE ? node : null;
  }

  // A page drawn before the first scan says "No scan yet" where a scanned page has the
  // scan's time and status words (portal/_health_line.html): give it those parts.
  function scannedLine(line) {
    var waiting = line.querySelector("span");
    if (line.querySelector("time") || !waiting) {
      return;
    }
    var time = document.createElement("time");
    var label = document.createElement("span");
    label.className = "scan-label";
    label.setAttribute("aria-live", "polite");
    line.replaceChild(time, waiting);
    line.appendChild(document.createTextNode(" \u2022 "));
    line.appendChild(label);
  }

  function swapHeader(header) {
    var line = document.querySelector("[data-scan-status]");
    if (!line || !header) {
      return;
    }
    scannedLine(line);
    setStatusClass(line, "status-", header.status);
    line.setAttribute("data-scan-status", header.status);
    var time = line.querySelector("time");
    if (time) {
      time.setAttribute("datetime", header.datetime);
      setText(time, header.time);
    }
    // Announced (aria-live): only the status's words, and only when they change.
    setText(line.querySelector(".scan-label"), header.label);
    var coverage = line.querySelector(".scan-coverage");
    if (coverage && header.coverage) {
      setText(coverage, header.coverage);
    }
    var warning = document.querySelector(".stale-warning");
    if (warning) {
      warning.hidden = header.status !== "stale";
    }
  }

  function swapCard(card, item) {
    var health = card.querySelector(".health");
    setStatusClass(health, "health-", item.status);
    var status = health && health.querySelector(".health-status");
    var label = words(status);
    if (label) {
      setText(label, item.label);
    }
    if (status) {
      if (item.detail) {
        status.setAttribute("title", item.detail);
      } else {
        status.removeAttribute("title");
      }
    }
    ["latency", "uptime_24h", "uptime_7d"].forEach(function (name) {
      setText(card.querySelector('[data-live-figure="' + name + '"]'), item[name]);
    });
  }

  function swapCategory(card, category) {
    var line = card.querySelector(".scan-status");
    if (!line) {
      return;
    }
    setStatusClass(line, "status-", category.status);
    line.setAttribute("data-category-status", category.status);
    setText(line.querySelector("[data-live-label]"), category.label);
    var coverage = line.querySelector(".scan-coverage");
    if (coverage && category.coverage) {
      setText(coverage, category.coverage);
    }
  }

  function swapDot(node, dot) {
    var circle = node.querySelector(".dot");
    if (!circle) {
      return;
    }
    setStatusClass(circle, "status-", dot.status);
    setText(circle.querySelector("title"), dot.label);
  }

  function swap(health) {
    if (!health) {
      return;
    }
    swapHeader(health.header);
    var items = health.items || {};
    var categories = health.categories || {};
    document.querySelectorAll("[data-live]").forEach(function (card) {
      var key = card.getAttribute("data-live");
      if (items[key]) {
        swapCard(card, items[key]);
      } else if (categories[key]) {
        swapCategory(card, categories[key]);
      }
    });
    var dots = health.map || {};
    document.querySelectorAll("svg.architecture-map [data-node]").forEach(function (node) {
      var dot = dots[node.getAttribute("data-node")];
      if (dot) {
        swapDot(node, dot);
      }
    });
  }

  schedule();
})();
