// The client's data export: start it, then show its progress until the archive can be downloaded.
(function () {
  "use strict";
  const form = document.getElementById("export-form");
  const line = document.getElementById("export-progress");
  if (!form || !line) return;

  function follow(statusUrl) {
    fetch(statusUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then((r) => r.json())
      .then((job) => {
        line.textContent = "";
        if (job.url) {
          const a = document.createElement("a");
          a.href = job.url;
          a.textContent = job.text;
          line.appendChild(a);
        } else {
          line.textContent = job.text;
        }
        if (job.state === "running") setTimeout(() => follow(statusUrl), 700);
      })
      .catch(() => setTimeout(() => follow(statusUrl), 2000));
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                        headers: {Accept: "application/json"}})
      .then((r) => r.json())
      .then((job) => follow(job.status));
  });
  const started = new URLSearchParams(location.search).get("export");
  if (started) follow("/privacy/exports/" + encodeURIComponent(started));
})();
