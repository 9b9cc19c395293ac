// Live channel of the workspace: connects the page's WebSocket and shows pop-ups.
// Everything that came from a client (names, numbers, texts) is put in with textContent, never as HTML.
(function () {
  "use strict";
  var state = document.getElementById("ws-state");
  var box = document.getElementById("popups");
  var popups = {};
  var delay = 1000;

  function setOnline(on) {
    if (!state) return;
    state.className = on ? "ws-on" : "ws-off";
    state.textContent = on ? state.dataset.on : state.dataset.off;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function showPopup(msg) {
    var key = msg.call_id || msg.id || String(Date.now());
    var card = popups[key];
    if (!card) {
      card = el("div", "popup");
      card.dataset.call = key;
      popups[key] = card;
      box.appendChild(card);
    }
    card.textContent = "";
    card.appendChild(el("div", "muted", msg.title || ""));
    card.appendChild(el("h3", "caller", msg.name || msg.number || ""));
    if (msg.number) card.appendChild(el("div", "number", msg.number));
    (msg.lines || []).forEach(function (line) { card.appendChild(el("div", "line", line)); });
    if (msg.client_id) {
      var a = el("a", "open", msg.open_label || "→");
      a.href = "/clients/" + encodeURIComponent(msg.client_id);
      card.appendChild(a);
    }
    if (msg.ended) {
      card.classList.add("ended");
      setTimeout(function () { card.remove(); delete popups[key]; }, 8000);
    }
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/ws");
    ws.onopen = function () { delay = 1000; setOnline(true); };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "popup") showPopup(msg);
      document.dispatchEvent(new CustomEvent("hub:" + msg.type, { detail: msg }));
    };
    ws.onclose = function () {
      setOnline(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  if (box) connect();

  // Click-to-call and callback buttons: sent in the background, the PBX's answer shown beside the button.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("call-form")) return;
    ev.preventDefault();
    var out = form.querySelector(".call-result");
    var data = new FormData(form);
    fetch(form.action, {
      method: "POST", body: new URLSearchParams(data), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": data.get("_csrf") || "" }
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (out) { out.textContent = res.message || ""; out.className = "call-result " + (res.ok ? "ok" : "error"); }
    }).catch(function () {
      if (out) { out.textContent = "✕"; out.className = "call-result error"; }
    });
  });
})();
