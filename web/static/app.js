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

  // "2026-12-08T11:00:00+03:00" → "08.12.2026 11:00": the agency's time, as the server wrote it.
  function wall(iso) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(iso || "");
    return m ? m[3] + "." + m[2] + "." + m[1] + " " + m[4] + ":" + m[5] : "";
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // A call's frames add up: the card first, its details ("popup_details") a moment later, then the
  // answered / ended frames; each is drawn over what came before. The card's upper part (who calls) is
  // redrawn each time; its lower part, the cockpit (telephony/static/card.js: call, transfer, property, next
  // action, script), is kept, and told of every frame by the "hub:card" event.
  function showPopup(frame, detailsOnly) {
    var key = frame.call_id || frame.id || String(Date.now());
    var card = popups[key];
    if (!card && detailsOnly) return;  // the card is gone already
    if (!card) {
      card = el("div", "popup");
      card.dataset.call = key;
      card.hubData = {};
      card.hubInfo = el("div", "popup-info");
      card.hubCockpit = el("div", "cockpit");
      card.appendChild(card.hubInfo);
      card.appendChild(card.hubCockpit);
      popups[key] = card;
      box.appendChild(card);
    }
    var msg = card.hubData = Object.assign({}, card.hubData, frame);
    var info = card.hubInfo;
    info.textContent = "";
    info.appendChild(el("div", "muted", msg.title || ""));
    info.appendChild(el("h3", "caller", msg.name || msg.number || ""));
    if (msg.number) info.appendChild(el("div", "number", msg.number));
    (msg.lines || []).forEach(function (line) { info.appendChild(el("div", "line", line)); });
    if (msg.owner) {
      var owner = el("div", "owner");
      if (msg.owner_label) owner.appendChild(el("span", "label", msg.owner_label + ": "));
      owner.appendChild(el("span", "value", msg.owner));
      info.appendChild(owner);
    }
    if (msg.inquiries && msg.inquiries.length) {
      var list = el("ul", "inquiries");
      msg.inquiries.forEach(function (q) {
        var li = el("li"), link = el("a", null, "№" + q.id + " " + (q.subject || ""));
        link.href = "/inquiries/" + encodeURIComponent(q.id);
        li.appendChild(link);
        if (q.planned_action) {
          li.appendChild(el("span", "next-action", " · " + q.planned_action +
            (q.planned_at ? " · " + wall(q.planned_at) : "")));
        }
        list.appendChild(li);
      });
      info.appendChild(list);
    }
    if (msg.recent_calls && msg.recent_calls.length) {
      var calls = el("ul", "recent-calls");
      msg.recent_calls.forEach(function (c) {
        calls.appendChild(el("li", "outcome-" + (c.outcome || ""),
          wall(c.at) + " · " + (c.outcome_label || c.outcome || "")));
      });
      info.appendChild(calls);
    }
    if (msg.client_id) {
      var a = el("a", "open", msg.open_label || "→");
      a.href = "/clients/" + encodeURIComponent(msg.client_id);
      info.appendChild(a);
    } else if (msg.new_number && !msg.ended) {
      var form = el("form", "create-client");
      form.method = "post";
      form.action = "/calls/" + encodeURIComponent(key) + "/client";
      var token = document.querySelector("input[name=_csrf]");
      var hidden = el("input");
      hidden.type = "hidden";
      hidden.name = "_csrf";
      hidden.value = token ? token.value : "";
      form.appendChild(hidden);
      form.appendChild(el("button", null, msg.create_label || "+"));
      info.appendChild(form);
    }
    if (msg.ended && !card.hubEnding) {
      card.hubEnding = true;
      card.classList.add("ended");
      // A card the agent is working in (the cockpit marks it "keep") stays until they close it.
      setTimeout(function () {
        if (card.dataset.keep === "1") return;
        card.remove();
        delete popups[key];
      }, 8000);
    }
    card.hubForget = function () { card.remove(); delete popups[key]; };
    document.dispatchEvent(new CustomEvent("hub:card", { detail: { key: key, msg: msg, card: card } }));
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(proto + location.host + "/ws");
    ws.onopen = function () { delay = 1000; setOnline(true); };
    ws.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "popup") showPopup(msg, false);
      else if (msg.type === "popup_details") showPopup(msg, true);
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
