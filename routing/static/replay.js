// The replay's progress line: asks the hub how far the replay is twice a second and reloads the page when it
// is finished (without a script the page refreshes itself every two seconds).
(function () {
  "use strict";
  var box = document.getElementById("replay-job");
  var line = document.getElementById("replay-progress");
  if (!box || !line || box.dataset.finished === "yes") return;
  var ru = document.body.dataset.locale !== "en";
  function tick() {
    fetch("/admin/routing/replay/jobs/" + box.dataset.job + ".json", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.finished) { location.reload(); return; }
        var pct = s.total ? Math.floor(100 * s.done / s.total) : 0;
        line.textContent = (ru ? "Проверено обращений: " : "Inquiries replayed: ") + s.done + " / " + (s.total || "…") +
          " (" + pct + "%)";
        setTimeout(tick, 500);
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 300);
})();
