// The folding sections of a page (<details class="fold" data-section="…">): each reader's
// choice is remembered per section in this browser, for every page that has the section.
// Until a reader chooses, the page's own default holds, except that sections marked
// data-fold="phone" start folded on a narrow screen. Without script (or storage) the
// sections still fold; nothing is remembered.
(function () {
  "use strict";

  var PREFIX = "aixops.section.";
  var PHONE = "(max-width: 640px)";

  function stored(name) {
    try {
      return window.localStorage.getItem(PREFIX + name);
    } catch (error) {
      return null; // storage refused: the defaults hold
    }
  }

  function remember(name, open) {
    try {
      window.localStorage.setItem(PREFIX + name, open ? "open" : "closed");
    } catch (error) {
      // storage refused or full: the choice lasts as long as the page
    }
  }

  function applyChoices() {
    var phone = window.matchMedia(PHONE).matches;
    document.querySelectorAll("details.fold[data-section]").forEach(function (details) {
      var choice = stored(details.getAttribute("data-section"));
      if (choice === "open" || choice === "closed") {
        details.open = choice === "open";
      } else if (phone && details.getAttribute("data-fold") === "phone") {
        details.open = false;
      }
    });
  }

  // A link to a folded section (or to something in it) unfolds it, as a search does.
  // Not remembered: the reader went there, they did not choose to keep it open.
  function unfoldTarget(hash) {
    var target = hash && hash.length > 1 && document.getElementById(hash.slice(1));
    if (!target) {
      return;
    }
    var details = target.matches("details.fold") ? target : target.closest("details.fold");
    if (!details) {
      details = target.querySelector("details.fold");
    }
    if (details) {
      details.open = true;
    }
  }

  // A click on a summary is the reader's choice (a key press on it is one too: it clicks).
  // The toggle itself happens after this handler, so the new state is the opposite.
  document.addEventListener("click", function (event) {
    var summary = event.target.closest && event.target.closest("details.fold > summary");
    if (summary) {
      var details = summary.parentElement;
      remember(details.getAttribute("data-section"), !details.open);
      return;
    }
    var link = event.target.closest && event.target.closest('a[href^="#"]');
    if (link) {
      unfoldTarget(link.getAttribute("href"));
    }
  });
  window.addEventListener("hashchange", function () {
    unfoldTarget(location.hash);
  });

  function whenParsed() {
    applyChoices();
    unfoldTarget(location.hash);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", whenParsed);
  } else {
    whenParsed();
  }
})();
