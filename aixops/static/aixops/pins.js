// The pin buttons of a category page's service cards. The cards are cached for every
// reader of a kind, so each button pins; the page lists the services this reader pinned
// (in a data attribute outside the cached part: slugs, space-separated, with the word
// for "Unpin") and this turns their buttons into "Unpin". Each button posts the page's
// one form (#page-post, with the reader's CSRF token) to its own formaction. Without
// script every button pins, and the home page unpins.
(function () {
  "use strict";

  var data = document.getElementById("pinned-services");
  if (!data) {
    return;
  }
  var pinned = {};
  data.getAttribute("data-pinned").split(" ").forEach(function (slug) {
    if (slug) {
      pinned[slug] = true;
    }
  });
  var unpinLabel = data.getAttribute("data-unpin-label");
  var forms = document.querySelectorAll(".pin-form[data-pin]");
  for (var i = 0; i < forms.length; i++) {
    var form = forms[i];
    if (pinned[form.getAttribute("data-pin")]) {
      form.querySelector(".pin-button").setAttribute("formaction", form.getAttribute("data-unpin-action"));
      form.classList.add("is-pinned");
      form.querySelector(".pin-label").textContent = unpinLabel;
    }
  }
})();
