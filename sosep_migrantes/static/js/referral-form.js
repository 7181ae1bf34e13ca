// Referral form: show in bold the needs the chosen institution serves, so the right ones get ticked.
(function () {
  "use strict";
  var form = document.getElementById("referral-form");
  if (!form) return;
  var served = JSON.parse(form.getAttribute("data-institution-needs") || "{}");
  var institution = form.querySelector("select[name=institution]");
  function mark() {
    var codes = served[institution.value] || [];
    var labels = form.querySelectorAll("label[data-need]");
    for (var i = 0; i < labels.length; i++) {
      labels[i].classList.toggle("served", codes.indexOf(labels[i].getAttribute("data-need")) !== -1);
    }
  }
  institution.addEventListener("change", mark);
  mark();
})();
