// Notices: a toast for each new notice (WebSocket frame "notice" → DOM event hub:notice) and the unread
// count next to the «Уведомления» link in the top bar.
(function () {
  "use strict";
  function link() { return document.querySelector('nav a[href="/notices"]'); }

  function setCount(n) {
    var a = link();
    if (!a) return;
    var badge = a.querySelector(".notice-count");
    if (!badge) {
      badge = document.createElement("span");
      badge.className = "notice-count";
      badge.style.cssText = "margin-left:.3em;padding:0 .4em;border-radius:.8em;background:#c62828;color:#fff;font-size:.8em";
      a.appendChild(badge);
    }
    badge.textContent = n > 0 ? String(n) : "";
    badge.hidden = !(n > 0);
    var onPage = document.getElementById("notices-unread");
    if (onPage) onPage.textContent = String(Math.max(n, 0));
  }

  function refresh() {
    fetch("/notices/unread", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d && typeof d.unread === "number") setCount(d.unread); })
      .catch(function () {});
  }

  function box() {
    var el = document.getElementById("notice-toasts");
    if (!el) {
      el = document.createElement("div");
      el.id = "notice-toasts";
      el.setAttribute("role", "status");
      el.setAttribute("aria-live", "polite");
      el.style.cssText = "position:fixed;right:1em;bottom:1em;z-index:1000;max-width:24em;display:flex;flex-direction:column;gap:.5em";
      document.body.appendChild(el);
    }
    return el;
  }

  function toast(frame) {
    var item = document.createElement(frame.url ? "a" : "div");
    item.className = "notice-toast kind-" + (frame.kind || "");
    item.style.cssText = "display:block;padding:.6em .8em;background:#263238;color:#fff;border-radius:.4em;box-shadow:0 2px 8px rgba(0,0,0,.3);text-decoration:none";
    item.textContent = frame.text || "";
    if (frame.url && frame.url.charAt(0) === "/" && frame.url.charAt(1) !== "/") item.href = frame.url;
    box().appendChild(item);
    setTimeout(function () { item.remove(); }, 10000);
  }

  document.addEventListener("hub:notice", function (e) {
    var frame = e.detail || {};
    if (frame.toast !== false) toast(frame);  // a team offer already has its own card (routing.js)
    refresh();
  });
  // The client card links to the client's memorable dates (until the card template has its own link).
  function datesLink() {
    var m = /^\/clients\/(\d+)$/.exec(location.pathname);
    var h1 = document.querySelector("h1.client-name");
    if (!m || !h1 || document.getElementById("client-dates-link")) return;
    var a = document.createElement("a");
    a.id = "client-dates-link";
    a.href = "/clients/" + m[1] + "/dates";
    a.textContent = document.documentElement.lang === "en" ? "Memorable dates" : "Памятные даты";
    var p = document.createElement("p");
    p.appendChild(a);
    h1.insertAdjacentElement("afterend", p);
  }

  function ready() { refresh(); datesLink(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
