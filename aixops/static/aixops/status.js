// The status page's uptime bars: the day under the pointer (or finger), its date and
// uptime, in a tooltip. Each bar's label already says its figures in words to screen
// readers, so the tooltip is for the eye only.
(function () {
  "use strict";

  var DAY_MS = 24 * 60 * 60 * 1000;
  var list = document.querySelector(".status-list");
  if (!list) {
    return;
  }
  var today = Date.parse(list.dataset.today + "T00:00:00Z");
  var tip = document.createElement("div");
  tip.className = "uptime-tip";
  tip.setAttribute("aria-hidden", "true");
  tip.hidden = true;
  document.body.appendChild(tip);

  function show(bar, event) {
    // The bar's days, oldest first, today last: "-" is a day without results.
    var figures = bar.dataset.uptimes.split(" ");
    var box = bar.getBoundingClientRect();
    var index = Math.floor(((event.clientX - box.left) / box.width) * figures.length);
    index = Math.min(figures.length - 1, Math.max(0, index));
    var day = new Date(today - (figures.length - 1 - index) * DAY_MS).toISOString().slice(0, 10);
    var figure = figures[index];
    tip.textContent = day + ": " + (figure === "-" ? list.dataset.noData : figure + "%");
    tip.hidden = false;
    var left = event.clientX - tip.offsetWidth / 2;
    tip.style.left = Math.max(4, Math.min(left, window.innerWidth - tip.offsetWidth - 4)) + "px";
    tip.style.top = Math.max(4, box.top - tip.offsetHeight - 6) + "px";
  }

  function point(event) {
    var bar = event.target.closest(".uptime-bar");
    if (bar) {
      show(bar, event);
    } else {
      tip.hidden = true;
    }
  }

  // A mouse moves over the bars; a finger taps one.
  list.addEventListener("pointermove", point);
  list.addEventListener("pointerdown", point);
  list.addEventListener("pointerleave", function () {
    tip.hidden = true;
  });
  window.addEventListener("scroll", function () {
    tip.hidden = true;
  }, { passive: true });
})();
