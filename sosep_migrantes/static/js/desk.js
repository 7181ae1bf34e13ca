// The desk's one screen, on top of a plain form that works without it:
// - the suggested referrals follow what is typed (the server computes them; no page load);
// - Save sends the form in the background and shows the answer in place (the saved banner and the next
//   family's blank form, or the form with its errors): one page load for a whole flight;
// - Enter in a text field never sends the form (it moves on); Ctrl+Enter saves from anywhere;
// - contradictions (a second head, a birth date far from the age, a child older than the head) are
//   shown before saving; saving again saves anyway.
(function () {
  "use strict";
  var timer = null;
  var warned = false;

  function form() { return document.getElementById("family-form"); }

  var asked = 0;

  function refreshReferrals() {
    var f = form();
    var holder = document.getElementById("desk-referrals");
    if (!f || !holder) return;
    var mine = ++asked;
    fetch(holder.getAttribute("data-url"), {method: "POST", body: new FormData(f), credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // Only the answer to the latest question: an earlier one arriving late would show stale data.
        if (html === null || mine !== asked) return;
        holder.innerHTML = html;
        updateQuantities();
      })
      .catch(function () { /* offline for a moment: the suggestions stay as they were */ });
  }

  function updateQuantities() {
    var section = document.getElementById("desk-referrals-section");
    var defaults = section ? JSON.parse(section.getAttribute("data-defaults") || "{}") : {};
    var lines = document.querySelectorAll("#desk-needs .need-line");
    for (var i = 0; i < lines.length; i++) {
      var code = lines[i].getAttribute("data-need");
      var qty = lines[i].querySelector("input.qty");
      if (qty && defaults[code]) qty.placeholder = String(defaults[code]);
    }
  }

  function schedule(event) {
    if (event.target.closest && event.target.closest("#desk-referrals, #desk-needs")) return;
    warned = false;
    window.clearTimeout(timer);
    timer = window.setTimeout(refreshReferrals, 400);
  }

  // Earlier records of the person being typed (same CUI, or same names and a compatible age).
  function lookUpEarlier(row) {
    var f = form();
    var url = f && f.getAttribute("data-earlier-url");
    if (!url || !row) return;
    var data = new FormData(f);
    data.append("row", row.getAttribute("data-index"));
    fetch(url, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (response) { return response.status === 200 ? response.text() : ""; })
      .then(function (html) {
        var holder = row.querySelector(".earlier-holder");
        if (!holder) {
          holder = document.createElement("div");
          holder.className = "earlier-holder";
          row.appendChild(holder);
        }
        holder.innerHTML = html;
      })
      .catch(function () { /* a hint only */ });
  }

  function swap(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var main = doc.querySelector("main");
    if (!main) { window.location.assign(url); return; }
    document.querySelector("main").replaceWith(document.adoptNode(main));
    document.title = doc.title;
    if (url && window.history && window.history.replaceState) window.history.replaceState(null, "", url);
    bind();
    if (window.sosepFamilyForm) window.sosepFamilyForm.init();
  }

  function contradictions(f) {
    var found = [];
    var rows = f.querySelectorAll("fieldset.member");
    var heads = 0;
    var headAge = null;
    var today = new Date();
    var messages = JSON.parse(f.getAttribute("data-warnings") || "{}");
    function ageOf(row) {
      var age = row.querySelector("input[name$='-estimated_age']");
      var value = age && /^\d{1,3}$/.test(age.value.trim()) ? parseInt(age.value, 10) : null;
      var birth = row.querySelector("input[name$='-birth_date']");
      var parts = birth ? /^(\d{1,2})[\/.-](\d{1,2})[\/.-](\d{4})$/.exec(birth.value.trim()) : null;
      var fromBirth = null;
      if (parts) {
        var born = new Date(+parts[3], +parts[2] - 1, +parts[1]);
        fromBirth = today.getFullYear() - born.getFullYear();
        if (today.getMonth() < born.getMonth() || (today.getMonth() === born.getMonth() && today.getDate() < born.getDate())) fromBirth--;
      }
      return {estimated: value, fromBirth: fromBirth, best: fromBirth !== null ? fromBirth : value};
    }
    for (var i = 0; i < rows.length; i++) {
      var relation = rows[i].querySelector("select[name$='-relationship']");
      var age = ageOf(rows[i]);
      var label = (rows[i].querySelector(".member-number") || {}).textContent || "";
      if (relation && relation.value === "HEAD") { heads++; headAge = age.best; }
      if (age.estimated !== null && age.fromBirth !== null && Math.abs(age.estimated - age.fromBirth) > 1) {
        found.push(label + ": " + (messages.age || ""));
      }
    }
    if (heads > 1) found.push(messages.heads || "");
    for (var j = 0; j < rows.length; j++) {
      var rel = rows[j].querySelector("select[name$='-relationship']");
      var a = ageOf(rows[j]).best;
      if (rel && /^(SON|DAUGHTER|STEPCHILD)$/.test(rel.value) && headAge !== null && a !== null && a >= headAge) {
        found.push(((rows[j].querySelector(".member-number") || {}).textContent || "") + ": " + (messages.child || ""));
      }
    }
    return found;
  }

  function showWarnings(f, found) {
    var box = document.getElementById("desk-warnings");
    if (!box) {
      box = document.createElement("div");
      box.id = "desk-warnings";
      box.className = "alert warning";
      box.setAttribute("role", "alert");
      box.tabIndex = -1;
      f.querySelector(".actions").before(box);
    }
    box.innerHTML = "";
    var title = document.createElement("p");
    title.textContent = f.getAttribute("data-warnings-title") || "";
    box.appendChild(title);
    var list = document.createElement("ul");
    found.forEach(function (text) { var li = document.createElement("li"); li.textContent = text; list.appendChild(li); });
    box.appendChild(list);
    box.focus();
  }

  function send(f, submitter) {
    var data = new FormData(f);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var buttons = f.querySelectorAll("button[type=submit]");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = true;
    fetch(f.getAttribute("action") || window.location.href, {method: "POST", body: data, credentials: "same-origin"})
      .then(function (response) { return response.text().then(function (html) { swap(html, response.url); }); })
      .catch(function () {
        // No answer (the network): the form stays as typed; send it the ordinary way.
        for (var k = 0; k < buttons.length; k++) buttons[k].disabled = false;
        f.submit();
      });
  }

  function bind() {
    var f = form();
    if (!f || f.getAttribute("data-desk") !== "1" || f.getAttribute("data-bound")) return;
    f.setAttribute("data-bound", "1");
    document.documentElement.classList.add("js");
    f.addEventListener("input", schedule);
    f.addEventListener("change", schedule);
    f.addEventListener("change", function (event) {
      var name = event.target.name || "";
      if (/^members-\d+-(given_names|surnames|birth_date|cui|estimated_age)$/.test(name)) {
        lookUpEarlier(event.target.closest("fieldset.member"));
      }
    });
    f.addEventListener("change", function (event) {
      // Choosing another institution ticks its row.
      if (event.target.classList.contains("other-institution")) {
        var row = event.target.closest("fieldset");
        var tick = row && row.querySelector(".other-selected");
        if (tick) tick.checked = !!event.target.value;
      }
    });
    f.addEventListener("keydown", function (event) {
      // Alt+M, Alt+U, Alt+D: straight to the reasons for migrating, the needs served, the referrals.
      if (event.altKey && !event.ctrlKey && !event.metaKey) {
        var target = {m: "input[name=migration_reasons]", u: "#desk-needs input[type=checkbox]",
                      d: "#desk-referrals input[type=checkbox]"}[event.key.toLowerCase()];
        var first = target && f.querySelector(target);
        if (first) { event.preventDefault(); first.focus(); return; }
      }
      if (event.key !== "Enter") return;
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        f.requestSubmit();
        return;
      }
      var target = event.target;
      if ((target.tagName === "INPUT" && !/^(submit|button|checkbox|radio)$/.test(target.type)) ||
          target.tagName === "SELECT") {
        // Enter never sends a half-typed family: it moves to the next field still to fill (a required
        // one, or the age), past what is already filled (the offered surnames, a sex the relationship
        // gave); Tab still goes field by field.
        event.preventDefault();
        var fields = Array.prototype.filter.call(
          f.querySelectorAll("input:not([type=hidden]), select, textarea"),
          function (el) { return !el.disabled && el.tabIndex >= 0 && el.offsetParent !== null; });
        var after = fields.slice(fields.indexOf(target) + 1);
        // The family's own fields (the referrals' reasons are required only once a referral is ticked).
        function toFill(el) {
          if (el.closest("#desk-referrals, #desk-needs") || el.value) return false;
          return el.getAttribute("aria-required") === "true" || /-estimated_age$/.test(el.name || "");
        }
        var next = after.filter(toFill)[0];
        if (!next) {  // the family's last field: back up to what is still missing (destination, consent)
          next = fields.filter(function (el) { return el !== target && toFill(el); })[0] || after[0];
        }
        if (next) next.focus();
      }
    });
    f.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.name === "refresh") { event.preventDefault(); refreshReferrals(); return; }
      event.preventDefault();
      var found = warned ? [] : contradictions(f);
      if (found.length) { warned = true; showWarnings(f, found); return; }
      send(f, submitter);
    });
    updateQuantities();
  }

  bind();
})();
