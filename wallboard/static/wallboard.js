// The supervisors' wallboard: the page's snapshot, then the "wallboard" frames of the WebSocket (app.js
// dispatches them as hub:wallboard). A frame carries a version: a missed one makes the page fetch the whole
// board again (/wallboard/state), as does a reconnect. Everything from clients and the PBX (names, numbers,
// subjects) goes in with textContent, never as HTML. Durations count up in the browser from the times sent.
(function () {
  "use strict";
  var dataEl = document.getElementById("wb-snapshot");
  if (!dataEl) return;
  var L = JSON.parse(document.getElementById("wb-labels").textContent);
  var config = JSON.parse(document.getElementById("wb-config").textContent);
  function queueName(n) {  // the display name the server gave, else «Очередь n»
    var names = config.queue_names || {};
    return names[n] || (config.queue_unnamed ? config.queue_unnamed.replace("{name}", n) : n);
  }
  var board = null;
  var offset = 0; // server clock - browser clock, ms
  var fetching = false;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function serverNow() { return (Date.now() + offset) / 1000; }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = (h ? String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
    return h ? h + ":" + mm : mm;
  }

  function since(node, t) {
    if (t === null || t === undefined) return node;
    node.dataset.since = String(t);
    node.textContent = duration(serverNow() - t);
    return node;
  }

  function fmtSeconds(v) { return v === null || v === undefined ? "—" : duration(v); }

  function timeOf(t) {
    if (!t) return "—";
    return new Date(t * 1000).toLocaleTimeString(config.locale === "en" ? "en-GB" : "ru-RU",
      { hour: "2-digit", minute: "2-digit" });
  }

  // --- queues ------------------------------------------------------------------------------------
  function figure(label, value, cls) {
    var box = el("div", "wb-fig" + (cls ? " " + cls : ""));
    var v = el("div", "wb-val");
    if (value instanceof Node) v.appendChild(value); else v.textContent = value;
    box.appendChild(v);
    box.appendChild(el("div", "wb-label", label));
    return box;
  }

  function renderQueue(q) {
    var card = el("div", "wb-queue");
    card.dataset.queue = q.name;
    card.appendChild(el("h3", null, queueName(q.name)));
    var figs = el("div", "wb-figs");
    figs.appendChild(figure(L.waiting, String(q.waiting.length), "wb-waiting" + (q.waiting.length ? " wb-hot" : "")));
    figs.appendChild(figure(L.longest, q.longest_since ? since(el("span", "wb-timer"), q.longest_since) : "—",
      "wb-longest"));
    figs.appendChild(figure(L.answered, String(q.answered), "wb-answered"));
    figs.appendChild(figure(L.abandoned, String(q.abandoned), "wb-abandoned" + (q.abandoned ? " wb-warn" : "")));
    figs.appendChild(figure(L.sl.replace("{s}", board.service_level_s),
      q.service_level === null ? "—" : q.service_level + "%", "wb-sl"));
    figs.appendChild(figure(L.avg_wait, fmtSeconds(q.avg_wait_s), "wb-avg-wait"));
    figs.appendChild(figure(L.avg_talk, fmtSeconds(q.avg_talk_s), "wb-avg-talk"));
    if (q.logged_in !== null) {
      figs.appendChild(figure(L.staffed, (q.available === null ? "—" : q.available) + " / " + q.logged_in,
        "wb-staffed"));
    }
    card.appendChild(figs);
    var list = el("ul", "wb-callers");
    q.waiting.forEach(function (w) {
      var li = el("li", "wb-caller");
      li.appendChild(el("span", "wb-number", w.name ? w.name + " · " + (w.caller || "") : (w.caller || "—")));
      li.appendChild(since(el("span", "wb-timer"), w.since));
      list.appendChild(li);
    });
    card.appendChild(list);
    return card;
  }

  function renderQueues() {
    var box = document.getElementById("wb-queues");
    box.textContent = "";
    var names = Object.keys(board.queues).sort();
    if (!names.length) { box.appendChild(el("p", "empty", L.no_queues)); return; }
    names.forEach(function (n) { box.appendChild(renderQueue(board.queues[n])); });
  }

  // --- agents ------------------------------------------------------------------------------------
  function button(label, action, id, extra) {
    var b = el("button", "wb-act wb-" + action, label);
    b.type = "button";
    b.dataset.action = action;
    b.dataset.id = String(id);
    if (extra) Object.keys(extra).forEach(function (k) { b.dataset[k] = extra[k]; });
    return b;
  }

  function renderAgent(a) {
    var tr = el("tr", "wb-agent state-" + (a.status || "unknown") + (a.call ? " wb-oncall" : ""));
    tr.dataset.key = a.key;
    tr.appendChild(el("td", "wb-name", a.name || "—"));
    tr.appendChild(el("td", "wb-ext", a.extension || "—"));
    var st = el("td", "wb-state");
    st.appendChild(el("span", "wb-status", a.status ? (L["state." + a.status] || a.status) : "—"));
    if (a.reason) st.appendChild(el("span", "wb-reason", " (" + (L["reason." + a.reason] || a.reason) + ")"));
    if (a.device) st.appendChild(el("div", "wb-device muted", L["device." + a.device] || a.device));
    if (a.paused) st.appendChild(el("div", "wb-paused", L.paused + (a.paused_reason ? ": " + a.paused_reason : "")));
    tr.appendChild(st);
    tr.appendChild(since(el("td", "wb-timer"), a.status_since));
    var call = el("td", "wb-call");
    if (a.call) {
      call.appendChild(el("span", "wb-number", a.call.name ? a.call.name + " · " + (a.call.caller || "") : (a.call.caller || "—")));
      if (a.call.queue) call.appendChild(el("span", "wb-queue-name muted", " " + queueName(a.call.queue)));
      call.appendChild(el("span", null, " "));
      call.appendChild(since(el("span", "wb-timer"), a.call.since));
    } else if (a.ringing) {
      call.appendChild(el("span", "wb-ringing", L.ringing + ": " + (a.ringing.caller || "—")));
    } else {
      call.textContent = "—";
    }
    tr.appendChild(call);
    tr.appendChild(el("td", "wb-load", a.load === null ? "—" : a.load + " / " + a.capacity));
    var acts = el("td", "wb-actions");
    if (a.user_id) {
      if (config.can_act) {
        acts.appendChild(a.status === "break" ? button(L.unpause, "unpause", a.user_id)
          : button(L.pause, "pause", a.user_id));
      }
      if (a.call) {
        acts.appendChild(button(L.listen, "listen", a.user_id));
        if (config.can_act) {
          acts.appendChild(button(L.whisper, "whisper", a.user_id));
          acts.appendChild(button(L.barge, "barge", a.user_id));
        }
      }
    }
    tr.appendChild(acts);
    return tr;
  }

  function agentOrder(a, b) {
    return String(a.name || "").localeCompare(String(b.name || "")) || String(a.key).localeCompare(String(b.key));
  }

  function renderAgents() {
    var body = document.getElementById("wb-agents");
    body.textContent = "";
    var agents = Object.keys(board.agents).map(function (k) { return board.agents[k]; }).sort(agentOrder);
    if (!agents.length) {
      var tr = el("tr"), td = el("td", "empty", L.no_agents);
      td.colSpan = 7; tr.appendChild(td); body.appendChild(tr); return;
    }
    agents.forEach(function (a) { body.appendChild(renderAgent(a)); });
  }

  // --- inquiries and flags -----------------------------------------------------------------------
  function renderInquiries() {
    var body = document.getElementById("wb-inquiries");
    body.textContent = "";
    if (!board.inquiries.length) {
      var tr0 = el("tr"), td0 = el("td", "empty", L.no_inquiries);
      td0.colSpan = 5; tr0.appendChild(td0); body.appendChild(tr0); return;
    }
    var people = Object.keys(board.agents).map(function (k) { return board.agents[k]; })
      .filter(function (a) { return a.user_id; }).sort(agentOrder);
    board.inquiries.forEach(function (q) {
      var tr = el("tr", "wb-inquiry" + (q.overdue ? " wb-overdue" : " wb-soon"));
      tr.dataset.id = String(q.id);
      var first = el("td"), link = el("a", null, "№" + q.id + (q.subject ? " " + q.subject : ""));
      link.href = "/inquiries/" + encodeURIComponent(q.id);
      first.appendChild(link);
      tr.appendChild(first);
      tr.appendChild(el("td", null, q.owner || L.nobody));
      tr.appendChild(el("td", null, L["step." + q.action] || q.action));
      var due = el("td", "wb-due");
      due.dataset.due = String(q.due_at);
      tr.appendChild(due);
      if (config.can_act) {
        var cell = el("td"), pick = el("select", "wb-to");
        pick.setAttribute("aria-label", L.reassign);
        people.forEach(function (a) {
          var o = el("option", null, a.name);
          o.value = String(a.user_id);
          if (a.user_id === q.owner_id) o.selected = true;
          pick.appendChild(o);
        });
        cell.appendChild(pick);
        cell.appendChild(button(L.reassign, "reassign", q.id));
        tr.appendChild(cell);
      }
      body.appendChild(tr);
    });
    tick();
  }

  function renderFlags() {
    var body = document.getElementById("wb-flags");
    body.textContent = "";
    if (!board.flags.length) {
      var tr0 = el("tr"), td0 = el("td", "empty", L.no_flags);
      td0.colSpan = 4; tr0.appendChild(td0); body.appendChild(tr0); return;
    }
    board.flags.forEach(function (f) {
      var tr = el("tr", "wb-flag");
      var when = el("td"), link = el("a", null, timeOf(f.at));
      link.href = "/calls/" + encodeURIComponent(f.call_id) + "/transcript";
      when.appendChild(link);
      tr.appendChild(when);
      tr.appendChild(el("td", null, f.agent || "—"));
      tr.appendChild(el("td", null, f.caller || "—"));
      tr.appendChild(el("td", "wb-cats", f.categories.map(function (c) { return L["cat." + c] || c; }).join(", ")
        + " (" + f.flags + ")"));
      body.appendChild(tr);
    });
  }

  // --- frames ------------------------------------------------------------------------------------
  function renderAll() { renderQueues(); renderAgents(); renderInquiries(); renderFlags(); }

  function take(frame) {
    offset = frame.now * 1000 - Date.now();
    if (frame.full) {
      board = frame;
      renderAll();
      return;
    }
    if (!board) { refetch(); return; }
    // a missed frame: what this one carries is whole (queues, agents, lists), so it is applied; the rest
    // of the board comes with a fresh copy (asked for at most every few seconds)
    if (frame.v !== board.v + 1) refetch();
    board.v = frame.v;
    if (frame.queues) {
      Object.keys(frame.queues).forEach(function (n) { board.queues[n] = frame.queues[n]; });
      renderQueues();
    }
    if (frame.agents) {
      Object.keys(frame.agents).forEach(function (k) {
        if (frame.agents[k] === null) delete board.agents[k]; else board.agents[k] = frame.agents[k];
      });
      renderAgents();
    }
    if (frame.inquiries || frame.agents) {
      if (frame.inquiries) board.inquiries = frame.inquiries;
      renderInquiries();
    }
    if (frame.flags) { board.flags = frame.flags; renderFlags(); }
  }

  var lastFetch = 0;
  function refetch() {
    if (fetching || Date.now() - lastFetch < 3000) return;
    fetching = true;
    lastFetch = Date.now();
    fetch("/wallboard/state", { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (snap) { take(snap); })
      .catch(function () {})
      .then(function () { fetching = false; });
  }

  function tick() {
    var now = serverNow();
    document.querySelectorAll("[data-since]").forEach(function (node) {
      node.textContent = duration(now - Number(node.dataset.since));
    });
    document.querySelectorAll("[data-due]").forEach(function (node) {
      var left = Number(node.dataset.due) - now;
      node.textContent = left <= 0 ? L.overdue + " " + duration(-left) : L.left + " " + duration(left);
      node.parentNode.classList.toggle("wb-overdue", left <= 0);
    });
  }

  // --- actions -----------------------------------------------------------------------------------
  document.addEventListener("click", function (ev) {
    var b = ev.target;
    if (!b.classList || !b.classList.contains("wb-act")) return;
    var action = b.dataset.action, id = b.dataset.id, body = new URLSearchParams(), url;
    if (action === "pause" || action === "unpause") {
      url = "/wallboard/agents/" + id + "/pause";
      body.set("paused", action === "pause" ? "1" : "0");
    } else if (action === "reassign") {
      url = "/wallboard/inquiries/" + id + "/reassign";
      body.set("to", b.parentNode.querySelector("select").value);
    } else {
      url = "/wallboard/agents/" + id + "/" + action;
    }
    var token = document.querySelector("input[name=_csrf]");
    var out = document.getElementById("wb-result");
    b.disabled = true;
    fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": token ? token.value : "" }
    }).then(function (r) { return r.json(); }).then(function (res) {
      out.textContent = res.message || res.error || "";
      out.className = "wb-result " + (res.ok ? "ok" : "error");
    }).catch(function () {
      out.textContent = "✕"; out.className = "wb-result error";
    }).then(function () { b.disabled = false; });
  });

  // --- live state --------------------------------------------------------------------------------
  var live = document.getElementById("wb-live");
  var ws = document.getElementById("ws-state");
  var wasOn = false;
  function watchSocket() {
    var on = ws && ws.classList.contains("ws-on");
    if (live) {
      live.className = on ? "wb-live" : "wb-stale";
      live.textContent = on ? live.dataset.live : live.dataset.stale;
    }
    if (on && !wasOn && board) refetch(); // reconnected: frames may have been missed
    wasOn = on;
  }
  if (ws) new MutationObserver(watchSocket).observe(ws, { attributes: true, attributeFilter: ["class"] });

  document.addEventListener("hub:wallboard", function (ev) { take(ev.detail); });
  // live speech: a listed phrase heard in a call going on (speech/live.py), newest first, the last 20
  document.addEventListener("hub:speech_live_flag", function (ev) {
    var f = ev.detail, body = document.getElementById("wb-live-flags");
    if (!body) return;
    var empty = body.querySelector("td.empty");
    if (empty) body.removeChild(empty.parentNode);
    var tr = el("tr", "wb-live-flag");
    tr.appendChild(el("td", null, new Date().toLocaleTimeString()));
    tr.appendChild(el("td", null, L["cat." + f.category] || f.category));
    tr.appendChild(el("td", null, f.heard));
    tr.appendChild(el("td", null, L["leg." + f.leg] || f.leg));
    tr.appendChild(el("td", null, Number(f.at_s).toFixed(1)));
    body.insertBefore(tr, body.firstChild);
    while (body.children.length > 20) body.removeChild(body.lastChild);
  });
  take(JSON.parse(dataEl.textContent));
  watchSocket();
  setInterval(tick, 1000);
})();
