// Call scripts beside the pop-up: on a call's first pop-up (the `hub:popup` event app.js dispatches) the script
// for its queue is fetched and shown in a panel left of the card; the agent walks question → answer → next step,
// fills the fields, and the answers are POSTed (X-CSRF-Token) to be stored on the inquiry. On an inquiry's page
// the script for its channel opens from a button. Texts from the server go in with textContent, never as HTML.
(function () {
  "use strict";
  var RU = document.body && document.body.dataset.locale !== "en";
  var T = RU ? {
    script: "Скрипт", save: "Сохранить ответы", saved: "Ответы сохранены",
    later: "Ответы сохранены; попадут в обращение после звонка", failed: "Не удалось сохранить ответы",
    close: "Закрыть", back: "Назад", end: "Скрипт пройден", next: "Далее", open: "Скрипт разговора"
  } : {
    script: "Script", save: "Save the answers", saved: "Answers saved",
    later: "Answers saved; they go on the inquiry when the call ends", failed: "Could not save the answers",
    close: "Close", back: "Back", end: "Script complete", next: "Next", open: "Call script"
  };
  var panels = {};
  var asked = {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function addStyles() {
    if (document.querySelector("link[href='/static/workflow/workflow.css']")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/static/workflow/workflow.css";
    document.head.appendChild(link);
  }
  addStyles();  // at load, not at the first panel: a panel drawn before its styles flashed across the page

  function container(inline) {
    var id = inline ? "script-panels-inline" : "script-panels";
    var box = document.getElementById(id);
    if (!box) {
      box = el("div", inline ? "inline" : null);
      box.id = id;
      box.setAttribute("aria-live", "polite");
      (inline ? (document.querySelector("main") || document.body) : document.body).appendChild(box);
    }
    if (!inline) place(box);
    return box;
  }

  // Beside the pop-up cards whatever their width: the panels' right edge stays left of the cards' column.
  var watchingCards = false;
  function place(box) {
    var cards = document.getElementById("popups");
    if (!cards || !cards.children.length) return;
    var gap = window.innerWidth - cards.getBoundingClientRect().left + 12;
    box.style.right = Math.max(gap, 16) + "px";
    if (!watchingCards && window.ResizeObserver) {  // the card widens as its details and styles arrive
      watchingCards = true;
      new ResizeObserver(function () {
        var panels = document.getElementById("script-panels");
        if (panels) place(panels);
      }).observe(cards);
    }
  }

  function csrf() {
    var token = document.querySelector("input[name=_csrf]");
    return token ? token.value : "";
  }

  function Panel(key, script, target, inline) {
    this.key = key;
    this.script = script;
    this.target = target; // {call_id: ...} or {inquiry_id: ...}
    this.steps = {};
    var self = this;
    script.steps.forEach(function (s) { self.steps[s.id] = s; });
    this.path = [];
    this.current = script.steps.length ? script.steps[0].id : null;
    this.saved = false;
    this.node = el("section", "script-panel");
    this.node.dataset.key = key;
    this.node.dataset.script = script.id;
    container(inline).appendChild(this.node);
    this.render();
  }

  Panel.prototype.fieldValues = function () {
    var out = {};
    this.node.querySelectorAll("input[data-field]").forEach(function (input) {
      if (input.value.trim()) out[input.dataset.field] = input.value.trim();
    });
    return out;
  };

  Panel.prototype.choose = function (answer) {
    var step = this.steps[this.current];
    this.path.push({ step: step.id, answer: answer ? answer.text : null, fields: this.fieldValues() });
    this.current = answer && answer.next ? answer.next : null;
    this.render();
  };

  Panel.prototype.back = function () {
    var last = this.path.pop();
    if (last) this.current = last.step;
    this.render();
  };

  Panel.prototype.render = function () {
    var self = this, node = this.node;
    node.textContent = "";
    node.appendChild(el("h4", null, T.script + ": " + this.script.name));
    var trail = el("ol", "path");
    this.path.forEach(function (p) {
      trail.appendChild(el("li", null, self.steps[p.step].question + (p.answer ? " — " + p.answer : "")));
    });
    node.appendChild(trail);
    var step = this.current ? this.steps[this.current] : null;
    if (step) {
      node.appendChild(el("div", "question", step.question));
      (step.fields || []).forEach(function (name) {
        var label = el("label", null, name);
        var input = el("input");
        input.type = "text";
        input.dataset.field = name;
        label.appendChild(input);
        node.appendChild(label);
      });
      var answers = el("div", "answers");
      (step.answers || []).forEach(function (a) {
        var b = el("button", "answer", a.text);
        b.type = "button";
        b.addEventListener("click", function () { self.choose(a); });
        answers.appendChild(b);
      });
      if (!step.answers || !step.answers.length) {
        var next = el("button", "answer", T.next);
        next.type = "button";
        next.addEventListener("click", function () { self.choose(null); });
        answers.appendChild(next);
      }
      node.appendChild(answers);
    } else {
      node.appendChild(el("div", "question done", T.end));
      var save = el("button", "save", T.save);
      save.type = "button";
      save.disabled = this.saved;
      save.addEventListener("click", function () { self.save(save); });
      node.appendChild(save);
    }
    var tools = el("div", "tools");
    if (this.path.length && !this.saved) {
      var back = el("button", "link back", T.back);
      back.type = "button";
      back.addEventListener("click", function () { self.back(); });
      tools.appendChild(back);
    }
    var close = el("button", "link close", T.close);
    close.type = "button";
    close.addEventListener("click", function () { self.remove(); });
    tools.appendChild(close);
    node.appendChild(tools);
    this.status = el("div", "status");
    this.status.setAttribute("role", "status");
    node.appendChild(this.status);
  };

  Panel.prototype.save = function (button) {
    var self = this;
    var body = { script_id: this.script.id, answers: this.path };
    Object.keys(this.target).forEach(function (k) { body[k] = self.target[k]; });
    button.disabled = true;
    fetch("/scripts/answers", {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Accept": "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrf() }
    }).then(function (r) { return r.json().then(function (data) { return { ok: r.ok, data: data }; }); })
      .then(function (res) {
        if (res.ok && res.data.ok) {
          self.saved = true;
          self.status.textContent = res.data.inquiry_id ? T.saved : T.later;
          self.status.className = "status ok";
          self.node.classList.add("saved");
          if (res.data.inquiry_id) self.node.dataset.inquiry = res.data.inquiry_id;
        } else {
          button.disabled = false;
          self.status.textContent = T.failed + (res.data.error ? ": " + res.data.error : "");
          self.status.className = "status error";
        }
      }).catch(function () {
        button.disabled = false;
        self.status.textContent = T.failed;
        self.status.className = "status error";
      });
  };

  Panel.prototype.remove = function () {
    this.node.remove();
    delete panels[this.key];
  };

  function getJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; });
  }

  document.addEventListener("hub:popup", function (ev) {
    var msg = ev.detail || {};
    var key = msg.call_id;
    if (!key) return;
    var panel = panels["call:" + key];
    if (msg.ended) {
      // An untouched script leaves with its card; one the agent began stays until saved or closed.
      if (panel && !panel.path.length) setTimeout(function () { if (!panel.path.length) panel.remove(); }, 8000);
      return;
    }
    if (document.getElementById("script-panels")) place(document.getElementById("script-panels"));
    if (panel || asked[key]) return;
    asked[key] = true;
    getJson("/scripts/for-call/" + encodeURIComponent(key)).then(function (data) {
      if (!data || !data.script || panels["call:" + key]) return;
      addStyles();
      panels["call:" + key] = new Panel("call:" + key, data.script, { call_id: key }, false);
    }).catch(function () { delete asked[key]; });
  });

  // «Скрипт разговора» on the call card (telephony/static/card.js): open the call's script again if it was closed.
  document.addEventListener("hub:open-script", function (ev) {
    var key = (ev.detail || {}).call_id;
    if (!key) return;
    var panel = panels["call:" + key];
    if (panel) { panel.node.scrollIntoView({ block: "nearest" }); return; }
    getJson("/scripts/for-call/" + encodeURIComponent(key)).then(function (data) {
      if (!data || !data.script || panels["call:" + key]) return;
      addStyles();
      panels["call:" + key] = new Panel("call:" + key, data.script, { call_id: key }, false);
    }).catch(function () { /* no script for this call */ });
  });

  // A new request waits for moderation: a counter on the «Модерация» link (and a note on that page).
  var waiting = 0;
  document.addEventListener("hub:moderation", function () {
    var link = document.querySelector("header nav a[href='/moderation']");
    if (!link) return;
    waiting += 1;
    var badge = link.querySelector(".badge");
    if (!badge) {
      badge = el("span", "badge");
      link.appendChild(document.createTextNode(" "));
      link.appendChild(badge);
    }
    badge.textContent = "+" + waiting;
    if (location.pathname === "/moderation" && !document.querySelector(".moderation-new")) {
      var note = el("p", "moderation-new");
      var reload = el("a", null, RU ? "Поступили новые заявки — обновить список" : "New requests arrived: refresh");
      reload.href = "/moderation";
      note.appendChild(reload);
      var h1 = document.querySelector("main h1");
      if (h1) h1.insertAdjacentElement("afterend", note);
    }
  });

  var match = /^\/inquiries\/(\d+)$/.exec(location.pathname);
  if (match && document.querySelector("main")) {
    getJson("/scripts/for-inquiry/" + match[1]).then(function (data) {
      if (!data || !data.script) return;
      addStyles();
      var button = el("button", "open-script", T.open);
      button.type = "button";
      button.addEventListener("click", function () {
        if (panels["inquiry:" + match[1]]) return;
        panels["inquiry:" + match[1]] = new Panel("inquiry:" + match[1], data.script,
          { inquiry_id: Number(match[1]) }, true);
      });
      container(true).appendChild(button);
    }).catch(function () { /* no script for this inquiry */ });
  }
})();
