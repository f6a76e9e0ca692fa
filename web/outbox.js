/*
 * Local stack only: lists every SMS and email sent (GET /_local/outbox, same origin), newest
 * first, refreshing every 2 seconds. Message text goes in through textContent only.
 */
(function () {
  "use strict";

  var ENDPOINT = "/_local/outbox";
  var REFRESH_MS = 2000;
  var lastSnapshot = null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function asList(v) {
    return Array.isArray(v) ? v.filter(function (m) { return m && typeof m === "object"; }) : [];
  }

  /** One list of {kind, to, at, subject, text}, newest first (ties: later in the feed first). */
  function merge(data) {
    var items = [];
    asList(data && data.sms).forEach(function (m, i) {
      items.push({ kind: "sms", to: m.to, at: m.at, subject: null, text: m.body, order: i });
    });
    asList(data && data.email).forEach(function (m, i) {
      items.push({ kind: "email", to: m.to, at: m.at, subject: m.subject, text: m.text, order: i });
    });
    items.forEach(function (m) {
      var t = Date.parse(m.at);
      m.time = isNaN(t) ? 0 : t;
    });
    items.sort(function (a, b) {
      return b.time - a.time || b.order - a.order;
    });
    return items;
  }

  function render(items) {
    var list = document.getElementById("outbox-list");
    list.textContent = "";
    items.forEach(function (m) {
      var li = el("li", "outbox-item");
      li.setAttribute("data-testid", "outbox-item");
      li.setAttribute("data-kind", m.kind);
      var meta = el("p", "outbox-meta");
      meta.appendChild(el("span", "outbox-kind", m.kind === "sms" ? "SMS" : "Email"));
      meta.appendChild(document.createTextNode("To "));
      meta.appendChild(el("strong", "outbox-to", m.to || "(no recipient)"));
      meta.appendChild(document.createTextNode(" at "));
      var time = el("time", "outbox-at", m.at || "(no time)");
      if (m.at) {
        time.setAttribute("datetime", String(m.at));
      }
      meta.appendChild(time);
      li.appendChild(meta);
      if (m.kind === "email") {
        li.appendChild(el("p", "outbox-subject", m.subject || "(no subject)"));
      }
      li.appendChild(el("p", "outbox-text", m.text || ""));
      list.appendChild(li);
    });
  }

  function setStatus(text) {
    var status = document.getElementById("outbox-status");
    if (status.textContent !== text) {
      status.textContent = text;
    }
  }

  function refresh() {
    return Promise.resolve().then(function () {
      return window.fetch(ENDPOINT, { cache: "no-store", credentials: "same-origin" });
    }).then(function (r) {
      if (!r.ok) {
        throw new Error("HTTP " + r.status);
      }
      return r.json();
    }).then(function (data) {
      var items = merge(data);
      var snapshot = JSON.stringify(items);
      if (snapshot !== lastSnapshot) {
        lastSnapshot = snapshot;
        render(items);
      }
      var sms = items.filter(function (m) { return m.kind === "sms"; }).length;
      setStatus(sms + " SMS and " + (items.length - sms) + " email" + (items.length - sms === 1 ? "" : "s") + " sent.");
    }).catch(function () {
      setStatus("Cannot load the outbox. Is the local stack running? Trying again every 2 seconds.");
    });
  }

  function loop() {
    refresh().then(function () {
      window.setTimeout(loop, REFRESH_MS);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", loop);
  } else {
    loop();
  }
})();
