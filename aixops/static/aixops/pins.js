// The pin buttons of a category page's service cards. The cards are cached for every
// reader of a kind, so each button pins; the page lists the services this reader pinned
// (a JSON data block, outside the cached part) and this turns their buttons into
// "Unpin". Without script every button pins, and the home page unpins.
(function () {
  "use strict";

  var data = document.getElementById("pinned-services");
  if (!data) {
    return;
  }
  var pinned = {};
  JSON.parse(data.textContent).forEach(function (slug) {
    pinned[slug] = true;
  });
  var forms = document.querySelectorAll("form.pin-form[data-pin]");
  for (var i = 0; i < forms.length; i++) {
    var form = forms[i];
    if (pinned[form.getAttribute("data-pin")]) {
      form.setAttribute("action", form.getAttribute("data-unpin-action"));
      form.classList.add("is-pinned");
      form.querySelector(".pin-label").textContent = form.getAttribute("data-unpin-label");
    }
  }
})();
