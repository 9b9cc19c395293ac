// Department call feed: the calls waiting at the user's departments as live cards at the bottom of the page
// (number, client, owner, waiting time ticking). A card opens the client (or a search for the number);
// «В корзину» sends an unwanted call (spam, wrong number) to the call bin after a confirmation on the card, and
// «Вернуть» takes it back out for a while after.
// Everything that came from a caller (names, numbers) goes in with textContent, never as HTML.
(function () {
  "use strict";
  var bar = null, list = null, toggle = null, labels = null, canBin = false;
  var cards = [], skew = 0, collapsed = false;
  var confirming = null;  // {id, reason}: the card asking «в корзину?»
  var undo = null;        // {id, number, timer}: the call just binned, «Вернуть» while it lasts
  var UNDO_MS = 60000;
  var KEY = "callfeed.collapsed";

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function csrf() {
    var token = document.querySelector("input[name=_csrf]");
    return token ? token.value : "";
  }

  function waited(since) {
    var s = Math.max(0, Math.floor(Date.now() / 1000 - skew - since));
    var m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  function build() {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/static/callfeed/callfeed.css";
    document.head.appendChild(link);
    bar = el("section", "cf-bar");
    bar.id = "callfeed";
    bar.setAttribute("aria-label", labels.title);
    bar.setAttribute("aria-live", "polite");
    toggle = el("button", "cf-toggle");
    toggle.type = "button";
    toggle.addEventListener("click", function () {
      collapsed = !collapsed;
      try { localStorage.setItem(KEY, collapsed ? "1" : ""); } catch (e) { /* private mode */ }
      render();
    });
    list = el("div", "cf-cards");
    bar.appendChild(toggle);
    bar.appendChild(list);
    document.body.appendChild(bar);
    try { collapsed = localStorage.getItem(KEY) === "1"; } catch (e) { collapsed = false; }
  }

  function cardNode(c) {
    var card = el("article", "cf-card cf-" + (c.status || "waiting"));
    card.dataset.call = c.id;
    var open = el("a", "cf-open");
    open.href = c.client_id ? "/clients/" + encodeURIComponent(c.client_id)
                            : "/clients?q=" + encodeURIComponent(c.number || "");
    open.title = labels.open;
    open.appendChild(el("span", "cf-number", c.number || "—"));
    open.appendChild(el("span", "cf-name", c.name || labels.unknown));
    card.appendChild(open);
    card.appendChild(el("div", "cf-owner", c.client_id ? (labels.owner + ": " + (c.owner || labels.no_owner)) : ""));
    var info = el("div", "cf-info");
    var wait = el("span", "cf-wait", waited(c.since));
    wait.dataset.since = c.since;
    info.appendChild(wait);
    var where = c.status === "ringing" && c.ringing && c.ringing.length
      ? labels.ringing + " " + c.ringing.join(", ") : labels.waiting + (c.queue ? " · " + queueName(c.queue) : "");
    info.appendChild(el("span", "cf-where", where));
    card.appendChild(info);
    if (c.binned) card.appendChild(el("div", "cf-warn", labels.in_bin_before + " (" + (labels.reasons[c.binned] || c.binned) + ")"));
    if (canBin && confirming && confirming.id === c.id) {
      var ask = el("div", "cf-bin cf-confirm");
      ask.appendChild(el("span", "cf-bin-label",
        labels.confirm.replace("{reason}", labels.reasons[confirming.reason] || confirming.reason)));
      var yes = el("button", "cf-confirm-yes", labels.yes);
      yes.type = "button";
      yes.addEventListener("click", function (ev) {
        ev.preventDefault(); var reason = confirming.reason; confirming = null; toBin(c, reason, card);
      });
      var no = el("button", "cf-confirm-no", labels.no);
      no.type = "button";
      no.addEventListener("click", function (ev) { ev.preventDefault(); confirming = null; render(); });
      ask.appendChild(yes);
      ask.appendChild(no);
      card.appendChild(ask);
    } else if (canBin) {
      var row = el("div", "cf-bin");
      Object.keys(labels.reasons).forEach(function (reason) {
        var b = el("button", "cf-bin-" + reason, labels.reasons[reason]);
        b.type = "button";
        b.title = labels.to_bin;
        b.addEventListener("click", function (ev) { ev.preventDefault(); confirming = {id: c.id, reason: reason}; render(); });
        row.appendChild(b);
      });
      var tag = el("span", "cf-bin-label", labels.to_bin + ":");
      row.insertBefore(tag, row.firstChild);
      card.appendChild(row);
    }
    return card;
  }

  function render() {
    if (!bar) return;
    bar.classList.toggle("cf-empty", cards.length === 0 && !undo);
    bar.classList.toggle("cf-collapsed", collapsed);
    toggle.textContent = (collapsed ? "▲ " : "▼ ") + labels.show.replace("{n}", String(cards.length));
    list.textContent = "";
    if (undo) list.appendChild(undoNode());
    if (collapsed) return;
    cards.forEach(function (c) { list.appendChild(cardNode(c)); });
  }

  function take(data) {
    if (!data || data.off) return;
    if (data.labels && !labels) { labels = data.labels; canBin = !!data.can_bin; build(); }
    if (!labels) return;
    if (typeof data.now === "number") skew = Date.now() / 1000 - data.now;
    cards = data.cards || [];
    render();
  }

  function queueName(q) { return (labels.queues && labels.queues[q]) || labels.queue_unnamed.replace("{name}", q); }

  function undoNode() {
    var box = el("div", "cf-undo");
    box.setAttribute("role", "status");
    box.appendChild(el("div", null, labels.binned + (undo.number ? " · " + undo.number : "")));
    var back = el("button", "cf-undo-button", labels.undo);
    back.type = "button";
    back.addEventListener("click", function (ev) { ev.preventDefault(); takeBack(); });
    box.appendChild(back);
    return box;
  }

  function takeBack() {
    var was = undo;
    if (!was) return;
    fetch("/callfeed/bin/" + encodeURIComponent(was.bin) + "/undo", {
      method: "POST", credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (r) { return r.json(); }).then(function (res) {
      clearTimeout(was.timer);
      undo = null;
      render();
      if (res.ok) load();
    }).catch(function () { /* the bin page can still restore it */ });
  }

  function toBin(c, reason, card) {
    var id = c.id;
    card.classList.add("cf-sending");
    fetch("/callfeed/" + encodeURIComponent(id) + "/bin", {
      method: "POST", credentials: "same-origin", body: new URLSearchParams({ reason: reason }),
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (res.ok) {
        cards = cards.filter(function (x) { return x.id !== id; });
        if (undo) clearTimeout(undo.timer);
        undo = { bin: res.id, number: c.number || "", timer: setTimeout(function () { undo = null; render(); }, UNDO_MS) };
        render();
      } else {
        card.classList.remove("cf-sending");
        card.appendChild(el("div", "cf-error", res.message || "✕"));
      }
    }).catch(function () { card.classList.remove("cf-sending"); });
  }

  function load() {
    fetch("/callfeed/feed", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; }).then(take).catch(function () { /* next turn */ });
  }

  document.addEventListener("hub:callfeed", function (ev) { take(ev.detail); });
  setInterval(function () {
    if (!bar) return;
    var spans = bar.querySelectorAll(".cf-wait");
    for (var i = 0; i < spans.length; i++) spans[i].textContent = waited(Number(spans[i].dataset.since));
  }, 1000);
  // after the WebSocket comes back, frames may have been missed: ask again
  var ws = document.getElementById("ws-state");
  if (ws && window.MutationObserver) {
    new MutationObserver(function () { if (ws.className === "ws-on") load(); })
      .observe(ws, { attributes: true, attributeFilter: ["class"] });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start); else start();

  function start() {
    load();
    selfServiceButton();
  }

  // On a client's card: «Отправить ссылку в личный кабинет» (a one-time sign-in link by Telegram or email).
  function selfServiceButton() {
    var m = /^\/clients\/(\d+)$/.exec(location.pathname);
    var main = document.querySelector("main");
    if (!m || !main) return;
    var url = "/clients/" + m[1] + "/selfservice-link";
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; }).then(function (opt) {
        if (!opt) return;
        var box = el("section", "card cf-selfservice");
        box.id = "selfservice-link";
        box.appendChild(el("h2", null, opt.label));
        var out = el("p", "cf-selfservice-result");
        out.setAttribute("role", "status");
        opt.channels.forEach(function (c) {
          var b = el("button", "cf-selfservice-send", opt.button + " (" + c.label + ")");
          b.type = "button";
          b.dataset.channel = c.id;
          b.addEventListener("click", function () {
            b.disabled = true;
            fetch(url, {
              method: "POST", credentials: "same-origin", body: new URLSearchParams({ channel: c.id }),
              headers: { "Accept": "application/json", "X-CSRF-Token": csrf() }
            }).then(function (r) { return r.json(); }).then(function (res) {
              out.textContent = res.message || "";
              out.className = "cf-selfservice-result " + (res.ok ? "ok" : "error");
              b.disabled = false;
            }).catch(function () { out.textContent = "✕"; b.disabled = false; });
          });
          box.appendChild(b);
        });
        if (opt.note) box.appendChild(el("p", "muted", opt.note));
        box.appendChild(out);
        main.appendChild(box);
      }).catch(function () { /* no button then */ });
  }
})();
