// The desk's one screen, on top of a plain form that works without it:
// - the suggested referrals follow what is typed (the server computes them; no page load);
// - Save sends the form in the background and shows the answer in place (the saved banner and the next
//   family's blank form, or the form with its errors): one page load for a whole flight;
// - Enter in a text field never sends the form (it moves on); Ctrl+Enter saves from anywhere;
// - fewer keys: a required list (relationship, sex, consent) moves on once the letters typed leave one
//   option, a destination chosen from the list moves on, and in a list of check boxes a letter goes to
//   the next box whose name starts with it (Space ticks it, as ever; Shift+letter goes and ticks);
// - the usual delivery (a ration and a kit per person) ticked in one go (a button, or Alt+E);
// - contradictions (a second head, a birth date far from the age, a child older than the head) are
//   shown before saving; saving again saves anyway.
(function () {
  "use strict";
  var timer = null;
  var warned = false;

  function form() { return document.getElementById("family-form"); }

  var asked = 0;
  var inflight = null;

  function refreshReferrals() {
    var f = form();
    var holder = document.getElementById("desk-referrals");
    if (!f || !holder) return;
    var mine = ++asked;
    inflight = fetch(holder.getAttribute("data-url"), {method: "POST", body: new FormData(f), credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        // Only the answer to the latest question: an earlier one arriving late would show stale data.
        if (mine !== asked) return;
        inflight = null;
        if (html !== null) {
          replaceKeeping(holder, html);
          updateQuantities();
        }
      })
      .catch(function () { if (mine === asked) inflight = null; /* offline: the suggestions stay as they were */ });
  }

  // To the referrals' first box, once the suggestions follow what was typed: a question still waiting
  // (typed in the last moment) is asked now, and the focus waits on the section until the answer is in,
  // so a key pressed meanwhile ticks nothing else.
  function toReferrals(f) {
    var holder = document.getElementById("desk-referrals");
    if (!holder) return;
    if (timer !== null) {
      window.clearTimeout(timer);
      timer = null;
      refreshReferrals();
    }
    var first = function () {
      var box = holder.querySelector("fieldset[data-institution] .choose") || holder.querySelector(".choose");
      (box || f.querySelector(".actions button[type=submit]")).focus();
    };
    if (!inflight) { first(); return; }
    holder.tabIndex = -1;
    holder.focus();
    // Staff who moved the focus elsewhere meanwhile are left there; a newer question is waited for too.
    var after = function () {
      if (document.activeElement !== holder) return;
      if (inflight) inflight.then(after, after);
      else first();
    };
    inflight.then(after, after);
  }

  // The suggestions are replaced by the server's newer answer, but what staff did in them meanwhile (a box
  // ticked, a reason typed, the persons chosen, where the focus was) is kept: the answer was computed from
  // the form as it was when asked. Only what staff touched is kept; the rest is the server's (a reason it
  // words anew from what was typed since).
  function lineKey(el) {
    var line = el.closest("fieldset.referral-line");
    if (!line) return null;
    return line.getAttribute("data-institution") || "other";
  }

  function replaceKeeping(holder, html) {
    var kept = {};
    var fields = holder.querySelectorAll("fieldset.referral-line input:not([type=hidden]), fieldset.referral-line textarea, fieldset.referral-line select");
    for (var i = 0; i < fields.length; i++) {
      if (!fields[i].hasAttribute("data-touched")) continue;
      var key = lineKey(fields[i]);
      var name = fields[i].name.replace(/^referrals-\d+-/, "") + (fields[i].type === "checkbox" ? ":" + fields[i].value : "");
      kept[key + "|" + name] = fields[i].type === "checkbox" ? fields[i].checked : fields[i].value;
    }
    var active = document.activeElement;
    var focusKey = active && holder.contains(active) && active.name ?
      lineKey(active) + "|" + active.name.replace(/^referrals-\d+-/, "") + (active.type === "checkbox" ? ":" + active.value : "") : null;
    holder.innerHTML = html;
    var fresh = holder.querySelectorAll("fieldset.referral-line input:not([type=hidden]), fieldset.referral-line textarea, fieldset.referral-line select");
    var again = null;
    for (var j = 0; j < fresh.length; j++) {
      var k = lineKey(fresh[j]) + "|" + fresh[j].name.replace(/^referrals-\d+-/, "") + (fresh[j].type === "checkbox" ? ":" + fresh[j].value : "");
      if (k in kept) {
        if (fresh[j].type === "checkbox") fresh[j].checked = kept[k];
        else fresh[j].value = kept[k];
        fresh[j].setAttribute("data-touched", "1");
      }
      if (k === focusKey) again = fresh[j];
    }
    if (focusKey) (again || holder.querySelector(".choose") || holder).focus();
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
    timer = window.setTimeout(function () { timer = null; refreshReferrals(); }, 400);
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

  // The family's own fields still to fill (the referrals' reasons are required only once a referral is
  // ticked): a required one, or the age.
  // Going forward, a sex only proposed by the name is a stop too: staff see the guess (Enter, or simply
  // typing the age, accepts it).
  function toFill(el, forward) {
    if (el.closest("#desk-referrals, #desk-needs")) return false;
    if (forward && el.getAttribute("data-proposed") === "name") return true;
    if (el.value) return false;
    return el.getAttribute("aria-required") === "true" || /-estimated_age$/.test(el.name || "");
  }

  // Where Enter goes from ``target``: the next field still to fill, past what is already filled (the
  // offered surnames, a sex the relationship gave); from the family's last field, back up to what is
  // still missing (destination, consent); with nothing missing, simply the next field.
  function moveOn(f, target) {
    var fields = Array.prototype.filter.call(
      f.querySelectorAll("input:not([type=hidden]), select, textarea"),
      function (el) { return !el.disabled && el.tabIndex >= 0 && el.offsetParent !== null; });
    var after = fields.slice(fields.indexOf(target) + 1);
    var next = after.filter(function (el) { return toFill(el, true); })[0] ||
      fields.filter(function (el) { return el !== target && toFill(el, false); })[0] || after[0];
    if (next) next.focus();
    return next || null;
  }

  function fold(text) {
    return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/\s+/g, " ").trim();
  }

  // The one option that begins with what was typed (three letters or more): "Cuilco" is only
  // "Cuilco, Huehuetenango"; "San José" is the start of several, so more is typed or one is chosen.
  function onlyOption(input) {
    var value = fold(input.value);
    var options = input.list.options;
    var found = null;
    if (value.length < 3) return null;
    for (var j = 0; j < options.length; j++) {
      if (fold(options[j].value).indexOf(value) === 0) {
        if (found !== null) return null;
        found = options[j].value;
      }
    }
    return found;
  }

  function chosenFromList(input) {
    // Exactly one option's whole text, and no longer option beginning with it.
    var value = fold(input.value);
    var options = input.list.options;
    var exact = false;
    if (!value) return false;
    for (var j = 0; j < options.length; j++) {
      var text = fold(options[j].value);
      if (text === value) exact = true;
      else if (text.indexOf(value) === 0) return false;
    }
    return exact;
  }

  // Type-ahead. In a required list (Parentesco, Sexo, Consentimiento) the letters typed choose the first
  // option that begins with them; once only one option begins with them, it is chosen and the focus
  // moves on as Enter would, and the rest of the same word ("ujer" of "mujer") is not typed into the
  // next field. A word that is a whole option but also the start of a longer one ("hija", "hijastro")
  // waits for the next key: more letters of the longer one continue it, anything else moves on and is
  // typed where the focus goes. In a list of check boxes (motivos, necesidades, derivaciones) a letter
  // goes to the next box whose name, or a word of it, begins with the letters typed.
  var PAUSE = 1000;
  var ahead = {el: null, text: "", at: 0, rest: "", waiting: false};
  // The field a choice just moved the focus to: an Enter pressed straight after (out of habit, to
  // confirm the choice) stays there instead of skipping it.
  var moved = null;
  var MODIFIERS = ["Shift", "Control", "Alt", "AltGraph", "Meta", "CapsLock"];

  function printable(event) {
    return event.key.length === 1 && event.key !== " " && !event.ctrlKey && !event.altKey && !event.metaKey;
  }

  function optionText(option) { return fold(option.textContent); }

  function typeAhead(event) {
    if (event.key === "Enter" || MODIFIERS.indexOf(event.key) >= 0) return;
    var now = Date.now();
    var fresh = now - ahead.at > PAUSE;
    // The rest of the word that already chose an option and moved on: not typed into the next field
    // (for a destination, the rest of "Cuilco, Huehuetenango", spaces included).
    var key = event.key === " " ? " " : fold(event.key);
    if (ahead.rest && !fresh && !event.ctrlKey && !event.altKey && !event.metaKey && key === ahead.rest.charAt(0)) {
      event.preventDefault();
      ahead.rest = ahead.rest.slice(1);
      ahead.at = now;
      return;
    }
    if (!printable(event)) { moved = null; return; }
    var f = form();
    var el = event.target;
    moved = null;
    ahead.rest = "";
    if (el.tagName === "SELECT" && el.getAttribute("aria-required") === "true") {
      event.preventDefault();
      chooseByLetters(f, el, event.key, now);
    } else if (el.type === "checkbox" && checkList(el)) {
      event.preventDefault();
      if (event.shiftKey) tickInList(checkList(el), el, event.key);
      else jumpInList(checkList(el), el, event.key, now);
    }
  }

  function chooseByLetters(f, select, key, now) {
    var text = (ahead.el === select && now - ahead.at <= PAUSE ? ahead.text : "") + fold(key);
    var options = Array.prototype.filter.call(select.options, function (o) { return o.value; });
    var matches = options.filter(function (o) { return optionText(o).indexOf(text) === 0; });
    var waited = ahead.el === select && ahead.waiting;
    ahead.at = now;
    if (!matches.length) {
      // "hija" then "8", or "8" on a sex the name proposed: accepted, and the 8 goes to the age.
      if (waited || select.getAttribute("data-proposed") === "name") { forward(f, select, key, now); return; }
      ahead.el = select;
      ahead.text = "";
      ahead.waiting = false;
      return;
    }
    ahead.el = select;
    ahead.text = text;
    ahead.waiting = false;
    // Typed, even the value it had: the choice is staff's now (no longer only proposed).
    select.value = matches[0].value;
    select.dispatchEvent(new Event("input", {bubbles: true}));
    select.dispatchEvent(new Event("change", {bubbles: true}));
    if (matches.length === 1) {
      var next = moveOn(f, select);
      moved = next;
      ahead.el = next;
      ahead.rest = optionText(matches[0]).slice(text.length).replace(/[^a-z].*$/, "");
      ahead.text = "";
    } else if (optionText(matches[0]) === text || optionText(matches[0]).replace(/\(.*\)$/, "") === text) {
      ahead.waiting = true;
    }
  }

  function forward(f, select, key, now) {
    var next = moveOn(f, select);
    ahead.el = null;
    ahead.text = "";
    ahead.waiting = false;
    if (!next) return;
    if (next.tagName === "SELECT" && next.getAttribute("aria-required") === "true") {
      chooseByLetters(f, next, key, now);
    } else if (next.tagName === "INPUT" || next.tagName === "TEXTAREA") {
      document.execCommand("insertText", false, key);
    }
  }

  var LISTS = ["input[name=migration_reasons]", "input[name=protection_causes]",
               "#desk-needs input[type=checkbox]", "#desk-referrals .choose"];

  function checkList(box) {
    for (var i = 0; i < LISTS.length; i++) {
      if (box.matches(LISTS[i])) return checkListOf(LISTS[i]);
    }
    return null;
  }

  function nextList(box) {
    var f = form();
    for (var i = 0; i < LISTS.length; i++) {
      if (!box.matches(LISTS[i])) continue;
      for (var j = i + 1; j < LISTS.length; j++) {
        var first = checkListOf(LISTS[j])[0];
        if (first) { first.focus(); return; }
      }
    }
    var save = f.querySelector(".actions button[type=submit]");
    if (save) save.focus();
  }

  function checkListOf(selector) {
    return Array.prototype.filter.call(form().querySelectorAll(selector),
      function (el) { return !el.disabled && el.offsetParent !== null; });
  }

  function boxName(box) {
    return fold(box.getAttribute("data-name") || (box.labels && box.labels[0] ? box.labels[0].textContent : ""));
  }

  function jumpInList(boxes, box, key, now) {
    var letter = fold(key);
    var again = ahead.el === box && now - ahead.at <= PAUSE;
    // The same letter again goes on to the next box with it; more letters narrow the search.
    var text = again && ahead.text !== letter ? ahead.text + letter : letter;
    var target = findBox(boxes, box, text);
    if (!target && text !== letter) {  // "at" then "k": a new search for "k"
      text = letter;
      target = findBox(boxes, box, text);
    }
    ahead.at = now;
    ahead.el = target || box;
    ahead.text = target ? text : "";
    if (target) target.focus();
  }

  // Shift+letter: to the next box not yet ticked whose name, or a word of it, begins with the letter
  // (this one included), and ticks it. Never unticks: Space does.
  function tickInList(boxes, box, key) {
    var start = boxes.indexOf(box);
    var open = boxes.slice(start).concat(boxes.slice(0, start)).filter(function (b) { return !b.checked; });
    var target = findBox(open, null, fold(key));
    ahead.el = null;
    ahead.text = "";
    if (!target) return;
    target.focus();
    tick(target);
  }

  function tick(box) {
    if (box.checked) return;
    box.checked = true;
    box.dispatchEvent(new Event("input", {bubbles: true}));
    box.dispatchEvent(new Event("change", {bubbles: true}));
  }

  // The usual delivery (a food ration and a hygiene kit per person): ticked in one go, by the button in
  // the needs or Alt+E; from the keyboard the focus then goes on to the referrals.
  function deliverUsual(f, moveFocus) {
    var boxes = f.querySelectorAll("#desk-needs .need-line[data-usual] input[type=checkbox]");
    for (var i = 0; i < boxes.length; i++) tick(boxes[i]);
    if (moveFocus) toReferrals(f);
  }

  function findBox(boxes, box, text) {
    // One letter: the next box after this one; more letters: this one or the next (no box: the first).
    var start = box ? boxes.indexOf(box) + (text.length === 1 ? 1 : 0) : 0;
    var ordered = boxes.slice(start).concat(boxes.slice(0, start));
    function begins(b) { return boxName(b).indexOf(text) === 0; }
    function wordBegins(b) {
      return boxName(b).split(/[^a-z0-9]+/).some(function (w) { return w && w.indexOf(text) === 0; });
    }
    return ordered.filter(begins)[0] || ordered.filter(wordBegins)[0] || null;
  }

  function bind() {
    var f = form();
    if (!f || f.getAttribute("data-desk") !== "1" || f.getAttribute("data-bound")) return;
    f.setAttribute("data-bound", "1");
    // A new family's form (after a save): nothing typed for the last one carries over.
    ahead = {el: null, text: "", at: 0, rest: "", waiting: false};
    moved = null;
    document.documentElement.classList.add("js");
    f.addEventListener("input", schedule);
    // What staff change in the suggestions is theirs: kept when a newer answer replaces the section.
    ["input", "change"].forEach(function (type) {
      f.addEventListener(type, function (event) {
        if (event.target.closest && event.target.closest("#desk-referrals")) event.target.setAttribute("data-touched", "1");
      });
    });
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
    f.addEventListener("keydown", typeAhead);
    f.addEventListener("focusout", function (event) {
      // A proposed sex the focus has been on and left is seen: no longer a stop for Enter (still marked
      // as proposed, and still given way to by the relationship).
      if (event.target.getAttribute && event.target.getAttribute("data-proposed") === "name") {
        event.target.setAttribute("data-proposed", "name-seen");
      }
    });
    f.addEventListener("click", function (event) {
      if (event.target.closest && event.target.closest("#deliver-usual")) { deliverUsual(f, false); return; }
      // "Más atajos" beside the save button opens the list of shortcuts at the top of the form.
      var link = event.target.closest && event.target.closest("a[href='#desk-shortcuts']");
      var help = document.getElementById("desk-shortcuts");
      if (link && help) { event.preventDefault(); help.open = true; help.querySelector("summary").focus(); }
    });
    f.addEventListener("input", function (event) {
      // A destination chosen from the list (or typed whole: "Cuilco, Huehuetenango") is complete.
      var input = event.target;
      if (input.tagName !== "INPUT" || !input.list) return;
      if (chosenFromList(input)) { moved = moveOn(f, input); return; }
      // Typed (not erased) far enough to be one option only: completed, and on to the next field; the
      // rest of its name, if staff go on typing it, is not typed there.
      var only = event.inputType === "insertText" && onlyOption(input);
      if (!only) return;
      var typed = fold(input.value + "|").slice(0, -1);  // a space typed last counts
      input.value = only;
      input.dispatchEvent(new Event("change", {bubbles: true}));
      moved = moveOn(f, input);
      ahead = {el: moved, text: "", at: Date.now(), rest: fold(only).slice(typed.length), waiting: false};
    });
    f.addEventListener("keydown", function (event) {
      // Alt+M, Alt+U, Alt+D: straight to the reasons for migrating, the needs served, the referrals;
      // Alt+E: the usual delivery ticked, and on to the referrals.
      if (event.altKey && !event.ctrlKey && !event.metaKey) {
        if (event.key.toLowerCase() === "e" && f.querySelector("#desk-needs .need-line[data-usual]")) {
          event.preventDefault();
          deliverUsual(f, true);
          return;
        }
        if (event.key.toLowerCase() === "d" && document.getElementById("desk-referrals")) {
          event.preventDefault();
          toReferrals(f);
          return;
        }
        var target = {m: "input[name=migration_reasons]", u: "#desk-needs input[type=checkbox]"}[event.key.toLowerCase()];
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
      if (moved === target) {  // the choice already moved here: this Enter confirmed it
        event.preventDefault();
        moved = null;
        return;
      }
      moved = null;
      if (target.type === "checkbox" && checkList(target)) {
        // In a list of check boxes Enter moves on to the next list (then to the save button).
        event.preventDefault();
        nextList(target);
        return;
      }
      if ((target.tagName === "INPUT" && !/^(submit|button|checkbox|radio)$/.test(target.type)) ||
          target.tagName === "SELECT") {
        // Enter never sends a half-typed family: it moves to the next field still to fill (a required
        // one, or the age), past what is already filled (the offered surnames, a sex the relationship
        // gave); Tab still goes field by field.
        event.preventDefault();
        moveOn(f, target);
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
