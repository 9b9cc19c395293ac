// The call card as the agent's cockpit: under the caller's card (drawn by /static/app.js) the buttons for what
// an agent does during a call — call the number back, transfer the call (to a colleague or a queue), link the
// property the client asks about, set the open inquiry's next action, open the call script — all without
// leaving the page: fetch POSTs with the CSRF token, the hub's answer shown in the card. The words and the
// transfer targets come from /calls/card.json; everything from the server goes in with textContent.
(function () {
  "use strict";
  var setup = null;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // "2026-12-08T11:00:00+03:00" → "08.12.2026 11:00": the agency's time, as the server wrote it.
  function wall(iso) {
    var m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(iso || "");
    return m ? m[3] + "." + m[2] + "." + m[1] + " " + m[4] + ":" + m[5] : "";
  }

  function csrf() {
    var token = document.querySelector("input[name=_csrf]");
    return token ? token.value : "";
  }

  function addStyles() {
    if (document.querySelector("link[href='/static/telephony/telephony.css']")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/static/telephony/telephony.css";
    document.head.appendChild(link);
  }

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; });
  }

  function post(url, fields) {
    return fetch(url, {
      method: "POST", body: new URLSearchParams(fields), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (r) {
      return r.json().then(function (data) { return data; }, function () { return { ok: false }; });
    });
  }

  function loadSetup() {
    if (!setup) {
      setup = getJson("/calls/card.json").then(function (data) {
        if (!data) setup = null;
        return data;
      }, function () { setup = null; return null; });
    }
    return setup;
  }

  function Cockpit(card, key) {
    this.card = card;
    this.key = key;
    this.box = card.hubCockpit;
    this.msg = {};
    this.panes = {};
  }

  Cockpit.prototype.say = function (res, fallback) {
    this.result.textContent = (res && res.message) || fallback;
    this.result.className = "card-result " + (res && res.ok ? "ok" : "error");
  };

  Cockpit.prototype.keep = function () { this.card.dataset.keep = "1"; };

  Cockpit.prototype.build = function (cfg) {
    var self = this, T = cfg.texts;
    this.T = T;
    this.cfg = cfg;
    this.bar = el("div", "card-buttons");
    this.plan = el("div", "card-inquiry");
    this.body = el("div", "card-panes");
    this.result = el("p", "card-result");
    this.result.setAttribute("role", "status");
    this.box.appendChild(this.plan);
    this.box.appendChild(this.bar);
    this.box.appendChild(this.body);
    this.box.appendChild(this.result);
    this.box.addEventListener("focusin", function () { self.keep(); });
    this.box.addEventListener("click", function () { self.keep(); });
    this.callButton = this.button("call", T.call, function () { self.dial(); });
    this.transferButton = this.button("transfer", T.transfer, function () { self.toggle("transfer"); });
    this.button("property", T.property, function () { self.toggle("property"); });
    this.planButton = this.button("plan", T.next_action, function () { self.toggle("plan"); });
    this.scriptButton = this.button("script", T.script, function () {
      document.dispatchEvent(new CustomEvent("hub:open-script", { detail: { call_id: self.key } }));
    });
    this.scriptButton.hidden = true;
    var close = this.button("close", "×", function () { if (self.card.hubForget) self.card.hubForget(); });
    close.setAttribute("aria-label", "×");
    close.hidden = true;
    this.closeButton = close;
    getJson("/scripts/for-call/" + encodeURIComponent(this.key)).then(function (data) {
      if (data && data.script) self.scriptButton.hidden = false;
    }).catch(function () { /* no script for this call */ });
  };

  Cockpit.prototype.button = function (name, text, onClick) {
    var b = el("button", "card-" + name, text);
    b.type = "button";
    b.addEventListener("click", onClick);
    this.bar.appendChild(b);
    return b;
  };

  Cockpit.prototype.toggle = function (name) {
    var self = this;
    Object.keys(this.panes).forEach(function (k) { if (k !== name) self.panes[k].hidden = true; });
    if (!this.panes[name]) {
      this.panes[name] = this["pane_" + name]();
      this.body.appendChild(this.panes[name]);
      this.panes[name].hidden = true;
    }
    this.panes[name].hidden = !this.panes[name].hidden;
    var first = this.panes[name].querySelector("select, input");
    if (!this.panes[name].hidden && first) first.focus();
  };

  // Called on every frame of the call: the caller's number and open inquiry may have arrived with it.
  Cockpit.prototype.update = function (msg) {
    this.msg = msg;
    this.callButton.hidden = !(this.cfg.can_call && msg.client_id && msg.number);
    this.inquiry = (msg.inquiries || [])[0] || null;
    this.planButton.hidden = !this.inquiry;
    this.plan.textContent = "";
    if (this.inquiry) {
      var q = this.inquiry, line = el("div", "open-inquiry");
      line.appendChild(el("span", "label", this.T.open_inquiry + ": "));
      var a = el("a", null, "№" + q.id + (q.subject ? " " + q.subject : ""));
      a.href = "/inquiries/" + encodeURIComponent(q.id);
      line.appendChild(a);
      this.plan.appendChild(line);
      var next = el("div", "next-action-line");
      next.appendChild(el("span", "label", this.T.next_action + ": "));
      next.appendChild(el("span", "value", q.planned_action
        ? q.planned_action + (q.planned_at ? ", " + wall(q.planned_at) : "")
        : this.T.no_next_action));
      this.plan.appendChild(next);
    }
    this.closeButton.hidden = !msg.ended;
    this.transferButton.hidden = !!msg.ended;  // a call that has ended cannot be sent on
    if (msg.ended && this.panes.transfer) this.panes.transfer.hidden = true;
  };

  Cockpit.prototype.dial = function () {
    var self = this;
    post("/calls/originate", { client_id: this.msg.client_id, phone: this.msg.number })
      .then(function (res) { self.say(res, self.T.failed); }, function () { self.say(null, self.T.failed); });
  };

  Cockpit.prototype.pane_transfer = function () {
    var self = this, T = this.T, form = el("form", "card-transfer");
    var label = el("label", null, T.transfer_to + " ");
    var select = el("select");
    select.name = "target";
    var agents = el("optgroup");
    agents.label = T.agents;
    this.cfg.agents.forEach(function (a) {
      var status = T["status." + a.status] || a.status;
      var o = el("option", null, a.extension + " · " + a.name + (status ? " (" + status + ")" : ""));
      o.value = "extension:" + a.extension;
      agents.appendChild(o);
    });
    select.appendChild(agents);
    if (this.cfg.queues.length) {
      var queues = el("optgroup");
      queues.label = T.queues;
      this.cfg.queues.forEach(function (q) {
        var o = el("option", null, q);
        o.value = "queue:" + q;
        queues.appendChild(o);
      });
      select.appendChild(queues);
    }
    label.appendChild(select);
    form.appendChild(label);
    var send = el("button", "card-send", T.send);
    send.type = "submit";
    form.appendChild(send);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var value = select.value || "", kind = value.split(":")[0], target = value.slice(kind.length + 1);
      if (!target) return;
      var fields = {};
      fields[kind === "queue" ? "queue" : "extension"] = target;
      post("/calls/transfer", fields)
        .then(function (res) { self.say(res, T.failed); }, function () { self.say(null, T.failed); });
    });
    return form;
  };

  Cockpit.prototype.pane_property = function () {
    var self = this, T = this.T, pane = el("div", "card-property");
    var form = el("form", "card-property-search");
    var input = el("input");
    input.type = "search";
    input.name = "q";
    input.maxLength = 200;
    input.placeholder = T.property_search;
    input.setAttribute("aria-label", T.property_search);
    form.appendChild(input);
    var find = el("button", null, T.find);
    find.type = "submit";
    form.appendChild(find);
    var found = el("ul", "card-found");
    pane.appendChild(form);
    pane.appendChild(found);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      getJson("/properties/search?q=" + encodeURIComponent(input.value.trim())).then(function (data) {
        found.textContent = "";
        var items = (data && data.items) || [];
        if (!items.length) found.appendChild(el("li", "empty", T.nothing_found));
        items.forEach(function (p) {
          var li = el("li");
          li.appendChild(el("span", "address", "№" + p.id + " " + p.address));
          var link = el("button", "card-link", T.link);
          link.type = "button";
          link.addEventListener("click", function () {
            post("/calls/live/" + encodeURIComponent(self.key) + "/property", { property_id: p.id })
              .then(function (res) { self.say(res, T.failed); }, function () { self.say(null, T.failed); });
          });
          li.appendChild(link);
          found.appendChild(li);
        });
      }, function () { self.say(null, T.failed); });
    });
    return pane;
  };

  Cockpit.prototype.pane_plan = function () {
    var self = this, T = this.T, form = el("form", "card-next-action");
    var what = el("input");
    what.name = "planned_action";
    what.maxLength = 300;
    what.required = true;
    var l1 = el("label", null, T.next_action + " ");
    l1.appendChild(what);
    var when = el("input");
    when.name = "planned_at";
    when.type = "datetime-local";
    when.required = true;
    var l2 = el("label", null, T.next_when + " ");
    l2.appendChild(when);
    var save = el("button", null, T.save);
    save.type = "submit";
    form.appendChild(l1);
    form.appendChild(l2);
    form.appendChild(save);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (!self.inquiry) return;
      var q = self.inquiry;
      post("/inquiries/" + encodeURIComponent(q.id) + "/next-action",
        { planned_action: what.value, planned_at: when.value }).then(function (res) {
        self.say(res, T.failed);
        if (res && res.ok) {
          q.planned_action = res.planned_action;
          q.planned_at = res.planned_at;
          self.update(self.msg);
        }
      }, function () { self.say(null, T.failed); });
    });
    return form;
  };

  var cockpits = {};
  document.addEventListener("hub:card", function (ev) {
    var d = ev.detail || {};
    if (!d.card || !d.card.hubCockpit || !d.key) return;
    var cockpit = cockpits[d.key];
    if (!cockpit || cockpit.card !== d.card) {  // a new card (the old one was closed)
      cockpit = cockpits[d.key] = new Cockpit(d.card, d.key);
      cockpit.pending = loadSetup().then(function (cfg) {
        if (!cfg) return;
        addStyles();
        cockpit.build(cfg);
        cockpit.ready = true;
        cockpit.update(cockpit.msg);
      });
    }
    cockpit.msg = d.msg;
    if (cockpit.ready) cockpit.update(d.msg);
    Object.keys(cockpits).forEach(function (k) {  // forget the cards that are gone
      if (!document.body.contains(cockpits[k].card)) delete cockpits[k];
    });
  });
})();
