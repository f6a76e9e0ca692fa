/*
 * Intake website: a multi-step form that POSTs /intake (body and answers: docs/api.md) and the
 * "I need help now" button that POSTs /crisis.
 *
 * Plain browser JavaScript, no build step, no third-party code. Runs under a strict Content
 * Security Policy: no inline scripts or styles, no eval, no innerHTML with any text (every
 * text goes in through textContent). Reads window.IOP_CONFIG (config.js) and defines no globals.
 *
 * Test hooks (stable): section[data-step], button[data-action], every input's name and
 * data-field = the dotted path of the body field, error messages data-testid="error-<path>",
 * confirmation data-testid="confirmation" with data-testid="intake-id", and
 * data-testid="crisis-resources".
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------------------------------
  // Constants
  // ---------------------------------------------------------------------------------------

  var STEPS = ["about", "location", "emergency", "insurance", "screening", "preferences", "consent", "review"];
  var KEY_STORAGE = "iop.intake.idempotencyKey";
  var MAX_BODY_BYTES = 64 * 1024;
  var REQUEST_TIMEOUT_MS = 30000;
  var RETRY_DELAYS_MS = [1000, 2000, 4000, 8000];
  var CRISIS_RETRY_DELAYS_MS = [1000, 2000];
  // Words: i18n.js (one catalogue per language); the choice: ?lang=, else the kept one, else English.
  var I18N = window.IOP_I18N;
  var LANG = I18N.language();
  function T(key, params) {
    return I18N.t(LANG, key, params);
  }

  var US_TIMEZONES = ["America/New_York", "America/Chicago", "America/Denver", "America/Phoenix",
    "America/Los_Angeles", "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico"];

  var US_STATES = [
    ["AL", "Alabama"], ["AK", "Alaska"], ["AZ", "Arizona"], ["AR", "Arkansas"], ["CA", "California"],
    ["CO", "Colorado"], ["CT", "Connecticut"], ["DE", "Delaware"], ["DC", "District of Columbia"],
    ["FL", "Florida"], ["GA", "Georgia"], ["HI", "Hawaii"], ["ID", "Idaho"], ["IL", "Illinois"],
    ["IN", "Indiana"], ["IA", "Iowa"], ["KS", "Kansas"], ["KY", "Kentucky"], ["LA", "Louisiana"],
    ["ME", "Maine"], ["MD", "Maryland"], ["MA", "Massachusetts"], ["MI", "Michigan"], ["MN", "Minnesota"],
    ["MS", "Mississippi"], ["MO", "Missouri"], ["MT", "Montana"], ["NE", "Nebraska"], ["NV", "Nevada"],
    ["NH", "New Hampshire"], ["NJ", "New Jersey"], ["NM", "New Mexico"], ["NY", "New York"],
    ["NC", "North Carolina"], ["ND", "North Dakota"], ["OH", "Ohio"], ["OK", "Oklahoma"], ["OR", "Oregon"],
    ["PA", "Pennsylvania"], ["RI", "Rhode Island"], ["SC", "South Carolina"], ["SD", "South Dakota"],
    ["TN", "Tennessee"], ["TX", "Texas"], ["UT", "Utah"], ["VT", "Vermont"], ["VA", "Virginia"],
    ["WA", "Washington"], ["WV", "West Virginia"], ["WI", "Wisconsin"], ["WY", "Wyoming"],
    ["AS", "American Samoa"], ["GU", "Guam"], ["MP", "Northern Mariana Islands"], ["PR", "Puerto Rico"],
    ["VI", "U.S. Virgin Islands"]
  ];

  // Electronic payer ids of a few national insurers; a clinic can replace the list in config.js.
  var DEFAULT_PAYERS = [
    { id: "60054", name: "Aetna" },
    { id: "62308", name: "Cigna" },
    { id: "61101", name: "Humana" },
    { id: "87726", name: "UnitedHealthcare" }
  ];

  // Screening wording (PHQ-9, GAD-7, C-SSRS screener) lives in screening.js, in every language held.
  // The item counts and C-SSRS keys are the same in every language; only the texts change.
  var SCREENING = window.IOP_SCREENING;
  var PHQ9 = SCREENING.get("phq9", "en").items;
  var GAD7 = SCREENING.get("gad7", "en").items;
  var CSSRS = SCREENING.get("cssrs", "en").items;

  var STATUS_KEYS = { 400: "status.400", 413: "status.413", 415: "status.415", 429: "status.429",
    network: "status.network", server: "status.server", conflict: "status.conflict" };

  // ---------------------------------------------------------------------------------------
  // Configuration
  // ---------------------------------------------------------------------------------------

  function str(v) {
    return typeof v === "string" ? v.trim() : "";
  }

  function readConfig() {
    var raw = window.IOP_CONFIG && typeof window.IOP_CONFIG === "object" ? window.IOP_CONFIG : {};
    var payers = DEFAULT_PAYERS;
    if (Array.isArray(raw.payers)) {
      payers = raw.payers.filter(function (p) {
        return p && str(p.id) && str(p.name);
      }).map(function (p) {
        return { id: str(p.id), name: str(p.name) };
      });
    }
    var privacy = str(raw.privacyNoticeUrl);
    if (privacy && !/^(https:\/\/|\/|\.\/)/.test(privacy)) {
      privacy = "";
    }
    return {
      apiBase: str(raw.apiBase).replace(/\/+$/, ""),
      clinicName: str(raw.clinicName) || "The clinic",
      clinicPhone: str(raw.clinicPhone),
      payers: payers,
      privacyNoticeUrl: privacy
    };
  }

  var CONFIG = readConfig();

  // ---------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------

  function $(sel, root) {
    return (root || document).querySelector(sel);
  }

  function $$(sel, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(sel));
  }

  /** Create an element. attrs: attributes, plus "text" (textContent) and "hidden" (bool). */
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) {
        return;
      }
      if (k === "text") {
        node.textContent = String(v);
      } else if (k === "hidden") {
        node.hidden = true;
      } else {
        node.setAttribute(k, v === true ? "" : String(v));
      }
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined) {
        return;
      }
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  function attrSelector(name, value) {
    var escaped = window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, "\\$&");
    return "[" + name + "=\"" + escaped + "\"]";
  }

  function addToken(node, attr, token) {
    var list = (node.getAttribute(attr) || "").split(/\s+/).filter(Boolean);
    if (list.indexOf(token) < 0) {
      list.push(token);
    }
    node.setAttribute(attr, list.join(" "));
  }

  function removeToken(node, attr, token) {
    var list = (node.getAttribute(attr) || "").split(/\s+/).filter(function (t) {
      return t && t !== token;
    });
    if (list.length) {
      node.setAttribute(attr, list.join(" "));
    } else {
      node.removeAttribute(attr);
    }
  }

  function telHref(phone) {
    return "tel:" + String(phone).replace(/[^\d+]/g, "");
  }

  function formatPhone(phone) {
    var m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(String(phone).replace(/[\s().-]/g, ""));
    return m ? "(" + m[1] + ") " + m[2] + "-" + m[3] : String(phone);
  }

  function randomUuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ---------------------------------------------------------------------------------------
  // Idempotency key: one per form session, kept in sessionStorage until a successful submit
  // ---------------------------------------------------------------------------------------

  var memoryKey = null;

  function getIdempotencyKey() {
    try {
      var stored = window.sessionStorage.getItem(KEY_STORAGE);
      if (stored) {
        return stored;
      }
      var fresh = randomUuid();
      window.sessionStorage.setItem(KEY_STORAGE, fresh);
      return fresh;
    } catch (e) {
      memoryKey = memoryKey || randomUuid();
      return memoryKey;
    }
  }

  function forgetIdempotencyKey() {
    memoryKey = null;
    try {
      window.sessionStorage.removeItem(KEY_STORAGE);
    } catch (e) {
      /* storage unavailable: the in-memory key is already gone */
    }
  }

  // ---------------------------------------------------------------------------------------
  // Validation rules (the server is the authority; these catch the obvious before sending)
  // ---------------------------------------------------------------------------------------

  var EMAIL_RE = /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/;
  var ZIP_RE = /^\d{5}(-\d{4})?$/;

  function phoneLooksValid(value) {
    var s = String(value).trim().replace(/[\s().\-/]/g, "");
    if (/^\+[1-9]\d{7,14}$/.test(s)) {
      return true;
    }
    // US national number: NANP area code and exchange start with 2-9.
    return /^1?[2-9]\d{2}[2-9]\d{6}$/.test(s);
  }

  function timezoneIsValid(name) {
    if (!/^[A-Za-z0-9_+\-/]{1,64}$/.test(name)) {
      return false;
    }
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: name });
      return true;
    } catch (e) {
      return false;
    }
  }

  function todayIso() {
    var d = new Date();
    var mm = String(d.getMonth() + 1);
    var dd = String(d.getDate());
    return d.getFullYear() + "-" + (mm.length < 2 ? "0" : "") + mm + "-" + (dd.length < 2 ? "0" : "") + dd;
  }

  function dobProblem(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!m) {
      return T("err.dob_format");
    }
    var y = +m[1];
    var mo = +m[2];
    var d = +m[3];
    var date = new Date(Date.UTC(y, mo - 1, d));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
      return T("err.dob_real");
    }
    var today = todayIso();
    if (value > today) {
      return T("err.dob_future");
    }
    var t = /^(\d{4})-(\d{2})-(\d{2})$/.exec(today);
    var age = +t[1] - y - ((+t[2] < mo || (+t[2] === mo && +t[3] < d)) ? 1 : 0);
    if (age < 12) {
      return T("err.dob_min_age");
    }
    if (age > 120) {
      return T("err.dob_year");
    }
    return null;
  }

  // The policy holder's date of birth: the patient's checks without the minimum age.
  function holderDobProblem(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
    if (!m) {
      return T("err.holder_dob_format");
    }
    var y = +m[1];
    var date = new Date(Date.UTC(y, +m[2] - 1, +m[3]));
    if (date.getUTCFullYear() !== y || date.getUTCMonth() !== +m[2] - 1 || date.getUTCDate() !== +m[3]) {
      return T("err.dob_real");
    }
    if (value > todayIso()) {
      return T("err.dob_future");
    }
    if (+todayIso().slice(0, 4) - y > 120) {
      return T("err.holder_dob_year");
    }
    return null;
  }

  // ---------------------------------------------------------------------------------------
  // Reading the form
  // ---------------------------------------------------------------------------------------

  var form;

  function val(id) {
    var node = document.getElementById(id);
    return node ? String(node.value).trim() : "";
  }

  function checked(id) {
    var node = document.getElementById(id);
    return !!(node && node.checked);
  }

  function radioValue(name) {
    var hit = $("input[type=radio]" + attrSelector("name", name) + ":checked", form);
    return hit ? hit.value : "";
  }

  function checkedValues(name) {
    return $$("input[type=checkbox]" + attrSelector("name", name) + ":checked", form).map(function (n) {
      return n.value;
    });
  }

  function timezoneValue() {
    var sel = val("timezone");
    return sel === "other" ? val("timezone-other") : sel;
  }

  function payerIsOther() {
    return val("payer") === "other";
  }

  function readAddress(prefix) {
    return {
      line1: val(prefix + "-line1"),
      city: val(prefix + "-city"),
      state: val(prefix + "-state"),
      postal_code: val(prefix + "-postal"),
      country: "US"
    };
  }

  function cssrsFollowupAsked() {
    return radioValue("screening.cssrs.suicidal_thoughts") === "yes";
  }

  /** The POST /intake body, exactly as docs/api.md gives it (empty optional fields omitted). */
  function buildBody() {
    var patient = {
      first_name: val("first-name"),
      last_name: val("last-name"),
      date_of_birth: val("dob"),
      timezone: timezoneValue(),
      address: readAddress("addr")
    };
    if (val("email")) {
      patient.email = val("email");
    }
    if (val("phone")) {
      patient.phone = val("phone");
    }
    var body = { patient: patient };

    body.current_location = checked("same-as-address")
      ? { same_as_address: true }
      : { address: readAddress("loc") };

    body.emergency_contact = {
      name: val("ec-name"),
      relationship: val("ec-relationship"),
      phone: val("ec-phone")
    };

    if (radioValue("coverage") === "insurance") {
      var insurance = {};
      if (payerIsOther()) {
        insurance.payer_name = val("payer-name");
        if (val("payer-id-other")) {
          insurance.payer_id = val("payer-id-other");
        }
      } else if (val("payer")) {
        var option = document.getElementById("payer").selectedOptions[0];
        insurance.payer_id = val("payer");
        insurance.payer_name = option ? option.textContent.trim() : "";
      }
      insurance.member_id = val("member-id");
      if (val("group-number")) {
        insurance.group_number = val("group-number");
      }
      insurance.subscriber_relationship = val("subscriber-relationship") || "self";
      if (insurance.subscriber_relationship !== "self") {
        insurance.subscriber = {
          first_name: val("subscriber-first-name"),
          last_name: val("subscriber-last-name"),
          date_of_birth: val("subscriber-dob")
        };
      }
      body.insurance = insurance;
    }

    var phq9 = PHQ9.map(function (_, i) {
      return parseInt(radioValue("screening.phq9." + i), 10);
    });
    var gad7 = GAD7.map(function (_, i) {
      return parseInt(radioValue("screening.gad7." + i), 10);
    });
    var cssrs = {};
    var followup = cssrsFollowupAsked();
    CSSRS.forEach(function (q) {
      if (q.followup && !followup) {
        return; // skipped by the screener: omitted from the body
      }
      cssrs[q.key] = radioValue("screening.cssrs." + q.key) === "yes";
    });
    body.screening = { phq9: phq9, gad7: gad7, cssrs: cssrs };

    body.preferences = {
      channels: checkedValues("preferences.channels"),
      session_times: checkedValues("preferences.session_times"),
      language: radioValue("preferences.language") || "en"
    };

    body.consent = {
      telehealth: checked("consent-telehealth"),
      privacy_notice: checked("consent-privacy"),
      sms: checked("consent-sms"),
      email: checked("consent-email"),
      signature: val("signature")
    };
    return body;
  }

  // ---------------------------------------------------------------------------------------
  // Client-side validation per step
  // ---------------------------------------------------------------------------------------

  function requireText(errors, id, field, message) {
    if (!val(id)) {
      errors.push({ field: field, message: message });
      return false;
    }
    return true;
  }

  function validateAddress(errors, prefix, path) {
    requireText(errors, prefix + "-line1", path + ".line1", T("err.line1"));
    requireText(errors, prefix + "-city", path + ".city", T("err.city"));
    requireText(errors, prefix + "-state", path + ".state", T("err.state"));
    if (requireText(errors, prefix + "-postal", path + ".postal_code", T("err.zip")) &&
        !ZIP_RE.test(val(prefix + "-postal"))) {
      errors.push({ field: path + ".postal_code", message: T("err.zip_format") });
    }
  }

  var VALIDATORS = {
    about: function (errors) {
      requireText(errors, "first-name", "patient.first_name", T("err.first_name"));
      requireText(errors, "last-name", "patient.last_name", T("err.last_name"));
      if (requireText(errors, "dob", "patient.date_of_birth", T("err.dob"))) {
        var problem = dobProblem(val("dob"));
        if (problem) {
          errors.push({ field: "patient.date_of_birth", message: problem });
        }
      }
      var email = val("email");
      var phone = val("phone");
      if (!email && !phone) {
        errors.push({ field: "patient.email", message: T("err.email_or_phone") });
        errors.push({ field: "patient.phone", message: T("err.phone_or_email") });
      }
      if (email && (email.length > 254 || !EMAIL_RE.test(email))) {
        errors.push({ field: "patient.email", message: T("err.email_format") });
      }
      if (phone && !phoneLooksValid(phone)) {
        errors.push({ field: "patient.phone",
          message: T("err.phone_format") });
      }
      var tz = timezoneValue();
      if (!tz) {
        errors.push({ field: "patient.timezone", message: T("err.timezone") });
      } else if (!timezoneIsValid(tz)) {
        errors.push({ field: "patient.timezone",
          message: T("err.timezone_name") });
      }
      validateAddress(errors, "addr", "patient.address");
    },
    location: function (errors) {
      if (!checked("same-as-address")) {
        validateAddress(errors, "loc", "current_location.address");
      }
    },
    emergency: function (errors) {
      requireText(errors, "ec-name", "emergency_contact.name", T("err.ec_name"));
      requireText(errors, "ec-relationship", "emergency_contact.relationship",
        T("err.ec_relationship"));
      if (requireText(errors, "ec-phone", "emergency_contact.phone", T("err.ec_phone")) &&
          !phoneLooksValid(val("ec-phone"))) {
        errors.push({ field: "emergency_contact.phone",
          message: T("err.phone_format") });
      }
    },
    insurance: function (errors) {
      var coverage = radioValue("coverage");
      if (!coverage) {
        errors.push({ field: "coverage", message: T("err.coverage") });
        return;
      }
      if (coverage !== "insurance") {
        return;
      }
      if (!val("payer")) {
        errors.push({ field: "insurance.payer_id", message: T("err.payer") });
      } else if (payerIsOther()) {
        requireText(errors, "payer-name", "insurance.payer_name", T("err.payer_name"));
      }
      requireText(errors, "member-id", "insurance.member_id", T("err.member_id"));
      if ((val("subscriber-relationship") || "self") !== "self") {
        requireText(errors, "subscriber-first-name", "insurance.subscriber.first_name",
          T("err.holder_first"));
        requireText(errors, "subscriber-last-name", "insurance.subscriber.last_name",
          T("err.holder_last"));
        if (requireText(errors, "subscriber-dob", "insurance.subscriber.date_of_birth",
          T("err.holder_dob"))) {
          var holderProblem = holderDobProblem(val("subscriber-dob"));
          if (holderProblem) {
            errors.push({ field: "insurance.subscriber.date_of_birth", message: holderProblem });
          }
        }
      }
    },
    screening: function (errors) {
      PHQ9.forEach(function (_, i) {
        if (!radioValue("screening.phq9." + i)) {
          errors.push({ field: "screening.phq9." + i, message: T("form.choose_answer", { n: i + 1 }) });
        }
      });
      GAD7.forEach(function (_, i) {
        if (!radioValue("screening.gad7." + i)) {
          errors.push({ field: "screening.gad7." + i, message: T("form.choose_answer", { n: i + 1 }) });
        }
      });
      var followup = cssrsFollowupAsked();
      CSSRS.forEach(function (q) {
        if (q.followup && !followup) {
          return;
        }
        if (!radioValue("screening.cssrs." + q.key)) {
          errors.push({ field: "screening.cssrs." + q.key, message: T("form.choose_yes_no") });
        }
      });
    },
    preferences: function () {},
    consent: function (errors) {
      if (!checked("consent-telehealth")) {
        errors.push({ field: "consent.telehealth", message: T("err.telehealth") });
      }
      if (!checked("consent-privacy")) {
        errors.push({ field: "consent.privacy_notice", message: T("err.privacy") });
      }
      requireText(errors, "signature", "consent.signature", T("err.signature"));
    },
    review: function () {}
  };

  function validateStep(name) {
    var errors = [];
    VALIDATORS[name](errors);
    return errors;
  }

  function validateAll() {
    return STEPS.reduce(function (all, name) {
      return all.concat(validateStep(name));
    }, []);
  }

  // ---------------------------------------------------------------------------------------
  // Errors next to fields
  // ---------------------------------------------------------------------------------------

  function inHiddenConditional(node) {
    for (var n = node; n; n = n.parentElement) {
      if (n.hasAttribute && n.hasAttribute("data-conditional") && n.hidden) {
        return true;
      }
    }
    return false;
  }

  function conditionalDepth(node) {
    var depth = 0;
    for (var n = node; n; n = n.parentElement) {
      if (n.hasAttribute && n.hasAttribute("data-conditional")) {
        depth += 1;
      }
    }
    return depth;
  }

  /**
   * The element that shows the error for a dotted path: an exact data-field match, else the
   * nearest ancestor path that has one (e.g. "preferences.channels.0" -> "preferences.channels",
   * an unknown "patient.foo" -> the "patient" step). When two elements share a path (a select
   * and its "other" text box), the one in a visible conditional block wins.
   */
  function findTarget(path, root) {
    var p = String(path || "");
    while (p) {
      var candidates = $$(attrSelector("data-field", p), root).filter(function (n) {
        return !inHiddenConditional(n);
      });
      if (candidates.length) {
        // The most deeply nested visible conditional wins (the "other" box over its select).
        var best = candidates[0];
        candidates.forEach(function (n) {
          if (conditionalDepth(n) > conditionalDepth(best)) {
            best = n;
          }
        });
        return { el: best, path: p };
      }
      var dot = p.lastIndexOf(".");
      p = dot > 0 ? p.slice(0, dot) : "";
    }
    return null;
  }

  function errorId(path) {
    return "error-" + path.replace(/[^A-Za-z0-9_-]/g, "-");
  }

  function isGroup(node) {
    return node.tagName === "FIELDSET" || node.tagName === "SECTION" || node.getAttribute("role") === "group";
  }

  function describedNodes(target) {
    var node = target.el;
    if (isGroup(node)) {
      var inputs = $$("input, select, textarea", node).filter(function (n) {
        return n.getAttribute("data-field") === target.path;
      });
      return node.tagName === "SECTION" ? inputs : [node].concat(inputs);
    }
    return [node];
  }

  function placeError(target, p) {
    var node = target.el;
    if (node.tagName === "SECTION") {
      var h = $("h2", node);
      h.parentNode.insertBefore(p, h.nextSibling);
    } else if (isGroup(node)) {
      var first = node.firstElementChild;
      var after = first && (first.tagName === "LEGEND" || /^H\d$/.test(first.tagName)) ? first : null;
      node.insertBefore(p, after ? after.nextSibling : node.firstChild);
    } else if (node.type === "checkbox" || node.type === "radio") {
      node.parentNode.appendChild(p);
    } else {
      node.parentNode.insertBefore(p, node);
    }
  }

  function showFieldError(target, message, source) {
    var id = errorId(target.path);
    var p = document.getElementById(id);
    if (!p) {
      p = el("p", { id: id, class: "field-error", "data-testid": "error-" + target.path, "data-source": source });
      placeError(target, p);
    } else if (p.textContent.indexOf(message) >= 0) {
      return;
    }
    var line = el("span", { class: "field-error-line" }, [el("span", { class: "visually-hidden", text: T("form.error_prefix") }), message]);
    p.appendChild(line);
    if (source === "server") {
      p.setAttribute("data-source", "server");
    }
    describedNodes(target).forEach(function (n) {
      addToken(n, "aria-describedby", id);
      if (/^(INPUT|SELECT|TEXTAREA)$/.test(n.tagName) && n.type !== "radio") {
        n.setAttribute("aria-invalid", "true");
      }
    });
    var wrapper = target.el.closest(".field, fieldset, .question-group");
    if (wrapper) {
      wrapper.classList.add("has-error");
    }
  }

  function removeErrorElement(p) {
    var id = p.id;
    $$("[aria-describedby]").forEach(function (n) {
      if ((n.getAttribute("aria-describedby") || "").split(/\s+/).indexOf(id) >= 0) {
        removeToken(n, "aria-describedby", id);
        n.removeAttribute("aria-invalid");
        var wrapper = n.closest(".has-error");
        if (wrapper) {
          wrapper.classList.remove("has-error");
        }
      }
    });
    if (p.parentNode) {
      p.parentNode.removeChild(p);
    }
  }

  /** Clear errors inside root; with keepServer, errors the server reported stay until edited. */
  function clearErrors(root, keepServer) {
    $$(".field-error", root || document).forEach(function (p) {
      if (keepServer && p.getAttribute("data-source") === "server") {
        return;
      }
      removeErrorElement(p);
    });
  }

  function clearErrorFor(input) {
    var path = input.getAttribute("data-field");
    var root = input.closest("form") || document;
    if (!path) {
      return;
    }
    var target = findTarget(path, root);
    var p = target && document.getElementById(errorId(target.path));
    if (p) {
      removeErrorElement(p);
    }
  }

  function labelFor(target) {
    var node = target.el;
    var text = "";
    if (node.tagName === "SECTION") {
      text = $("h2", node).textContent;
    } else if (node.tagName === "FIELDSET") {
      text = $("legend", node).textContent;
    } else if (node.getAttribute("aria-labelledby")) {
      var lab = document.getElementById(node.getAttribute("aria-labelledby").split(/\s+/)[0]);
      text = lab ? lab.textContent : "";
    } else if (node.id) {
      var label = $("label" + attrSelector("for", node.id));
      text = label ? label.textContent : "";
    }
    return text.replace(/\(optional\)/g, "").replace(/\s+/g, " ").trim();
  }

  function focusTarget(target) {
    var node = target.el;
    var focusable = node;
    if (node.tagName === "SECTION") {
      focusable = $("h2", node);
    } else if (isGroup(node)) {
      focusable = $("input:checked", node) || $("input, select, textarea", node) || node;
    }
    if (focusable.tabIndex < 0 && !focusable.hasAttribute("tabindex") && !/^(INPUT|SELECT|TEXTAREA|BUTTON|A)$/.test(focusable.tagName)) {
      focusable.setAttribute("tabindex", "-1");
    }
    focusable.focus();
  }

  var announceTimer = null;

  function announce(text) {
    var region = document.getElementById("announcer");
    region.textContent = "";
    window.clearTimeout(announceTimer);
    announceTimer = window.setTimeout(function () {
      region.textContent = text;
    }, 60);
  }

  function stepIndexOf(node) {
    var section = node.closest("section[data-step]");
    return section ? STEPS.indexOf(section.getAttribute("data-step")) : -1;
  }

  /**
   * Show errors (client or server) next to their fields, fill the summary, move to the step of
   * the first error and focus it. Returns the errors that matched no field.
   */
  function showErrors(errors, source) {
    var shown = [];
    var unplaced = [];
    errors.forEach(function (e) {
      var message = str(e && e.message) || T("form.check_answer");
      var target = findTarget(e && e.field, form);
      if (!target) {
        unplaced.push(message);
        return;
      }
      showFieldError(target, message, source);
      shown.push({ target: target, message: message });
    });
    shown.sort(function (a, b) {
      if (a.target.el === b.target.el) {
        return 0;
      }
      // eslint-disable-next-line no-bitwise
      return a.target.el.compareDocumentPosition(b.target.el) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
    renderSummary(shown, unplaced);
    var count = shown.length + unplaced.length;
    var summaryText = (count === 1 ? T("form.summary_one") : T("form.summary_many", { count: count })) + " " +
      shown.map(function (s) {
        return labelFor(s.target) + ": " + s.message;
      }).concat(unplaced).join(" ");
    if (shown.length) {
      var first = shown[0].target;
      var idx = stepIndexOf(first.el);
      if (idx >= 0 && idx !== currentStep) {
        showStep(idx, { focus: false, push: true });
      }
      focusTarget(first);
    } else if (unplaced.length) {
      showStep(STEPS.indexOf("review"), { focus: false, push: true });
      $("#error-summary").focus();
    }
    announce(summaryText);
    return unplaced;
  }

  function renderSummary(shown, unplaced) {
    var box = $("#error-summary");
    var list = $("#error-summary-list");
    list.textContent = "";
    var seen = {};
    shown.forEach(function (s) {
      var key = s.target.path + "\u0000" + s.message;
      if (seen[key]) {
        return;
      }
      seen[key] = true;
      var button = el("button", { type: "button", class: "link-button", "data-goto-field": s.target.path },
        [labelFor(s.target) + ": " + s.message]);
      list.appendChild(el("li", {}, [button]));
    });
    unplaced.forEach(function (m) {
      list.appendChild(el("li", { text: m }));
    });
    box.hidden = shown.length + unplaced.length === 0;
  }

  function hideSummary() {
    $("#error-summary").hidden = true;
    $("#error-summary-list").textContent = "";
  }

  // ---------------------------------------------------------------------------------------
  // Steps
  // ---------------------------------------------------------------------------------------

  var sections = [];
  var currentStep = 0;
  var finished = false;

  function showStep(i, opts) {
    opts = opts || {};
    currentStep = Math.max(0, Math.min(STEPS.length - 1, i));
    sections.forEach(function (s, j) {
      s.hidden = j !== currentStep;
    });
    var section = sections[currentStep];
    var title = $("h2", section).textContent.trim();
    $("#progress").textContent = T("intake.step_of", { n: currentStep + 1, total: STEPS.length, title: title });
    $("#progress-bar").value = currentStep + 1;
    document.title = T("intake.doc_title", { n: currentStep + 1, total: STEPS.length, title: title });
    $("[data-action=back]").hidden = currentStep === 0;
    $("[data-action=next]").hidden = currentStep === STEPS.length - 1;
    $("[data-action=submit]").hidden = currentStep !== STEPS.length - 1;
    if (STEPS[currentStep] === "review") {
      renderReview();
    }
    if (opts.push && window.history && window.history.pushState) {
      try {
        window.history.pushState({ step: currentStep }, "");
      } catch (e) {
        /* history not available (sandboxed frame): steps still work */
      }
    }
    if (opts.focus !== false) {
      window.scrollTo(0, 0);
      $("h2", section).focus({ preventScroll: true });
    }
  }

  function goNext() {
    var name = STEPS[currentStep];
    clearErrors(sections[currentStep], true);
    var errors = validateStep(name);
    if (errors.length) {
      showErrors(errors, "client");
      return;
    }
    if (!$(".field-error", form)) {
      hideSummary();
    }
    showStep(currentStep + 1, { push: true });
  }

  function goBack() {
    showStep(currentStep - 1, { push: true });
  }

  // ---------------------------------------------------------------------------------------
  // Review
  // ---------------------------------------------------------------------------------------

  function optionText(id) {
    var node = document.getElementById(id);
    var option = node && node.selectedOptions && node.selectedOptions[0];
    return option && option.value ? option.textContent.trim() : "";
  }

  function addressText(a) {
    return [a.line1, a.city, [a.state, a.postal_code].filter(Boolean).join(" ")].filter(Boolean).join(", ");
  }

  function renderReview() {
    var body = buildBody();
    var p = body.patient;
    var notGiven = T("form.not_given");
    var sep = T("review.list_separator");
    var yes = function (b) {
      return b ? T("form.yes") : T("form.no");
    };
    var heading = function (step) {
      return $("h2", sections[STEPS.indexOf(step)]).textContent.trim();
    };
    var groups = [
      ["about", [
        ["review.name", [p.first_name, p.last_name].join(" ").trim()],
        ["review.dob", p.date_of_birth],
        ["review.email", p.email || notGiven],
        ["review.phone", p.phone || notGiven],
        ["review.timezone", p.timezone],
        ["review.home_address", addressText(p.address)]
      ]],
      ["location", [
        ["review.address", body.current_location.same_as_address ? T("review.my_home") :
          addressText(body.current_location.address)]
      ]],
      ["emergency", [
        ["review.name", body.emergency_contact.name],
        ["review.relationship", body.emergency_contact.relationship],
        ["review.phone", body.emergency_contact.phone]
      ]],
      ["insurance", body.insurance ? [
        ["review.company", body.insurance.payer_name || ""],
        ["review.member_id", body.insurance.member_id],
        ["review.group_number", body.insurance.group_number || notGiven],
        ["review.whose", optionText("subscriber-relationship")]
      ].concat(body.insurance.subscriber ? [
        ["review.holder", [body.insurance.subscriber.first_name, body.insurance.subscriber.last_name].join(" ").trim()],
        ["review.holder_dob", body.insurance.subscriber.date_of_birth]
      ] : []) : [["review.payment", radioValue("coverage") === "self_pay" ? T("insurance.self_pay") :
        T("review.not_answered")]]],
      ["screening", [
        ["review.answered", countScreeningAnswered()]
      ]],
      ["preferences", [
        ["review.reminders", body.preferences.channels.map(function (c) {
          return c === "sms" ? T("review.text_message") : T("prefs.email");
        }).join(sep) || T("review.no_preference")],
        ["review.times", body.preferences.session_times.map(function (t) {
          return T("prefs." + t);
        }).join(sep) || T("review.no_preference")],
        ["review.language", body.preferences.language === "es" ? T("lang.es") : T("lang.en")]
      ]],
      ["consent", [
        ["review.telehealth", yes(body.consent.telehealth)],
        ["review.privacy", yes(body.consent.privacy_notice)],
        ["review.texts", yes(body.consent.sms)],
        ["review.emails", yes(body.consent.email)],
        ["review.signed", body.consent.signature || T("review.not_signed")]
      ]]
    ];
    var root = $("#review-content");
    root.textContent = "";
    groups.forEach(function (g) {
      var title = heading(g[0]);
      var dl = el("dl", { class: "review-list" });
      g[1].forEach(function (row) {
        dl.appendChild(el("div", { class: "review-row" }, [el("dt", { text: T(row[0]) }),
          el("dd", { text: row[1] || notGiven })]));
      });
      var edit = el("button", { type: "button", class: "btn btn-secondary btn-small", "data-action": "edit", "data-goto": g[0] },
        [T("review.change"), el("span", { class: "visually-hidden", text: " " + title })]);
      root.appendChild(el("div", { class: "review-group" }, [el("h3", { text: title }), dl, edit]));
    });
  }

  function countScreeningAnswered() {
    var total = PHQ9.length + GAD7.length;
    var answered = 0;
    PHQ9.forEach(function (_, i) {
      answered += radioValue("screening.phq9." + i) ? 1 : 0;
    });
    GAD7.forEach(function (_, i) {
      answered += radioValue("screening.gad7." + i) ? 1 : 0;
    });
    var followup = cssrsFollowupAsked();
    CSSRS.forEach(function (q) {
      if (q.followup && !followup) {
        return;
      }
      total += 1;
      answered += radioValue("screening.cssrs." + q.key) ? 1 : 0;
    });
    return T("review.answered_count", { answered: answered, total: total });
  }

  // ---------------------------------------------------------------------------------------
  // Networking
  // ---------------------------------------------------------------------------------------

  function apiUrl(path) {
    return CONFIG.apiBase + path;
  }

  function fetchWithTimeout(url, init, ms) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () {
      controller.abort();
    }, ms) : null;
    var opts = Object.assign({}, init, controller ? { signal: controller.signal } : {});
    return Promise.resolve().then(function () {
      return window.fetch(url, opts);
    }).then(function (response) {
      window.clearTimeout(timer);
      return response;
    }, function (err) {
      window.clearTimeout(timer);
      throw err;
    });
  }

  /**
   * POST JSON; on a network failure or a 502/503/504 retry with the same headers (so the same
   * Idempotency-Key) after each delay in `delays`. onRetry(attempt, attempts) reports progress.
   * Resolves to {response, data} or rejects with the last network error.
   */
  function postJson(path, payload, headers, delays, onRetry) {
    var init = {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      headers: Object.assign({ "Content-Type": "application/json", Accept: "application/json" }, headers || {}),
      body: JSON.stringify(payload)
    };
    var attempts = delays.length + 1;

    function attempt(n) {
      return fetchWithTimeout(apiUrl(path), init, REQUEST_TIMEOUT_MS).then(function (response) {
        if ((response.status === 502 || response.status === 503 || response.status === 504) && n < attempts) {
          return retry(n);
        }
        return response.text().then(function (text) {
          var data = null;
          try {
            data = text ? JSON.parse(text) : null;
          } catch (e) {
            data = null;
          }
          return { response: response, data: data };
        });
      }, function (err) {
        if (n < attempts) {
          return retry(n);
        }
        throw err;
      });
    }

    function retry(n) {
      if (onRetry) {
        onRetry(n + 1, attempts);
      }
      return sleep(delays[n - 1]).then(function () {
        return attempt(n + 1);
      });
    }

    return attempt(1);
  }

  // ---------------------------------------------------------------------------------------
  // Crisis resources
  // ---------------------------------------------------------------------------------------

  var PROSE_KEYS = /^(text|message|body|summary|title|heading|description|note|instructions?)$/i;

  function humanize(key) {
    var s = String(key).replace(/[_-]+/g, " ").trim();
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  function looksLikePhone(s) {
    return /^\+?[\d\s().-]{3,20}$/.test(s) && /\d{3}/.test(s.replace(/\D/g, "")) && s.replace(/\D/g, "").length >= 3;
  }

  function valueNode(text) {
    return looksLikePhone(text) ? el("a", { href: telHref(text), text: formatPhone(text) }) : document.createTextNode(text);
  }

  /** Render whatever shape the server sends (text, list, object) as text; never as HTML. */
  function renderResourceValue(v, parent, depth) {
    if (v === null || v === undefined || typeof v === "boolean" || depth > 4) {
      return;
    }
    if (typeof v === "string" || typeof v === "number") {
      var s = String(v).trim();
      if (s) {
        parent.appendChild(el("p", {}, [valueNode(s)]));
      }
      return;
    }
    if (Array.isArray(v)) {
      var ul = el("ul", {});
      v.forEach(function (item) {
        var li = el("li", {});
        renderResourceValue(item, li, depth + 1);
        if (li.childNodes.length) {
          ul.appendChild(li);
        }
      });
      if (ul.childNodes.length) {
        parent.appendChild(ul);
      }
      return;
    }
    if (typeof v === "object") {
      Object.keys(v).forEach(function (k) {
        var item = v[k];
        if (item === null || item === undefined || item === "" || typeof item === "boolean") {
          return;
        }
        if (typeof item === "string" || typeof item === "number") {
          var text = String(item).trim();
          if (PROSE_KEYS.test(k)) {
            parent.appendChild(el("p", { text: text }));
          } else {
            parent.appendChild(el("p", {}, [el("span", { class: "resource-label", text: humanize(k) + ": " }), valueNode(text)]));
          }
        } else {
          var wrap = el("div", { class: "resource-group" }, [el("p", { class: "resource-label", text: humanize(k) })]);
          renderResourceValue(item, wrap, depth + 1);
          parent.appendChild(wrap);
        }
      });
    }
  }

  function crisisActions() {
    var items = [
      el("li", {}, [el("a", { class: "pill pill-strong", href: "tel:988", text: T("crisis.call988") })]),
      el("li", {}, [el("a", { class: "pill pill-strong", href: "sms:988", text: T("crisis.text988") })]),
      el("li", {}, [el("a", { class: "pill pill-strong", href: "tel:911", text: T("crisis.call911") })])
    ];
    if (CONFIG.clinicPhone) {
      items.push(el("li", {}, [el("a", { class: "pill pill-strong", href: telHref(CONFIG.clinicPhone),
        text: T("crisis.call_clinic", { phone: formatPhone(CONFIG.clinicPhone) }) })]));
    }
    return el("ul", { class: "crisis-actions" }, items);
  }

  /** Fill the (single) crisis-resources block and move it into `slot`. */
  function showCrisisResources(resources, slot, lead) {
    var box = document.getElementById("crisis-resources");
    if (box.parentNode !== slot) {
      slot.appendChild(box);
    }
    box.textContent = "";
    box.hidden = false;
    box.appendChild(el("h2", { id: "crisis-resources-heading", tabindex: "-1", text: T("crisis.heading") }));
    if (lead) {
      box.appendChild(el("p", { class: "crisis-lead", text: lead }));
    }
    box.appendChild(el("p", { class: "crisis-lead", text: T("crisis.lead") }));
    var server = el("div", { class: "crisis-server" });
    renderResourceValue(resources, server, 0);
    if (server.childNodes.length) {
      box.appendChild(server);
    }
    box.appendChild(crisisActions());
    return box;
  }

  // ---------------------------------------------------------------------------------------
  // "I need help now"
  // ---------------------------------------------------------------------------------------

  var helpInFlight = false;

  function setHelpStatus(text) {
    $("#help-status").textContent = text;
  }

  function openHelp() {
    var panel = $("#help-panel");
    panel.hidden = false;
    if (helpInFlight) {
      $("#help-heading").focus();
      return;
    }
    if (lastIntakeId) {
      $("#help-form").hidden = true;
      $("#help-heading").focus();
      sendHelp({ intake_id: lastIntakeId });
      return;
    }
    var phone = val("phone");
    if (phone && phoneLooksValid(phone)) {
      $("#help-form").hidden = true;
      $("#help-heading").focus();
      sendHelp({ phone: phone, message: I18N.t("en", "help.default_message") });
      return;
    }
    var helpForm = $("#help-form");
    helpForm.hidden = false;
    if (phone && !val("help-phone")) {
      $("#help-phone").value = phone;
    }
    $("#help-phone").focus();
  }

  function closeHelp() {
    $("#help-panel").hidden = true;
    $("[data-action=help-now]").focus();
  }

  function submitHelpForm(event) {
    event.preventDefault();
    var helpForm = $("#help-form");
    clearErrors(helpForm);
    var phone = val("help-phone");
    if (!phone || !phoneLooksValid(phone)) {
      var target = findTarget("crisis.phone", helpForm);
      showFieldError(target, phone ? T("help.error_phone_format") : T("help.error_phone_missing"), "client");
      focusTarget(target);
      return;
    }
    sendHelp({ phone: phone, message: val("help-message") || I18N.t("en", "help.default_message") });
  }

  function sendHelp(payload) {
    if (helpInFlight) {
      return;
    }
    helpInFlight = true;
    var sendButton = $("[data-action=help-send]");
    sendButton.disabled = true;
    setHelpStatus(T("help.sending"));
    // After a risky intake the block already shows on the confirmation: update it there.
    var box = document.getElementById("crisis-resources");
    var slot = finished && box.parentNode.id === "confirmation-resources-slot" ? box.parentNode : $("#help-resources-slot");
    postJson("/crisis", payload, { "Idempotency-Key": randomUuid() }, CRISIS_RETRY_DELAYS_MS, function (n, total) {
      setHelpStatus(T("help.retrying", { n: n, total: total }));
    }).then(function (result) {
      var status = result.response.status;
      var data = result.data || {};
      if (status >= 200 && status < 300) {
        setHelpStatus("");
        $("#help-form").hidden = true;
        showCrisisResources(data.crisis_resources, slot,
          T("help.sent"));
        return;
      }
      if (status === 422 && Array.isArray(data.errors)) {
        var helpForm = $("#help-form");
        helpForm.hidden = false;
        clearErrors(helpForm);
        data.errors.forEach(function (e) {
          var target = findTarget("crisis." + str(e && e.field).replace(/^crisis\./, ""), helpForm) ||
            findTarget("crisis.phone", helpForm);
          showFieldError(target, str(e && e.message) || T("form.check_answer"), "server");
        });
        setHelpStatus(T("help.check_phone"));
        focusTarget(findTarget("crisis.phone", helpForm));
        return;
      }
      helpFailed(slot);
    }, function () {
      helpFailed(slot);
    }).then(function () {
      helpInFlight = false;
      sendButton.disabled = false;
    });
  }

  function helpFailed(slot) {
    setHelpStatus("");
    showCrisisResources(null, slot, T("help.failed"));
  }

  // ---------------------------------------------------------------------------------------
  // Submit
  // ---------------------------------------------------------------------------------------

  var inFlight = false;
  var lastIntakeId = null;

  function setBusy(busy) {
    inFlight = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
    $("[data-action=submit]").disabled = busy;
    $("[data-action=back]").disabled = busy;
    $$("[data-action=edit]").forEach(function (b) {
      b.disabled = busy;
    });
  }

  function setSubmitStatus(text) {
    $("#submit-status").textContent = text;
  }

  function showFormAlert(message, withResubmit) {
    var box = $("#form-alert");
    box.textContent = "";
    box.appendChild(el("p", { text: message }));
    if (withResubmit) {
      box.appendChild(el("button", { type: "button", class: "btn btn-secondary", "data-action": "resubmit-new",
        text: T("submit.resubmit") }));
    }
    if (CONFIG.clinicPhone) {
      box.appendChild(I18N.fill(el("p", {}), LANG, "form.call_clinic_too",
        { phone: el("a", { href: telHref(CONFIG.clinicPhone), text: formatPhone(CONFIG.clinicPhone) }) }));
    }
    box.hidden = false;
  }

  function hideFormAlert() {
    var box = $("#form-alert");
    box.hidden = true;
    box.textContent = "";
  }

  function bodyBytes(json) {
    return typeof TextEncoder === "function" ? new TextEncoder().encode(json).length : json.length * 3;
  }

  function submitForm() {
    if (inFlight || finished) {
      return;
    }
    setBusy(true); // synchronously: a second click finds the button disabled
    hideFormAlert();
    clearErrors(form, true);
    var errors = validateAll();
    if (errors.length) {
      setBusy(false);
      showErrors(errors, "client");
      return;
    }
    if (val("website")) {
      // Honeypot filled: a bot. Look successful, send nothing.
      forgetIdempotencyKey();
      showConfirmation(null, null);
      return;
    }
    var body = buildBody();
    if (bodyBytes(JSON.stringify(body)) > MAX_BODY_BYTES) {
      setBusy(false);
      showFormAlert(T(STATUS_KEYS[413]));
      return;
    }
    var key = getIdempotencyKey();
    setSubmitStatus(T("submit.sending"));
    postJson("/intake", body, { "Idempotency-Key": key }, RETRY_DELAYS_MS, function (n, total) {
      setSubmitStatus(T("submit.retrying", { n: n, total: total }));
    }).then(handleIntakeResponse, function () {
      setSubmitStatus("");
      setBusy(false);
      showFormAlert(T(STATUS_KEYS.network));
    });
  }

  function handleIntakeResponse(result) {
    var status = result.response.status;
    var data = result.data || {};
    setSubmitStatus("");
    if (status >= 200 && status < 300 && data.intake_id) {
      forgetIdempotencyKey();
      showConfirmation(String(data.intake_id), data.crisis_resources);
      return;
    }
    setBusy(false);
    var errors = Array.isArray(data.errors) ? data.errors : [];
    if (status === 422) {
      // Rejected without storing anything: a fresh key keeps a corrected resubmission from
      // colliding with whatever the server remembered about the rejected one.
      forgetIdempotencyKey();
      clearErrors(form, false);
      var unplaced = showErrors(errors.length ? errors : [{ field: "", message: T("form.check_answers") }], "server");
      if (unplaced.length) {
        showFormAlert(unplaced.join(" "));
      }
      return;
    }
    if (status === 409) {
      showFormAlert(T(STATUS_KEYS.conflict), true);
      return;
    }
    if (status === 400 || status === 413 || status === 415) {
      forgetIdempotencyKey();
      showFormAlert(T(STATUS_KEYS[status]));
      return;
    }
    if (status === 429) {
      showFormAlert(T(STATUS_KEYS[429]));
      return;
    }
    showFormAlert(T(STATUS_KEYS.server));
  }

  function resubmitAsNew() {
    forgetIdempotencyKey();
    hideFormAlert();
    submitForm();
  }

  function showConfirmation(intakeId, crisisResources) {
    finished = true;
    lastIntakeId = intakeId;
    var confirmation = $("[data-testid=confirmation]");
    $("[data-testid=intake-id]").textContent = intakeId || "";
    $("#confirmation-ref").hidden = !intakeId;
    form.hidden = true;
    $("#progress-block").hidden = true;
    hideSummary();
    hideFormAlert();
    confirmation.hidden = false;
    document.title = T("intake.doc_title_done", { clinic: CONFIG.clinicName });
    window.scrollTo(0, 0);
    if (crisisResources) {
      var box = showCrisisResources(crisisResources, $("#confirmation-resources-slot"),
        T("done.crisis_lead"));
      $("#help-panel").hidden = true;
      box.classList.add("crisis-resources-prominent");
      $("#crisis-resources-heading").focus({ preventScroll: true });
    } else {
      $("#h-confirmation").focus({ preventScroll: true });
    }
    // Take the answers out of the page now that they are sent.
    form.reset();
    try {
      window.history.replaceState({ step: "done" }, "");
    } catch (e) {
      /* ignore */
    }
  }

  // ---------------------------------------------------------------------------------------
  // Building the dynamic parts of the page
  // ---------------------------------------------------------------------------------------

  function fillSelect(select, options, placeholder) {
    if (placeholder) {
      select.appendChild(el("option", { value: "", text: placeholder }));
    }
    options.forEach(function (o) {
      select.appendChild(el("option", { value: o[0], text: o[1] }));
    });
  }

  function buildRadioItem(name, idBase, number, text, options, hint) {
    var legendChildren = [el("span", { class: "q-number", text: number + ". " }), text];
    var fieldset = el("fieldset", { class: "question", "data-field": name });
    fieldset.appendChild(el("legend", {}, legendChildren));
    var hintId = null;
    if (hint) {
      hintId = idBase + "-hint";
      fieldset.appendChild(el("p", { class: "hint", id: hintId, text: hint }));
    }
    var row = el("div", { class: "choices" });
    options.forEach(function (o, j) {
      var id = idBase + "-" + j;
      var input = el("input", { type: "radio", id: id, name: name, value: o[0], "data-field": name, required: true,
        "aria-describedby": hintId });
      row.appendChild(el("div", { class: "field radio choice" }, [input, el("label", { for: id, text: o[1] })]));
    });
    fieldset.appendChild(row);
    return fieldset;
  }

  function buildInstrument(root, name, lang) {
    var inst = SCREENING.get(name, lang);
    var group = root.closest(".question-group");
    // A question shown in English on a Spanish page (no published Spanish text held) says so.
    var note = $("[data-testid=english-only]", group);
    if (inst.lang !== lang) {
      group.setAttribute("lang", inst.lang);
      if (!note) {
        note = el("p", { class: "hint", "data-testid": "english-only" });
        group.insertBefore(note, root);
      }
      note.setAttribute("lang", lang); // the note itself is in the page's language
      note.textContent = T("screening.english_only");
    } else {
      group.removeAttribute("lang");
      if (note) {
        note.parentNode.removeChild(note);
      }
    }
    $("#" + name + "-title").textContent = inst.title;
    root.textContent = "";
    return inst;
  }

  function buildScreening(lang) {
    var answers = {};
    $$("#phq9-items input:checked, #gad7-items input:checked, #cssrs-items input:checked").forEach(function (n) {
      answers[n.name] = n.value;
    });
    var phq = buildInstrument($("#phq9-items"), "phq9", lang);
    var scale = phq.scale.map(function (label, score) {
      return [String(score), label];
    });
    var phqRoot = $("#phq9-items");
    phq.items.forEach(function (text, i) {
      phqRoot.appendChild(buildRadioItem("screening.phq9." + i, "phq9-" + i, i + 1, text, scale));
    });
    var gad = buildInstrument($("#gad7-items"), "gad7", lang);
    var gadScale = gad.scale.map(function (label, score) {
      return [String(score), label];
    });
    var gadRoot = $("#gad7-items");
    gad.items.forEach(function (text, i) {
      gadRoot.appendChild(buildRadioItem("screening.gad7." + i, "gad7-" + i, i + 1, text, gadScale));
    });
    var cssrs = buildInstrument($("#cssrs-items"), "cssrs", lang);
    var yesNo = [["yes", cssrs.yes], ["no", cssrs.no]];
    var cssrsRoot = $("#cssrs-items");
    var followupBlock = el("div", { id: "cssrs-followup", "data-conditional": true, "data-testid": "cssrs-followup", hidden: true });
    cssrs.items.forEach(function (q) {
      var node = buildRadioItem("screening.cssrs." + q.key, "cssrs-" + q.key, q.n, q.text, yesNo, q.hint);
      if (q.followup) {
        followupBlock.appendChild(node);
      } else {
        cssrsRoot.appendChild(node);
      }
      if (q.key === "suicidal_thoughts") {
        cssrsRoot.appendChild(followupBlock);
      }
    });
    Object.keys(answers).forEach(function (name) {
      var input = $("input[type=radio]" + attrSelector("name", name) + attrSelector("value", answers[name]));
      if (input) {
        input.checked = true;
      }
    });
  }

  /** Show the page in `lang` (en/es): every text, the questions (answers kept), <html lang>. */
  function setLanguage(lang) {
    LANG = lang;
    I18N.apply(document, LANG);
    clearErrors(document, true); // the page's own messages were in the other language
    hideSummary();
    $$("select[data-states]").forEach(function (sel) {
      sel.options[0].textContent = T("address.state_choose");
    });
    var tz = $("#timezone");
    Array.prototype.forEach.call(tz.options, function (o) {
      o.textContent = o.value === "" ? T("about.timezone_choose") :
        o.value === "other" ? T("about.timezone_another") : T("tz." + o.value);
    });
    var payer = $("#payer");
    payer.options[0].textContent = T("insurance.company_choose");
    payer.options[payer.options.length - 1].textContent = T("insurance.company_another");
    buildScreening(LANG);
    applyClinicDetails();
    // The site's language is the care language asked in the form (the person may still change it there).
    var pref = $("input[name=\"preferences.language\"][value=\"" + LANG + "\"]");
    if (pref) {
      pref.checked = true;
    }
    var note = $("#risk-note");
    note.textContent = "";
    updateConditionals();
    if (!finished) {
      showStep(currentStep, { focus: false, push: false });
    }
  }

  function updateCssrsSkip() {
    $("#cssrs-followup").hidden = !cssrsFollowupAsked();
  }

  function updateRiskNote() {
    var risky = radioValue("screening.phq9.8") !== "" && radioValue("screening.phq9.8") !== "0";
    CSSRS.forEach(function (q) {
      if (q.followup && !cssrsFollowupAsked()) {
        return;
      }
      if (radioValue("screening.cssrs." + q.key) === "yes") {
        risky = true;
      }
    });
    var note = $("#risk-note");
    var wasShown = note.childNodes.length > 0;
    if (risky && !wasShown) {
      note.appendChild(I18N.fill(el("p", {}), LANG, "screening.risk_note"));
    } else if (!risky && wasShown) {
      note.textContent = "";
    }
  }

  function buildTimezones() {
    var select = $("#timezone");
    fillSelect(select, US_TIMEZONES.map(function (z) {
      return [z, T("tz." + z)];
    }), T("about.timezone_choose"));
    select.appendChild(el("option", { value: "other", text: T("about.timezone_another") }));
    var detected = "";
    try {
      detected = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      detected = "";
    }
    var known = US_TIMEZONES.indexOf(detected) >= 0;
    if (known) {
      select.value = detected;
    } else if (detected) {
      select.value = "other";
      $("#timezone-other").value = detected;
    }
    updateTimezoneOther();
  }

  function updateTimezoneOther() {
    $("#timezone-other-block").hidden = val("timezone") !== "other";
  }

  function buildPayers() {
    var select = $("#payer");
    select.appendChild(el("option", { value: "", text: T("insurance.company_choose") }));
    CONFIG.payers.forEach(function (p) {
      select.appendChild(el("option", { value: p.id, text: p.name }));
    });
    select.appendChild(el("option", { value: "other", text: T("insurance.company_another") }));
  }

  function updateConditionals() {
    $("#location-address-block").hidden = checked("same-as-address");
    $("#insurance-block").hidden = radioValue("coverage") !== "insurance";
    $("#payer-other-block").hidden = !payerIsOther();
    $("#subscriber-block").hidden = (val("subscriber-relationship") || "self") === "self";
    updateTimezoneOther();
    updateCssrsSkip();
    updateRiskNote();
  }

  function applyClinicDetails() {
    $$("[data-clinic-name]").forEach(function (n) {
      n.textContent = CONFIG.clinicName;
    });
    $$("[data-clinic-phone]").forEach(function (n) {
      n.textContent = formatPhone(CONFIG.clinicPhone);
    });
    $$("[data-clinic-phone-link]").forEach(function (a) {
      if (CONFIG.clinicPhone) {
        a.setAttribute("href", telHref(CONFIG.clinicPhone));
      } else {
        var p = a.closest("p");
        if (p) {
          p.hidden = true;
        }
      }
    });
    if (CONFIG.privacyNoticeUrl) {
      var slot = $("#privacy-link-slot");
      slot.textContent = "";
      slot.appendChild(el("a", { href: CONFIG.privacyNoticeUrl, target: "_blank", rel: "noopener noreferrer",
        text: T("consent.privacy_link") }));
      slot.appendChild(document.createTextNode(". "));
    }
  }

  // ---------------------------------------------------------------------------------------
  // Wiring
  // ---------------------------------------------------------------------------------------

  function onClick(event) {
    var button = event.target.closest("[data-action], [data-goto-field]");
    if (!button || button.disabled) {
      return;
    }
    if (button.hasAttribute("data-goto-field")) {
      var target = findTarget(button.getAttribute("data-goto-field"), form);
      if (target) {
        var idx = stepIndexOf(target.el);
        if (idx >= 0 && idx !== currentStep) {
          showStep(idx, { focus: false, push: true });
        }
        focusTarget(target);
      }
      return;
    }
    switch (button.getAttribute("data-action")) {
      case "next":
        goNext();
        break;
      case "back":
        goBack();
        break;
      case "submit":
        submitForm();
        break;
      case "edit":
        showStep(STEPS.indexOf(button.getAttribute("data-goto")), { push: true });
        break;
      case "resubmit-new":
        resubmitAsNew();
        break;
      case "help-now":
        openHelp();
        break;
      case "help-close":
        closeHelp();
        break;
      default:
        break;
    }
  }

  function onFieldChange(event) {
    var t = event.target;
    if (!t || !t.getAttribute) {
      return;
    }
    clearErrorFor(t);
    if (event.type === "change") {
      updateConditionals();
    }
  }

  function init() {
    form = document.getElementById("intake-form");
    sections = STEPS.map(function (name) {
      return $("section" + attrSelector("data-step", name), form);
    });

    $$("select[data-states]").forEach(function (s) {
      fillSelect(s, US_STATES, T("address.state_choose"));
    });
    $("#dob").setAttribute("max", todayIso());
    $("#subscriber-dob").setAttribute("max", todayIso());
    buildTimezones();
    buildPayers();
    setLanguage(LANG);
    $$("[data-lang-choice]").forEach(function (b) {
      b.addEventListener("click", function () {
        setLanguage(I18N.choose(b.getAttribute("data-lang-choice")));
      });
    });

    document.addEventListener("click", onClick);
    form.addEventListener("input", onFieldChange);
    form.addEventListener("change", onFieldChange);
    form.addEventListener("submit", function (event) {
      event.preventDefault(); // Enter in a text box: go on a step rather than reload the page
      if (finished || inFlight) {
        return;
      }
      if (currentStep === STEPS.length - 1) {
        submitForm();
      } else {
        goNext();
      }
    });
    var helpForm = $("#help-form");
    helpForm.addEventListener("submit", submitHelpForm);
    $("#help-panel").addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        closeHelp();
      }
    });
    helpForm.addEventListener("input", onFieldChange);

    window.addEventListener("popstate", function (event) {
      if (finished) {
        return;
      }
      var s = event.state && typeof event.state.step === "number" ? event.state.step : 0;
      showStep(s, { push: false });
    });
    try {
      window.history.replaceState({ step: 0 }, "");
    } catch (e) {
      /* ignore */
    }
    showStep(0, { focus: false, push: false });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
