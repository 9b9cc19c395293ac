// The administrator's pages: a banner when a year the hub needs has no official production calendar file.
(function () {
  "use strict";
  if (!document.querySelector("header.top nav") || document.getElementById("calendar-missing")) return;
  var key = "hub.calendar.warning";
  var today = new Date().toISOString().slice(0, 10);
  function show(data) {
    if (!data || !data.warning) return;
    var main = document.querySelector("main");
    if (!main) return;
    var p = document.createElement("p");
    p.className = "error calendar-warning";
    p.setAttribute("role", "alert");
    var a = document.createElement("a");
    a.href = data.href;
    a.textContent = data.warning;
    p.appendChild(a);
    main.insertBefore(p, main.firstChild);
  }
  try {
    var kept = JSON.parse(sessionStorage.getItem(key) || "null");
    if (kept && kept.day === today) { show(kept.data); return; }
  } catch (e) { /* no storage: ask */ }
  fetch("/admin/routing/calendar/status.json", {credentials: "same-origin"})
    .then(function (r) { return r.ok ? r.json() : {}; })
    .then(function (data) {
      try { sessionStorage.setItem(key, JSON.stringify({day: today, data: data})); } catch (e) { /* ignore */ }
      show(data);
    })
    .catch(function () { /* the banner is a courtesy */ });
})();
