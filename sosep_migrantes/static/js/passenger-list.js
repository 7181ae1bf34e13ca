// The passenger list's file field: a file over the limit is refused at once, beside the field, instead
// of after minutes of upload on the centre's connection (the server gives the same answer without this).
(function () {
  "use strict";
  var input = document.getElementById("passenger-file");
  var message = document.getElementById("e-passenger-file");
  if (!input || !message) return;
  var max = parseInt(input.getAttribute("data-max-bytes") || "0", 10);

  function check() {
    var file = input.files && input.files[0];
    var tooLarge = !!file && max > 0 && file.size > max;
    var text = tooLarge ? input.getAttribute("data-too-large") || "" : "";
    input.setCustomValidity(text);  // the browser does not send the form
    message.textContent = text;
    message.hidden = !tooLarge;
    if (tooLarge) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", message.id);
    } else {
      input.removeAttribute("aria-invalid");
      input.removeAttribute("aria-describedby");
    }
  }

  input.addEventListener("change", check);
})();
