// Family form: add and remove member rows without a page reload, keyboard first.
// Works on top of a plain HTML form: without JavaScript the server-rendered rows still post.
(function () {
  "use strict";
  var keysBound = false;
  var addMemberNow = null;

function init() {
  var form = document.getElementById("family-form");
  if (!form) return;
  var list = document.getElementById("members");
  var template = document.getElementById("member-template");
  var addButton = document.getElementById("add-member");

  function rows() { return Array.prototype.slice.call(list.querySelectorAll("fieldset.member")); }

  function nextIndex() {
    var max = -1;
    rows().forEach(function (row) {
      var i = parseInt(row.getAttribute("data-index"), 10);
      if (!isNaN(i) && i > max) max = i;
    });
    return max + 1;
  }

  function renumber() {
    rows().forEach(function (row, position) {
      var label = row.querySelector(".member-number");
      // The template row's legend is "Integrante " (no number yet): keep exactly one space.
      if (label) label.textContent = label.textContent.replace(/\s*\d*\s*$/, "") + " " + (position + 1);
      var remove = row.querySelector(".remove-member");
      if (remove) {
        remove.hidden = rows().length === 1;
        // "Quitar integrante 3": the visible words plus which row, for screen readers and voice control.
        remove.setAttribute("aria-label", remove.textContent.trim() + " " + (position + 1));
      }
    });
  }

  function headSurnames() {
    var first = rows()[0];
    var input = first && first.querySelector("input[name$='-surnames']");
    return input ? input.value.trim() : "";
  }

  function addMember() {
    var index = nextIndex();
    var html = template.innerHTML.replace(/__i__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var row = holder.querySelector("fieldset.member");
    row.setAttribute("data-index", String(index));
    list.appendChild(row);
    var surnames = row.querySelector("input[name$='-surnames']");
    var offered = headSurnames();
    if (surnames && offered) {
      surnames.value = offered;  // offered, selected on focus so typing replaces it
      surnames.addEventListener("focus", function once() { surnames.select(); surnames.removeEventListener("focus", once); });
    }
    renumber();
    var first = row.querySelector("input, select");
    if (first) first.focus();
  }

  function rowHasData(row) {
    var fields = row.querySelectorAll("input[type=text], input:not([type]), input[type=date], input[type=number], textarea");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value.trim()) return true; }
    return false;
  }

  function removeMember(row) {
    if (rows().length === 1) return;
    // A filled row is a person: ask before it goes (an empty row goes without asking).
    if (rowHasData(row) && !window.confirm(form.getAttribute("data-confirm-remove") || "?")) return;
    var previous = row.previousElementSibling || row.nextElementSibling;
    row.parentNode.removeChild(row);
    renumber();
    var target = previous && previous.querySelector("input, select");
    (target || addButton).focus();
  }

  addButton.addEventListener("click", addMember);
  list.addEventListener("click", function (event) {
    var button = event.target.closest(".remove-member");
    if (button) removeMember(button.closest("fieldset.member"));
  });
  addMemberNow = addMember;
  if (!keysBound) {  // once per page: the form itself may be replaced after a save (desk.js)
    keysBound = true;
    document.addEventListener("keydown", function (event) {
      if (event.altKey && !event.ctrlKey && (event.key === "n" || event.key === "N") && addMemberNow) {
        event.preventDefault();
        addMemberNow();
      }
    });
  }

  // The sex is proposed while it is not chosen: by a relationship that says it (Hijo, Hija, Madre...),
  // else, on the desk, by a common first given name ("María Elena": Mujer), visibly marked as proposed.
  // Staff choosing the sex makes it theirs: neither changes it afterwards. A proposal follows what is
  // typed (the letters typed in the relationship pass by "Hijo" on their way to "Hija").
  var SEX_OF = {SON: "M", FATHER: "M", BROTHER: "M", DAUGHTER: "F", MOTHER: "F", SISTER: "F"};
  var SEX_BY_NAME = JSON.parse(form.getAttribute("data-sex-names") || "{}");
  function fold(text) {
    return text.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
  }
  function showProposed(sex, on) {
    var id = "p-" + sex.id;
    var note = document.getElementById(id);
    var described = (sex.getAttribute("aria-describedby") || "").split(" ").filter(function (x) { return x && x !== id; });
    if (on && !note) {
      note = document.createElement("small");
      note.id = id;
      note.className = "hint proposed";
      note.textContent = form.getAttribute("data-sex-proposed") || "";
      sex.insertAdjacentElement("afterend", note);
    } else if (!on && note) {
      note.parentNode.removeChild(note);
    }
    if (on) described.push(id);
    if (described.length) sex.setAttribute("aria-describedby", described.join(" "));
    else sex.removeAttribute("aria-describedby");
  }
  function proposeSex(row) {
    var sex = row.querySelector("select[name$='-sex']");
    if (!sex || (sex.value && !sex.hasAttribute("data-proposed"))) return;
    var relationship = row.querySelector("select[name$='-relationship']");
    var given = row.querySelector("input[name$='-given_names']");
    var byRelationship = relationship ? SEX_OF[relationship.value] : null;
    var byName = given ? SEX_BY_NAME[fold(given.value).split(/\s+/)[0]] : null;
    sex.value = byRelationship || byName || "";
    if (sex.value) sex.setAttribute("data-proposed", byRelationship ? "relationship" : "name");
    else sex.removeAttribute("data-proposed");
    showProposed(sex, !byRelationship && !!byName);
  }
  function proposeFrom(event) {
    var name = event.target.name || "";
    if (/-sex$/.test(name)) {  // chosen by staff: theirs now
      event.target.removeAttribute("data-proposed");
      showProposed(event.target, false);
    } else if (/-relationship$/.test(name) || (/-given_names$/.test(name) && form.hasAttribute("data-sex-names"))) {
      proposeSex(event.target.closest("fieldset.member"));
    }
  }
  list.addEventListener("change", proposeFrom);
  list.addEventListener("input", function (event) {
    if (/-given_names$/.test(event.target.name || "")) proposeFrom(event);
  });

  // Verbal consent needs the witness's name: marked required (and so a stop for Enter on the desk) only
  // then.
  var consent = form.querySelector("select[name=consent_type]");
  var witness = form.querySelector("input[name=consent_witness]");
  function witnessRequired() {
    if (!consent || !witness) return;
    var label = form.querySelector("label[for='" + witness.id + "']");
    var mark = label && label.querySelector(".req[data-added]");
    var verbal = consent.value === "verbal_witness";
    witness.setAttribute("aria-required", verbal ? "true" : "false");
    if (verbal && label && !mark) {
      mark = document.createElement("span");
      mark.className = "req";
      mark.setAttribute("aria-hidden", "true");
      mark.setAttribute("data-added", "1");
      mark.textContent = " *";
      label.appendChild(mark);
    } else if (!verbal && mark) {
      mark.parentNode.removeChild(mark);
    }
  }
  if (consent) { consent.addEventListener("change", witnessRequired); witnessRequired(); }

  // Show the age next to a typed date of birth: a quick check against what the person says.
  function showAge(event) {
    var input = event.target;
    if (!input.name || !/-birth_date$/.test(input.name)) return;
    var hint = input.parentNode.querySelector(".age-hint");
    if (!hint) {
      hint = document.createElement("small");
      hint.className = "hint age-hint";
      input.parentNode.appendChild(hint);
    }
    var parts = /^(\d{1,2})[\/.-](\d{1,2})[\/.-](\d{4})$/.exec(input.value.trim());
    var born = parts ? new Date(+parts[3], +parts[2] - 1, +parts[1]) : new Date(input.value + "T00:00:00");
    if (isNaN(born.getTime())) { hint.textContent = ""; return; }
    var now = new Date();
    var age = now.getFullYear() - born.getFullYear();
    if (now.getMonth() < born.getMonth() || (now.getMonth() === born.getMonth() && now.getDate() < born.getDate())) age--;
    // The words come from the page (translated by the server): data-age-units on the form.
    var units = JSON.parse(form.getAttribute("data-age-units") || "{}");
    if (age >= 1) {
      hint.textContent = age + " " + (age === 1 ? units.year : units.years);
      return;
    }
    // Under one year: in months, as staff and the paediatrician count them.
    var months = (now.getFullYear() - born.getFullYear()) * 12 + now.getMonth() - born.getMonth();
    if (now.getDate() < born.getDate()) months--;
    hint.textContent = months >= 0 ? months + " " + (months === 1 ? units.month : units.months) : "";
  }
  list.addEventListener("input", showAge);  // typed dd/mm/aaaa: as soon as the date is whole
  list.addEventListener("change", showAge);

  // Tell which sede will follow the family up as soon as a destination is chosen.
  var destination = form.querySelector("input[name=destination_municipality]");
  var sedeHint = document.getElementById("sede-hint");
  function showSede() {
    if (!destination || !sedeHint) return;
    var options = document.querySelectorAll("#municipality-list option");
    var text = "";
    for (var i = 0; i < options.length; i++) {
      if (options[i].value.toLowerCase() === destination.value.trim().toLowerCase()) { text = options[i].getAttribute("data-sede") || ""; break; }
    }
    sedeHint.textContent = text ? (sedeHint.getAttribute("data-prefix") || "") + text : "";
  }
  if (destination) {
    // The hint belongs under the destination field, not under the next section.
    if (sedeHint) destination.parentNode.appendChild(sedeHint);
    destination.addEventListener("input", showSede);
    destination.addEventListener("change", showSede);  // completed by the desk's script
    showSede();
  }

  // One click, one family: a second click (or Enter) while the first save travels would register the
  // family twice on a slow connection.
  window.addEventListener("pageshow", function () {  // coming Back to the page: usable again
    var buttons = form.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = false; }
  });
  form.addEventListener("submit", function (event) {
    var buttons = form.querySelectorAll("button[type=submit]");
    window.setTimeout(function () {
      if (event.defaultPrevented) return;  // the desk's script sends it (or stopped it to warn)
      for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    }, 0);
  });

  renumber();
  var summary = document.getElementById("error-summary");
  var firstError = form.querySelector("[aria-invalid=true]");
  if (firstError) {
    firstError.focus();
  } else if (summary) {
    summary.focus();
  } else {
    // The first field still to fill, in the order of the page: at the desk the destination and the
    // consent come first (a choice there moves on to the head's names); elsewhere the head's names.
    var destination = form.getAttribute("data-desk") === "1" && form.querySelector("input[name=destination_municipality]");
    var given = list.querySelector("input[name$='-given_names']");
    if (destination && !destination.value) destination.focus();
    else if (given && !given.value) given.focus();
  }
}

  window.sosepFamilyForm = {init: init};
  init();
})();
