// Every portal page's script, a file so that the Content-Security-Policy allows no
// inline script. Loaded in the head, not deferred: the `js` class is set before the first
// paint (a folded phone menu never flashes open); the rest waits for the parsed page.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  function cookie(name) {
    var prefix = name + "=";
    var pairs = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < pairs.length; i++) {
      if (pairs[i].indexOf(prefix) === 0) {
        return decodeURIComponent(pairs[i].slice(prefix.length));
      }
    }
    return null;
  }

  // Times are drawn by the server in the zone the `tz` cookie names (portal/middleware.py),
  // so tell it the browser's. A page drawn before it knew, in another zone, is drawn again
  // once; after that the cookie matches and nothing reloads, even if the server does not
  // know the zone. Refused cookies mean no reload at all.
  function rememberTimeZone() {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      return;
    }
    if (!zone || cookie("tz") === zone) {
      return;
    }
    var secure = location.protocol === "https:" ? "; secure" : "";
    document.cookie =
      "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax" + secure;
    if (cookie("tz") !== zone) {
      return;
    }
    var shown = document.querySelector("time[data-time-zone]");
    if (shown && shown.getAttribute("data-time-zone") !== zone) {
      location.reload();
    }
  }

  // The language switch changes the language as soon as one is picked; without script,
  // its button does.
  function switchLanguageOnSelect() {
    var select = document.getElementById("language");
    if (select) {
      select.addEventListener("change", function () {
        select.form.submit();
      });
    }
  }

  // On a phone the top bar's links and tools fold behind its menu button; Escape folds
  // them again. Without script they stay shown.
  function toggleMenu(bar, open) {
    bar.classList.toggle("menu-open", open);
    bar.querySelector(".menu-button").setAttribute("aria-expanded", String(open));
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest(".menu-button");
    if (button) {
      var bar = button.closest(".topbar");
      toggleMenu(bar, !bar.classList.contains("menu-open"));
    }
  });
  document.addEventListener("keydown", function (event) {
    var bar = document.querySelector(".topbar.menu-open");
    if (event.key === "Escape" && bar) {
      toggleMenu(bar, false);
      bar.querySelector(".menu-button").focus();
    }
  });

  function whenParsed() {
    rememberTimeZone();
    switchLanguageOnSelect();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", whenParsed);
  } else {
    whenParsed();
  }
})();
