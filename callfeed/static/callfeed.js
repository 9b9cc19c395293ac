// Department call feed: the calls waiting at the user's departments as live cards at the bottom of the page
// (number, client, owner, waiting time ticking). A card opens the client (or a search for the number);
// «В корзину» sends an unwanted call (spam, wrong number) to the call bin.
// Everything that came from a caller (names, numbers) goes in with textContent, never as HTML.
(function () {
  "use strict";
  var bar = null, list = null, toggle = null, labels = null, canBin = false;
  var cards = [], skew = 0, collapsed = false;
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
      ? labels.ringing + " " + c.ringing.join(", ") : labels.waiting + (c.queue ? " · " + c.queue : "");
    info.appendChild(el("span", "cf-where", where));
    card.appendChild(info);
    if (c.binned) card.appendChild(el("div", "cf-warn", labels.in_bin_before + " (" + (labels.reasons[c.binned] || c.binned) + ")"));
    if (canBin) {
      var row = el("div", "cf-bin");
      Object.keys(labels.reasons).forEach(function (reason) {
        var b = el("button", "cf-bin-" + reason, labels.reasons[reason]);
        b.type = "button";
        b.title = labels.to_bin;
        b.addEventListener("click", function (ev) { ev.preventDefault(); toBin(c.id, reason, card); });
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
    bar.classList.toggle("cf-empty", cards.length === 0);
    bar.classList.toggle("cf-collapsed", collapsed);
    toggle.textContent = (collapsed ? "▲ " : "▼ ") + labels.show.replace("{n}", String(cards.length));
    list.textContent = "";
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

  function toBin(id, reason, card) {
    card.classList.add("cf-sending");
    fetch("/callfeed/" + encodeURIComponent(id) + "/bin", {
      method: "POST", credentials: "same-origin", body: new URLSearchParams({ reason: reason }),
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (res.ok) {
        cards = cards.filter(function (c) { return c.id !== id; });
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
