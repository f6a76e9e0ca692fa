/*
 * Repeat-screening page (assess.html?t=<token>): the intake's PHQ-9 and GAD-7 (screening.js), and
 * the C-SSRS screener when PHQ-9 item 9 is above 0, posted as POST /assessments
 * {"token", "screening"} (CONTRACTS section 8). English or Spanish (i18n.js; ?lang= or the kept
 * choice).
 *
 * 201 -> thanks (crisis_resources first, as an alert, when present); 410 -> the link was used;
 * 403 -> the link expired or is not valid; 422 -> each error next to its question, a summary
 * that takes focus; network errors and 5xx keep the answers for another try.
 *
 * Plain browser JavaScript under the site's CSP: no inline code, every text through
 * textContent. Test hooks: [data-testid=crisis-resources|risk-note|link-problem|confirmation|
 * form-error-summary|english-only], inputs named screening.phq9.N / screening.gad7.N /
 * screening.cssrs.<key>, errors [data-testid="error-<path>"], [data-lang-choice=en|es].
 */
(function () {
  "use strict";

  var I18N = window.IOP_I18N;
  var SCREENING = window.IOP_SCREENING;
  var REQUEST_TIMEOUT_MS = 30000;
  var SAFE_HREF = /^(tel:|sms:|https:)/;

  var lang = I18N.language();
  var token = "";
  var inFlight = false;
  var done = false;
  var config = readConfig();

  function readConfig() {
    var raw = window.IOP_CONFIG && typeof window.IOP_CONFIG === "object" ? window.IOP_CONFIG : {};
    var s = function (v) {
      return typeof v === "string" ? v.trim() : "";
    };
    return {
      apiBase: s(raw.apiBase).replace(/\/+$/, ""),
      clinicName: s(raw.clinicName) || "The clinic",
      clinicPhone: s(raw.clinicPhone)
    };
  }

  function T(key, params) {
    return I18N.t(lang, key, params);
  }

  function $(sel, root) {
    return (root || document).querySelector(sel);
  }

  function $$(sel, root) {
    return Array.prototype.slice.call((root || document).querySelectorAll(sel));
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) {
        return;
      }
      if (k === "text") {
        node.textContent = v;
      } else {
        node.setAttribute(k, v === true ? "" : String(v));
      }
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function telHref(phone) {
    return "tel:" + String(phone).replace(/[^\d+]/g, "");
  }

  // ------------------------------------------------------------------------ questions

  function radioValue(name) {
    var hit = $("input[type=radio][name=\"" + name + "\"]:checked");
    return hit ? hit.value : "";
  }

  function item9AboveZero() {
    var v = radioValue("screening.phq9.8");
    return v !== "" && v !== "0";
  }

  function followupAsked() {
    return radioValue("screening.cssrs.suicidal_thoughts") === "yes";
  }

  function errorId(path) {
    return "error-" + path.replace(/[^A-Za-z0-9_-]/g, "-");
  }

  function buildQuestion(name, idBase, number, text, options, hint, qlang) {
    var fieldset = el("fieldset", { class: "question", "data-field": name, id: idBase, lang: qlang });
    fieldset.appendChild(el("legend", {}, [el("span", { class: "q-number", text: number + ". " }), text]));
    var hintId = null;
    if (hint) {
      hintId = idBase + "-hint";
      fieldset.appendChild(el("p", { class: "hint", id: hintId, text: hint }));
    }
    var row = el("div", { class: "choices" });
    options.forEach(function (o, j) {
      var id = idBase + "-" + j;
      var input = el("input", { type: "radio", id: id, name: name, value: o[0], "data-field": name,
        required: true, "aria-describedby": hintId });
      row.appendChild(el("div", { class: "field radio choice" }, [input, el("label", { for: id, text: o[1] })]));
    });
    fieldset.appendChild(row);
    return fieldset;
  }

  function groupHeader(name) {
    var inst = SCREENING.get(name, lang);
    var group = $("#" + name + "-items").closest(".question-group");
    var qlang = inst.lang !== lang ? inst.lang : null;
    $("#" + name + "-title").textContent = inst.title;
    if (qlang) {
      $("#" + name + "-title").setAttribute("lang", qlang);
    } else {
      $("#" + name + "-title").removeAttribute("lang");
    }
    var note = $("[data-testid=english-only]", group);
    if (qlang && !note) {
      note = el("p", { class: "hint", "data-testid": "english-only" });
      group.insertBefore(note, $("#" + name + "-items"));
    }
    if (note && !qlang) {
      note.parentNode.removeChild(note);
    } else if (note) {
      note.textContent = T("screening.english_only");
    }
    return { inst: inst, qlang: qlang };
  }

  function buildQuestions() {
    var answers = {};
    $$("input[type=radio]:checked").forEach(function (n) {
      answers[n.name] = n.value;
    });
    ["phq9", "gad7"].forEach(function (name) {
      var h = groupHeader(name);
      var root = $("#" + name + "-items");
      root.textContent = "";
      var scale = h.inst.scale.map(function (label, score) {
        return [String(score), label];
      });
      h.inst.items.forEach(function (text, i) {
        root.appendChild(buildQuestion("screening." + name + "." + i, name + "-" + i, i + 1, text, scale, null,
          h.qlang));
      });
    });
    var c = groupHeader("cssrs");
    var croot = $("#cssrs-items");
    croot.textContent = "";
    var yesNo = [["yes", c.inst.yes], ["no", c.inst.no]];
    var followup = el("div", { id: "cssrs-followup", "data-testid": "cssrs-followup", hidden: true });
    c.inst.items.forEach(function (q) {
      var node = buildQuestion("screening.cssrs." + q.key, "cssrs-" + q.key, q.n, q.text, yesNo, q.hint, c.qlang);
      (q.followup ? followup : croot).appendChild(node);
      if (q.key === "suicidal_thoughts") {
        croot.appendChild(followup);
      }
    });
    Object.keys(answers).forEach(function (name) {
      var input = $("input[type=radio][name=\"" + name + "\"][value=\"" + answers[name] + "\"]");
      if (input) {
        input.checked = true;
      }
    });
    updateBranches();
  }

  function updateBranches() {
    var risky = item9AboveZero();
    $("#cssrs-block").hidden = !risky;
    $("#cssrs-followup").hidden = !followupAsked();
    CSSRS_KEYS().forEach(function (q) {
      if (q.followup && !followupAsked() && radioValue("screening.cssrs." + q.key)) {
        // a skipped question keeps no answer: it is left out of the body
        $$("input[name=\"screening.cssrs." + q.key + "\"]").forEach(function (n) {
          n.checked = false;
        });
      }
    });
    var anyYes = risky && CSSRS_KEYS().some(function (q) {
      return radioValue("screening.cssrs." + q.key) === "yes";
    });
    // 988 / 911 at once, before anything is sent, when item 9 is above 0 (or a C-SSRS yes).
    $("#risk-note").hidden = !(risky || anyYes);
  }

  function CSSRS_KEYS() {
    return SCREENING.get("cssrs", "en").items;
  }

  // ------------------------------------------------------------------------ body and checks

  function buildScreening() {
    var screening = {
      phq9: SCREENING.get("phq9", "en").items.map(function (_, i) {
        return parseInt(radioValue("screening.phq9." + i), 10);
      }),
      gad7: SCREENING.get("gad7", "en").items.map(function (_, i) {
        return parseInt(radioValue("screening.gad7." + i), 10);
      })
    };
    if (item9AboveZero()) {
      var cssrs = {};
      CSSRS_KEYS().forEach(function (q) {
        if (q.followup && !followupAsked()) {
          return;
        }
        cssrs[q.key] = radioValue("screening.cssrs." + q.key) === "yes";
      });
      screening.cssrs = cssrs;
    }
    return screening;
  }

  function validate() {
    var errors = [];
    ["phq9", "gad7"].forEach(function (name) {
      SCREENING.get(name, "en").items.forEach(function (_, i) {
        if (!radioValue("screening." + name + "." + i)) {
          errors.push({ field: "screening." + name + "." + i, message: T("form.choose_answer", { n: i + 1 }) });
        }
      });
    });
    if (item9AboveZero()) {
      CSSRS_KEYS().forEach(function (q) {
        if (q.followup && !followupAsked()) {
          return;
        }
        if (!radioValue("screening.cssrs." + q.key)) {
          errors.push({ field: "screening.cssrs." + q.key, message: T("form.choose_yes_no") });
        }
      });
    }
    return errors;
  }

  // ------------------------------------------------------------------------ errors

  function clearErrors() {
    $$(".field-error").forEach(function (p) {
      $$("[aria-describedby]").forEach(function (n) {
        var ids = (n.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (x) {
          return x && x !== p.id;
        });
        if (ids.length) {
          n.setAttribute("aria-describedby", ids.join(" "));
        } else {
          n.removeAttribute("aria-describedby");
        }
      });
      var wrap = p.closest(".has-error");
      if (wrap) {
        wrap.classList.remove("has-error");
      }
      p.parentNode.removeChild(p);
    });
    $("#error-summary").hidden = true;
    $("#error-summary-list").textContent = "";
  }

  /** The question (fieldset) for a dotted path, or its nearest visible parent group. */
  function targetFor(path) {
    var parts = String(path || "").split(".");
    while (parts.length) {
      var p = parts.join(".");
      var hit = $$("[data-field=\"" + p + "\"]").filter(function (n) {
        return n.tagName === "FIELDSET" || n.classList.contains("question-group");
      })[0];
      if (hit && !hit.closest("[hidden]")) {
        return { el: hit, path: p };
      }
      parts.pop();
    }
    return null;
  }

  function showErrors(errors) {
    clearErrors();
    var list = $("#error-summary-list");
    var placed = 0;
    var unplaced = [];
    var first = null;
    errors.forEach(function (e) {
      var message = (e && typeof e.message === "string" && e.message.trim()) || T("form.check_answer");
      var target = targetFor(e && e.field);
      if (!target) {
        unplaced.push(message);
        return;
      }
      placed += 1;
      var id = errorId(target.path);
      var p = document.getElementById(id);
      if (!p) {
        p = el("p", { class: "field-error", id: id, "data-testid": "error-" + target.path });
        var legend = $("legend", target.el) || $("h2", target.el);
        legend.parentNode.insertBefore(p, legend.nextSibling);
        target.el.classList.add("has-error");
        $$("input", target.el).forEach(function (n) {
          var ids = (n.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
          if (ids.indexOf(id) < 0) {
            ids.unshift(id);
          }
          n.setAttribute("aria-describedby", ids.join(" "));
        });
      }
      p.appendChild(el("span", { class: "field-error-line" }, [
        el("span", { class: "visually-hidden", text: T("form.error_prefix") }), message]));
      var legendText = ($("legend", target.el) || $("h2", target.el)).textContent.trim();
      var button = el("button", { type: "button", class: "link-button", "data-goto": target.el.id || "" },
        [legendText + ": " + message]);
      button.addEventListener("click", function () {
        var input = $("input", target.el);
        (input || target.el).focus();
      });
      list.appendChild(el("li", {}, [button]));
      first = first || target;
    });
    unplaced.forEach(function (m) {
      list.appendChild(el("li", { text: m }));
    });
    var count = placed + unplaced.length;
    $("#error-summary-count").textContent = count === 1 ? T("form.summary_one") : T("form.summary_many", { count: count });
    var summary = $("#error-summary");
    summary.hidden = count === 0;
    if (count) {
      summary.focus();
    }
  }

  // ------------------------------------------------------------------------ crisis resources

  function showCrisisResources(resources) {
    var box = $("#crisis-resources");
    box.textContent = "";
    box.appendChild(el("h2", { id: "crisis-resources-heading", tabindex: "-1", text: T("crisis.heading") }));
    box.appendChild(el("p", { class: "crisis-lead", text: T("assess.done_crisis_lead") }));
    box.appendChild(el("p", { class: "crisis-lead", text: T("crisis.lead") }));
    // What the API returns, in the patient's language once the backend sends it so.
    var server = el("div", { class: "crisis-server", "data-testid": "crisis-server" });
    if (resources && typeof resources === "object") {
      if (typeof resources.message === "string" && resources.message.trim()) {
        server.appendChild(el("p", { text: resources.message.trim() }));
      }
      if (Array.isArray(resources.lines)) {
        var ul = el("ul", { class: "crisis-lines" });
        resources.lines.forEach(function (line) {
          if (!line || typeof line !== "object") {
            return;
          }
          var label = typeof line.label === "string" ? line.label : "";
          var action = typeof line.action === "string" ? line.action : "";
          var href = typeof line.href === "string" && SAFE_HREF.test(line.href) ? line.href : "";
          var li = el("li", {}, [el("span", { class: "resource-label", text: label ? label + ": " : "" })]);
          li.appendChild(href ? el("a", { href: href, text: action || label }) : document.createTextNode(action));
          ul.appendChild(li);
        });
        if (ul.childNodes.length) {
          server.appendChild(ul);
        }
      }
    }
    if (server.childNodes.length) {
      box.appendChild(server);
    }
    var actions = [
      el("li", {}, [el("a", { class: "pill pill-strong", href: "tel:988", text: T("crisis.call988") })]),
      el("li", {}, [el("a", { class: "pill pill-strong", href: "sms:988", text: T("crisis.text988") })]),
      el("li", {}, [el("a", { class: "pill pill-strong", href: "tel:911", text: T("crisis.call911") })])
    ];
    if (config.clinicPhone) {
      actions.push(el("li", {}, [el("a", { class: "pill pill-strong", href: telHref(config.clinicPhone),
        text: T("crisis.call_clinic", { phone: config.clinicPhone }) })]));
    }
    box.appendChild(el("ul", { class: "crisis-actions" }, actions));
    box.hidden = false;
    $("#crisis-resources-heading").focus();
  }

  // ------------------------------------------------------------------------ sending

  function linkProblem(key) {
    var box = $("#link-problem");
    box.textContent = "";
    box.appendChild(el("p", { text: T(key) }));
    if (config.clinicPhone) {
      box.appendChild(el("p", {}, [el("a", { href: telHref(config.clinicPhone),
        text: T("crisis.call_clinic", { phone: config.clinicPhone }) })]));
    }
    box.setAttribute("data-reason", key);
    box.hidden = false;
    $("#assess-form").hidden = true;
    box.focus();
  }

  function formAlert(key) {
    var box = $("#form-alert");
    box.textContent = "";
    box.appendChild(el("p", { text: T(key) }));
    box.hidden = false;
  }

  function setBusy(busy) {
    inFlight = busy;
    $("#assess-form").setAttribute("aria-busy", busy ? "true" : "false");
    $("[data-action=submit]").disabled = busy;
    $("#submit-status").textContent = busy ? T("assess.sending") : "";
  }

  function post(body) {
    var controller = typeof AbortController === "function" ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () {
      controller.abort();
    }, REQUEST_TIMEOUT_MS) : null;
    return window.fetch(config.apiBase + "/assessments", {
      method: "POST", mode: "cors", credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      window.clearTimeout(timer);
      return response.text().then(function (text) {
        var data = null;
        try {
          data = text ? JSON.parse(text) : null;
        } catch (e) {
          data = null;
        }
        return { status: response.status, data: data || {} };
      });
    }, function (err) {
      window.clearTimeout(timer);
      throw err;
    });
  }

  function submit(event) {
    event.preventDefault();
    if (inFlight || done) {
      return;
    }
    $("#form-alert").hidden = true;
    var errors = validate();
    if (errors.length) {
      showErrors(errors);
      return;
    }
    clearErrors();
    setBusy(true);
    post({ token: token, screening: buildScreening() }).then(function (result) {
      setBusy(false);
      var status = result.status;
      var data = result.data;
      if (status === 201 || status === 200) {
        finish(data.crisis_resources);
      } else if (status === 410) {
        linkProblem("assess.used");
      } else if (status === 403 || status === 401) {
        linkProblem("assess.expired");
      } else if (status === 422) {
        var list = Array.isArray(data.errors) ? data.errors : [];
        var tokenProblem = list.some(function (e) {
          return e && e.field === "token";
        });
        if (tokenProblem) {
          linkProblem("assess.expired");
        } else {
          showErrors(list.length ? list : [{ field: "", message: T("form.check_answers") }]);
        }
      } else if (status === 0) {
        formAlert("assess.network");
      } else {
        formAlert("assess.server");
      }
    }, function () {
      setBusy(false);
      formAlert("assess.network");
    });
  }

  function finish(crisisResources) {
    done = true;
    $("#assess-form").hidden = true;
    $("#assess-form").reset();
    $("#error-summary").hidden = true;
    $("#assess-done").hidden = false;
    if (crisisResources) {
      showCrisisResources(crisisResources);
    } else {
      $("#h-done").focus();
    }
    $("#assess-done").setAttribute("data-crisis", crisisResources ? "yes" : "no");
  }

  // ------------------------------------------------------------------------ language and start

  function applyClinic() {
    $$("[data-clinic-name]").forEach(function (n) {
      n.textContent = config.clinicName;
    });
    $$("[data-clinic-phone]").forEach(function (n) {
      n.textContent = config.clinicPhone;
    });
    $$("[data-clinic-phone-link]").forEach(function (a) {
      a.setAttribute("href", config.clinicPhone ? telHref(config.clinicPhone) : "tel:");
    });
  }

  function setLanguage(next) {
    lang = next;
    I18N.apply(document, lang);
    applyClinic();
    buildQuestions();
    if (!$("#link-problem").hidden) {
      linkProblem($("#link-problem").getAttribute("data-reason"));
    }
    if (!$("#error-summary").hidden) {
      showErrors(validate()); // the page's own messages again, in the new language
    }
  }

  function init() {
    try {
      token = new URLSearchParams(window.location.search).get("t") || "";
    } catch (e) {
      token = "";
    }
    setLanguage(lang);
    $$("[data-lang-choice]").forEach(function (b) {
      b.addEventListener("click", function () {
        setLanguage(I18N.choose(b.getAttribute("data-lang-choice")));
      });
    });
    var form = $("#assess-form");
    form.addEventListener("change", function (event) {
      updateBranches();
      var q = event.target && event.target.closest && event.target.closest("fieldset.question");
      var p = q && document.getElementById(errorId(q.getAttribute("data-field")));
      if (p) {
        q.classList.remove("has-error");
        p.parentNode.removeChild(p);
      }
    });
    form.addEventListener("submit", submit);
    if (!token) {
      linkProblem("assess.no_token");
      return;
    }
    form.hidden = false;
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
