// Hub web-form helper for a site owner's page: <form data-hub-form="https://hub.example.ru/forms/mysite">.
// Sends the form as JSON with a one-time Idempotency-Key (a retry never makes a second request),
// adds UTM tags from the page address, and shows the hub's per-field messages next to the fields.
(function () {
  "use strict";
  function utm() {
    var out = {}, q = new URLSearchParams(location.search);
    ["utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term"].forEach(function (k) {
      if (q.get(k)) out[k] = q.get(k);
    });
    return out;
  }
  function note(form, name, text) {
    var field = form.querySelector('[name="' + name + '"]');
    var p = document.createElement("p");
    p.className = "hub-form-error";
    p.textContent = text;
    (field && field.parentNode ? field.parentNode : form).appendChild(p);
  }
  document.querySelectorAll("form[data-hub-form]").forEach(function (form) {
    var key = (window.crypto && crypto.randomUUID) ? crypto.randomUUID() : String(Date.now()) + Math.random();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      form.querySelectorAll(".hub-form-error").forEach(function (n) { n.remove(); });
      var data = Object.assign({}, utm(), Object.fromEntries(new FormData(form)));
      data.page_url = location.href;
      data.referrer = document.referrer;
      fetch(form.dataset.hubForm, {
        method: "POST", headers: { "Content-Type": "application/json", "Idempotency-Key": key },
        body: JSON.stringify(data),
      }).then(function (r) { return r.json().then(function (b) { return [r.status, b]; }); })
        .then(function (res) {
          if (res[1].ok) { form.replaceChildren(document.createTextNode(form.dataset.thanks || "Спасибо! Мы скоро свяжемся с вами.")); return; }
          var fields = res[1].fields || {};
          Object.keys(fields).forEach(function (k) { note(form, k, fields[k]); });
          if (!Object.keys(fields).length) note(form, "", res[1].error || "Ошибка, попробуйте ещё раз");
        })
        .catch(function () { note(form, "", "Нет связи, попробуйте ещё раз"); });
    });
  });
})();
