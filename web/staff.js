/*
 * The staff page: staff.html?intake=<intake_id> (the intake, insurance and missed-session emails
 * link there) reads GET /staff/intakes/{intake_id} and shows the urgency and scores first;
 * staff.html?case=<case_id> (the acknowledgement page and SMS link there) reads
 * GET /staff/cases/{case_id} and shows who to call back first, and closes an open case with a
 * note (POST /staff/cases/{case_id}/resolve); staff.html?session=<occurrence_id> reads
 * GET /staff/sessions/{id} and records who attended (POST .../attendance). All with the staff
 * member's token. Everything goes in through textContent only.
 *
 * Sign-in, from window.IOP_CONFIG (config.js):
 * - staffAuth {domain, clientId} (written by `make deploy` from the stack's outputs): the
 *   Cognito hosted sign-in (MFA) with the authorization code flow and PKCE; the ID token is kept
 *   in this tab's sessionStorage until it expires, and never in the URL.
 * - no staffAuth (the local stack): a token field for the output of `iop staff token`.
 */
(function () {
  "use strict";

  var config = window.IOP_CONFIG || {};
  var API = String(config.apiBase || "").replace(/\/+$/, "");
  var AUTH = config.staffAuth && config.staffAuth.domain && config.staffAuth.clientId ? config.staffAuth : null;
  var TOKEN_KEY = "iop-staff-token";
  var PKCE_KEY = "iop-staff-sign-in";
  var INTAKE_ID = /^itk_[0-9A-HJKMNP-TV-Z]{26}$/;
  var CASE_ID = /^cas_[0-9A-HJKMNP-TV-Z]{26}$/;
  var SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,80}$/; // a session id, or <series id>:<local date>
  var VIEWS = ["intake", "case", "session"];
  var PHONE = /^\+[1-9][0-9]{6,14}$/;
  var shown = null; // the {kind, id} last asked for: what the resolve form acts on
  var LABELS = {
    minimal: "minimal", mild: "mild", moderate: "moderate", moderately_severe: "moderately severe",
    severe: "severe", none: "no risk reported", low: "low risk", high: "high risk",
    urgent_review: "urgent review", same_day_followup: "same-day follow-up", iop_indicated: "IOP indicated",
    active: "active", inactive: "inactive", not_found: "member not found", error: "could not be checked",
    urgent: "Urgent.", same_day: "Follow up today.", open: "open", acknowledged: "acknowledged",
    resolved: "resolved", web: "website", intake: "intake form", sms: "text message", link: "alert link",
    scheduled: "scheduled", cancelled: "cancelled", attended: "attended", missed: "missed"
  };

  function $(selector) {
    return document.querySelector(selector);
  }

  function say(text) {
    $("#staff-status").textContent = text || "";
  }

  function label(value) {
    return Object.prototype.hasOwnProperty.call(LABELS, value) ? LABELS[value] : String(value);
  }

  function put(name, value) {
    var text = value === null || value === undefined || value === "" ? "(not given)" : String(value);
    document.querySelectorAll('[data-value="' + name + '"]').forEach(function (node) {
      node.textContent = text;
    });
  }

  function joined(parts) {
    return parts.filter(function (p) { return p !== null && p !== undefined && p !== ""; }).join(", ");
  }

  // --- the token ------------------------------------------------------------------------------

  function storedToken() {
    try {
      var saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
      if (saved && typeof saved.value === "string" && (!saved.expires || saved.expires > Date.now())) {
        return saved.value;
      }
    } catch (ignored) {
      // unreadable: treated as signed out
    }
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }

  function keepToken(value, seconds) {
    var expires = seconds ? Date.now() + (Number(seconds) - 30) * 1000 : 0;
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify({ value: value, expires: expires }));
  }

  function forgetToken() {
    sessionStorage.removeItem(TOKEN_KEY);
  }

  // --- Cognito hosted sign-in: authorization code with PKCE ------------------------------------

  function redirectUri() {
    return window.location.origin + window.location.pathname;
  }

  function base64url(bytes) {
    var text = "";
    bytes.forEach(function (b) { text += String.fromCharCode(b); });
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function randomText(size) {
    var bytes = new Uint8Array(size);
    window.crypto.getRandomValues(bytes);
    return base64url(bytes);
  }

  /** To the hosted sign-in; ``note``: a case note not sent yet, kept in this tab for the way back. */
  function hostedSignIn(target, note) {
    var verifier = randomText(48);
    var state = randomText(16);
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({
      verifier: verifier, state: state, target: target, note: note || ""
    }));
    return window.crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)).then(function (digest) {
      var query = new URLSearchParams({
        response_type: "code", client_id: AUTH.clientId, redirect_uri: redirectUri(), scope: "openid email",
        state: state, code_challenge_method: "S256", code_challenge: base64url(new Uint8Array(digest))
      });
      window.location.assign(AUTH.domain.replace(/\/+$/, "") + "/oauth2/authorize?" + query.toString());
    });
  }

  /** Back from the hosted sign-in with ?code&state: the code for a token. Resolves to what the
   * page had before the sign-in: {target: {kind, id}, note}. */
  function finishHostedSignIn(params) {
    var pending = null;
    try {
      pending = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "null");
    } catch (ignored) {
      pending = null;
    }
    sessionStorage.removeItem(PKCE_KEY);
    if (!pending || pending.state !== params.get("state")) {
      return Promise.reject(new Error("sign-in state"));
    }
    var body = new URLSearchParams({
      grant_type: "authorization_code", client_id: AUTH.clientId, code: params.get("code"),
      redirect_uri: redirectUri(), code_verifier: pending.verifier
    });
    return fetch(AUTH.domain.replace(/\/+$/, "") + "/oauth2/token", {
      method: "POST", body: body, credentials: "omit", cache: "no-store",
      headers: { "Content-Type": "application/x-www-form-urlencoded" }
    }).then(function (response) {
      if (!response.ok) {
        throw new Error("token " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      if (!answer || typeof answer.id_token !== "string") {
        throw new Error("no id token");
      }
      keepToken(answer.id_token, answer.expires_in);
      return { target: pending.target || null, note: typeof pending.note === "string" ? pending.note : "" };
    });
  }

  // --- the page -------------------------------------------------------------------------------

  /** Show one of the views (or none: sign-in and messages only). */
  function showView(name) {
    VIEWS.forEach(function (view) {
      $("#" + view).hidden = view !== name;
    });
    $("#sign-in").hidden = true;
  }

  function showSignIn(why) {
    showView(null);
    $("#sign-in").hidden = false;
    $("#sign-in-hosted").hidden = !AUTH;
    $("#sign-in-token").hidden = !!AUTH;
    say(why);
  }

  /** One call to the API with the staff token (a JSON POST when ``body`` is not null). Resolves to
   * the response, or to null when there is no valid sign-in: the sign-in is shown, saying ``why``. */
  function staffCall(path, body, why) {
    var token = storedToken();
    if (!token) {
      showSignIn(why);
      return Promise.resolve(null);
    }
    var headers = { Authorization: "Bearer " + token };
    var options = { headers: headers, credentials: "omit", cache: "no-store" };
    if (body !== null) {
      options.method = "POST";
      options.body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    return fetch(API + path, options).then(function (response) {
      if (response.status === 403) {
        // A refusal for the role (field "role") keeps the sign-in: the person is signed in, but
        // their role may not open this. Any other 403 is a sign-in that is not valid.
        return response.clone().json().then(function (answer) {
          var first = (answer && answer.errors && answer.errors[0]) || {};
          if (first.field === "role") {
            showView(null);
            say(first.message || "Your role may not open this.");
            return null;
          }
          return signInAgain();
        }, signInAgain);
      }
      if (response.status === 401) {
        return signInAgain();
      }
      return response;
    });

    function signInAgain() {
      forgetToken();
      showSignIn("Your sign-in is not valid or has expired. " + why);
      return null;
    }
  }

  function render(data) {
    var scores = data.scores || {};
    var phq9 = scores.phq9 || {};
    var gad7 = scores.gad7 || {};
    var cssrs = scores.cssrs || {};
    var patient = data.patient || {};
    put("intake_id", data.intake_id);
    put("created_at", data.created_at);
    put("status", data.status);
    put("phq9_total", phq9.total);
    put("phq9_band", phq9.band === undefined ? null : label(phq9.band));
    put("phq9_item9", phq9.item9);
    put("gad7_total", gad7.total);
    put("gad7_band", gad7.band === undefined ? null : label(gad7.band));
    put("cssrs_risk", cssrs.risk === undefined ? null : label(cssrs.risk));
    put("flags", (data.flags || []).length ? data.flags.map(label).join(", ") : "none");
    var urgent = $("#urgent");
    if (data.urgency === "urgent" || data.urgency === "same_day") {
      $("#urgent-text").textContent = (data.urgency === "urgent" ? "Urgent review: " : "Same-day follow-up: ") +
        "this screen shows suicide risk." + (data.crisis_case_id ? " On-call staff were paged." : "");
      var caseLink = $("#urgent-case");
      caseLink.hidden = !CASE_ID.test(data.crisis_case_id || "");
      if (!caseLink.hidden) {
        caseLink.querySelector("a").setAttribute("href", "?case=" + encodeURIComponent(data.crisis_case_id));
      }
      urgent.hidden = false;
    } else {
      urgent.hidden = true;
    }
    var insurance = data.insurance || null;
    put("insurance", insurance ? joined([insurance.payer_name, insurance.payer_id && "payer " + insurance.payer_id,
      insurance.member_id && "member " + insurance.member_id]) : "none given");
    var eligibility = data.eligibility || null;
    put("eligibility", eligibility ? joined([label(eligibility.status),
      eligibility.in_network === true ? "in network" : eligibility.in_network === false ? "out of network" : "",
      eligibility.prior_auth_required ? "prior authorization required" : "",
      typeof eligibility.copay === "number" ? "copay $" + eligibility.copay.toFixed(2) : ""]) :
      (insurance ? "not checked yet" : "nothing to check"));
    put("name", [patient.first_name, patient.last_name].filter(Boolean).join(" "));
    put("date_of_birth", patient.date_of_birth);
    put("phone", patient.phone);
    put("email", patient.email);
    put("timezone", patient.timezone);
    var where = data.current_address || {};
    put("current_address", joined([where.line1, where.line2, where.city, where.state, where.postal_code]));
    var contact = data.emergency_contact || {};
    put("emergency_contact", joined([contact.name, contact.relationship, contact.phone]));
    var consent = data.consent || {};
    put("consent", consent.accepted_at ? "accepted " + consent.accepted_at + " (text version " +
      consent.text_version + ")" : null);
    showView("intake");
    say("");
    $("#staff-heading").focus();
  }

  function renderCase(data) {
    var person = data.patient || {};
    var screening = person.screening || {};
    var scores = screening.scores || {};
    var acked = data.acknowledged_by;
    put("case_code", data.code);
    put("case_status", data.status === undefined ? null : label(data.status));
    put("case_urgency", data.urgency ? label(data.urgency) : "");
    put("case_opened_at", data.opened_at);
    put("case_source", data.source ? label(data.source) : null);
    put("case_acknowledged", acked ? acked.name + " (" + label(acked.via) + ", " + acked.at + ")" :
      (data.status === "resolved" ? "resolved " + (data.resolved_at || "") : "not yet: paging continues"));
    var callback = $("#case-callback");
    var number = String(person.callback_number || "");
    callback.textContent = number || "No number given: see the timeline and the intake.";
    if (PHONE.test(number)) {
      callback.setAttribute("href", "tel:" + number);
    } else {
      callback.removeAttribute("href");
    }
    put("case_name", person.name);
    var where = person.current_address || {};
    put("case_where", joined([where.line1, where.line2, where.city, where.state, where.postal_code]));
    var contact = person.emergency_contact || {};
    put("case_emergency_contact", joined([contact.name, contact.relationship, contact.phone]));
    put("case_message", person.message);
    var phq9 = scores.phq9 || {};
    var cssrs = scores.cssrs || {};
    put("case_screening", person.screening ? joined([
      phq9.total === undefined ? "" : "PHQ-9 " + phq9.total + " (" + label(phq9.band) + "), item 9: " + phq9.item9,
      cssrs.risk === undefined ? "" : "C-SSRS: " + label(cssrs.risk),
      (screening.flags || []).map(label).join(", ")
    ]) : "no intake form");
    var intake = $("#case-intake");
    intake.hidden = !INTAKE_ID.test(person.intake_id || "");
    if (!intake.hidden) {
      intake.querySelector("a").setAttribute("href", "?intake=" + encodeURIComponent(person.intake_id));
    }
    var list = $("[data-testid=timeline]");
    list.textContent = "";
    (data.timeline || []).forEach(function (entry) {
      var item = document.createElement("li");
      var time = document.createElement("time");
      time.textContent = String(entry.at || "");
      item.appendChild(time);
      item.appendChild(document.createTextNode(" " + String(entry.type || "").replace(/_/g, " ") +
        (entry.by ? " by " + entry.by : "") + (entry.via ? " (" + label(entry.via) + ")" : "") +
        (entry.source ? " (" + label(entry.source) + ")" : "") + (entry.note ? ": " + entry.note : "")));
      list.appendChild(item);
    });
    $("#case-resolve").hidden = data.status === "resolved";
    showView("case");
    say("");
    $("#staff-heading").focus();
  }

  function when(iso) {
    var date = new Date(String(iso || ""));
    if (isNaN(date.getTime())) {
      return String(iso || "");
    }
    return date.toLocaleString(undefined, {
      weekday: "short", month: "short", day: "numeric", year: "numeric", hour: "numeric", minute: "2-digit",
      timeZoneName: "short"
    });
  }

  function cell(row, content) {
    var td = document.createElement("td");
    if (typeof content === "string") {
      td.textContent = content;
    } else if (content) {
      td.appendChild(content);
    }
    row.appendChild(td);
    return td;
  }

  function renderSession(data) {
    put("session_when", when(data.starts_at));
    put("session_status", label(data.status || "scheduled"));
    put("session_length", data.duration_minutes ? data.duration_minutes + " minutes." : "");
    var open = data.status !== "cancelled";
    var body = $("#participants");
    body.textContent = "";
    (data.participants || []).forEach(function (person) {
      var row = document.createElement("tr");
      row.setAttribute("data-intake", String(person.intake_id || ""));
      var who = String(person.name || "Name not on file");
      var name = document.createElement("a");
      name.textContent = person.role === "family" ? "Family member of " + who : who;
      if (INTAKE_ID.test(person.intake_id || "")) {
        name.setAttribute("href", "?intake=" + encodeURIComponent(person.intake_id));
      }
      var first = document.createElement("th");
      first.setAttribute("scope", "row");
      first.appendChild(name);
      row.appendChild(first);
      cell(row, person.confirmed_at ? "yes (" + when(person.confirmed_at) + ")" : "no");
      var status = document.createElement("span");
      status.setAttribute("data-attendance", "");
      status.textContent = person.attendance ? label(person.attendance) : "not recorded";
      var box = cell(row, status);
      if (open && person.role !== "family") {
        ["attended", "missed"].forEach(function (choice) {
          var button = document.createElement("button");
          button.type = "button";
          button.className = "btn btn-secondary btn-small";
          button.setAttribute("data-attendance-choice", choice);
          button.setAttribute("aria-pressed", String(person.attendance === choice));
          button.setAttribute("aria-label", (choice === "attended" ? "Attended: " : "Missed: ") + who);
          button.setAttribute("aria-describedby", "attendance-hint");
          button.textContent = choice === "attended" ? "Attended" : "Missed";
          button.addEventListener("click", function () {
            recordAttendance(data.occurrence_id, person, choice, row);
          });
          box.appendChild(document.createTextNode(" "));
          box.appendChild(button);
        });
      }
      body.appendChild(row);
    });
    showView("session");
    say("");
    $("#staff-heading").focus();
  }

  /** POST /staff/sessions/{id}/attendance; the row shows what the server stored. */
  function recordAttendance(occurrenceId, person, choice, row) {
    var buttons = row.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    say("Recording\u2026");
    return staffCall("/staff/sessions/" + encodeURIComponent(occurrenceId) + "/attendance",
      { intake_id: person.intake_id, status: choice }, "Sign in again to record attendance.").then(function (response) {
      if (response === null) {
        return null;
      }
      return response.json().then(function (answer) {
        if (!response.ok) {
          var first = (answer && answer.errors && answer.errors[0]) || {};
          say(response.status === 409 ? "This session was cancelled: there is nothing to record." :
            response.status === 404 ? "Not recorded: this session or participant is gone. Reload the page." :
            response.status === 422 ? "Not recorded: attendance " + String(first.message || "was not accepted") + "." :
            "Not recorded. Try again in a moment.");
          return;
        }
        row.querySelector("[data-attendance]").textContent = label(answer.status);
        row.querySelectorAll("[data-attendance-choice]").forEach(function (b) {
          b.setAttribute("aria-pressed", String(b.getAttribute("data-attendance-choice") === answer.status));
        });
        var who = person.name || "The participant";
        say(answer.status === "attended" ? who + ": attended." :
          who + ": missed. A kind follow-up goes to them" +
          (answer.clinician_task ? "; this is a second miss in a row, so intake staff get a follow-up task." : "."));
      });
    }).catch(function () {
      say("Attendance could not be recorded. Try again in a moment.");
    }).then(function () {
      buttons.forEach(function (b) { b.disabled = false; });
    });
  }

  function noteError(message) {
    var field = $("#resolve-note");
    var error = $("#resolve-note-error");
    error.textContent = message || "";
    error.hidden = !message;
    field.setAttribute("aria-describedby", "resolve-note-hint" + (message ? " resolve-note-error" : ""));
    if (message) {
      field.setAttribute("aria-invalid", "true");
      field.closest(".field").classList.add("has-error");
      field.focus();
    } else {
      field.removeAttribute("aria-invalid");
      field.closest(".field").classList.remove("has-error");
    }
  }

  /** POST /staff/cases/{id}/resolve with the note; the note stays in its field until it is stored. */
  function resolveCase(target) {
    var field = $("#resolve-note");
    var note = field.value.trim();
    if (!note) {
      noteError("Give a note saying how the case was resolved.");
      return Promise.resolve();
    }
    var button = $("[data-action=resolve]");
    button.disabled = true;
    noteError("");
    say("Closing the case\u2026");
    return staffCall("/staff/cases/" + encodeURIComponent(target.id) + "/resolve", { note: note },
      "Sign in again to close this case. Your note is kept.").then(function (response) {
      if (response === null) {
        return null;
      }
      if (response.status === 400 || response.status === 422) {
        return response.json().then(function (answer) {
          var first = (answer && answer.errors && answer.errors[0]) || {};
          say("");
          noteError(String(first.message || "The note was not accepted."));
        });
      }
      if (response.status === 404) {
        say("There is no crisis case with this id. Open the link from the message again.");
        return null;
      }
      if (!response.ok) {
        throw new Error("status " + response.status);
      }
      field.value = "";
      return load(target).then(function () {
        say("Case closed. Paging for it has stopped.");
      });
    }).catch(function () {
      say("The case could not be closed. Your note is kept: try again in a moment.");
    }).then(function () {
      button.disabled = false;
    });
  }

  /** What each kind of link (?intake=, ?case=, ?session=) reads and shows. */
  function kind(name) {
    return {
      intake: { pattern: INTAKE_ID, path: "/staff/intakes/", noun: "intake", thing: "this intake", render: render },
      "case": { pattern: CASE_ID, path: "/staff/cases/", noun: "case", thing: "this crisis case", render: renderCase,
        missing: "There is no crisis case with this id." },
      session: { pattern: SESSION_ID, path: "/staff/sessions/", noun: "session", thing: "this session",
        render: renderSession }
    }[name] || null;
  }

  function load(target) {
    shown = target;
    var k = kind(target.kind);
    if (storedToken()) {
      say("Loading the " + k.noun + "\u2026");
    }
    var why = "Sign in to see " + k.thing + ".";
    return staffCall(k.path + encodeURIComponent(target.id), null, why).then(function (response) {
      if (response === null) {
        return null;
      }
      if (response.status === 404) {
        showView(null);
        say((k.missing || "There is no " + k.noun + " with this id.") + " Open the link from the message again.");
        return null;
      }
      if (!response.ok) {
        throw new Error("status " + response.status);
      }
      return response.json().then(k.render);
    }).catch(function () {
      say("The " + k.noun + " could not be loaded. Try again in a moment.");
    });
  }

  function start() {
    document.querySelectorAll("[data-clinic-name]").forEach(function (node) {
      node.textContent = config.clinicName || node.textContent;
    });
    var params = new URLSearchParams(window.location.search);
    var target = params.get("case") !== null ? { kind: "case", id: params.get("case") } :
      params.get("session") !== null ? { kind: "session", id: params.get("session") } :
      { kind: "intake", id: params.get("intake") };
    var signingIn = AUTH && params.get("code") && params.get("state");

    $("#case-resolve").addEventListener("submit", function (event) {
      event.preventDefault();
      if (shown && shown.kind === "case" && !$("[data-action=resolve]").disabled) {
        resolveCase(shown);
      }
    });
    $("#sign-in-token").addEventListener("submit", function (event) {
      event.preventDefault();
      var field = $("#staff-token");
      var value = field.value.trim();
      field.value = "";
      if (!value) {
        say("Enter your staff token.");
        field.focus();
        return;
      }
      keepToken(value, 0);
      load(target);
    });
    document.querySelector('[data-action="sign-in"]').addEventListener("click", function () {
      var onCase = shown && shown.kind === "case";
      hostedSignIn(shown || target, onCase ? $("#resolve-note").value.trim() : "");
    });
    document.querySelectorAll('[data-action="sign-out"]').forEach(function (button) {
      button.addEventListener("click", function () {
        forgetToken();
        if (AUTH) {
          var query = new URLSearchParams({ client_id: AUTH.clientId, logout_uri: redirectUri() });
          window.location.assign(AUTH.domain.replace(/\/+$/, "") + "/logout?" + query.toString());
          return;
        }
        showSignIn("Signed out.");
      });
    });

    if (signingIn) {
      say("Signing you in\u2026");
      finishHostedSignIn(params).then(function (kept) {
        var back = kept.target;
        var ok = back && kind(back.kind) !== null && kind(back.kind).pattern.test(back.id || "");
        window.history.replaceState(null, "", redirectUri() + (ok ? "?" + back.kind + "=" + encodeURIComponent(back.id) : ""));
        if (!ok) {
          say("Signed in. Open an intake or a case from its link.");
          return null;
        }
        return load(back).then(function () {
          if (back.kind === "case" && kept.note && !$("#case").hidden && !$("#case-resolve").hidden) {
            $("#resolve-note").value = kept.note;
            say("Signed in again. Your note is back in its field: press \u201cResolve the case\u201d to send it.");
          }
        });
      }).catch(function () {
        window.history.replaceState(null, "", redirectUri());
        showSignIn("Sign-in did not complete. Try again.");
      });
      return;
    }
    if (!kind(target.kind).pattern.test(target.id || "")) {
      say("This link has no valid " + kind(target.kind).noun +
        " id. Open the link from the message again.");
      return;
    }
    load(target);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
