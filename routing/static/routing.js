// Team offers, live: a "routing.offer" push shows a card with «Беру работу на себя»; the click claims it in the
// background (the database decides the one winner) and the card says whether it is yours or already taken;
// "routing.offer_closed" tells the rest of the group that someone else took it (or that it expired).
// Everything from a client (the subject) is put in with textContent, never as HTML.
(function () {
  "use strict";
  var TEXTS = {
    ru: {
      offered: "Вам предложено обращение", claim: "Беру работу на себя", until: "Взять до ", open: "Открыть",
      claimed: "Обращение уже взял другой агент", expired: "Время на ответ вышло",
      withdrawn: "Предложение снято по сроку", failed: "Не получилось, попробуйте ещё раз",
      channel: { call: "Звонок", email: "Email", telegram: "Telegram", webform: "Форма на сайте", visit: "Визит",
                 manual: "Вручную" }
    },
    en: {
      offered: "An inquiry is offered to you", claim: "I'll take it", until: "Claim by ", open: "Open",
      claimed: "Another agent has taken it", expired: "The time to answer is over",
      withdrawn: "The offer was withdrawn (SLA)", failed: "That did not work, try again",
      channel: { call: "Call", email: "Email", telegram: "Telegram", webform: "Web form", visit: "Visit",
                 manual: "Manual" }
    }
  };
  var T = TEXTS[document.body && document.body.dataset.locale === "en" ? "en" : "ru"];
  var cards = {};

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function box() {
    var b = document.getElementById("popups");
    if (!b) { b = el("div"); b.id = "popups"; document.body.appendChild(b); }
    return b;
  }

  function settle(card, cls, text) {
    card.classList.add(cls);
    var button = card.querySelector("button.claim");
    if (button) button.disabled = true;
    card.querySelector(".offer-result").textContent = text;
  }

  function forget(card, after) {
    setTimeout(function () { card.remove(); delete cards[card.dataset.offer]; }, after);
  }

  function claim(card) {
    var button = card.querySelector("button.claim");
    button.disabled = true;
    var token = document.querySelector("input[name=_csrf]");
    var csrf = token ? token.value : "";
    fetch("/routing/offers/" + encodeURIComponent(card.dataset.offer) + "/claim", {
      method: "POST", body: new URLSearchParams({ _csrf: csrf }), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
    }).then(function (r) { return r.json(); }).then(function (res) {
      if (res.ok) {
        settle(card, "mine", res.message || "");
        var link = el("a", "open", T.open);
        link.href = res.url;
        card.appendChild(link);
      } else if (!card.classList.contains("taken")) {
        settle(card, "taken", res.message || T.claimed);
        forget(card, 8000);
      }
    }).catch(function () {
      button.disabled = false;
      card.querySelector(".offer-result").textContent = T.failed;
    });
  }

  document.addEventListener("hub:routing.offer", function (ev) {
    var msg = ev.detail || {};
    var key = String(msg.offer_id);
    if (cards[key]) return;
    var card = el("div", "popup routing-offer");
    card.dataset.offer = key;
    card.dataset.inquiry = String(msg.inquiry_id);
    card.appendChild(el("div", "muted", T.offered));
    card.appendChild(el("h3", "offer-title", "№" + msg.inquiry_id + " · " + (T.channel[msg.channel] || msg.channel || "")));
    if (msg.subject) card.appendChild(el("div", "subject", msg.subject));
    if (msg.deadline) card.appendChild(el("div", "deadline", T.until + new Date(msg.deadline).toLocaleTimeString()));
    var button = el("button", "claim", T.claim);
    button.type = "button";
    button.addEventListener("click", function () { claim(card); });
    card.appendChild(button);
    card.appendChild(el("div", "offer-result"));
    card.lastChild.setAttribute("role", "status");
    cards[key] = card;
    box().appendChild(card);
  });

  document.addEventListener("hub:routing.offer_closed", function (ev) {
    var msg = ev.detail || {};
    Object.keys(cards).forEach(function (key) {
      var card = cards[key];
      var same = msg.offer_id !== null && msg.offer_id !== undefined ? key === String(msg.offer_id)
        : card.dataset.inquiry === String(msg.inquiry_id);
      if (!same || card.classList.contains("mine") || card.classList.contains("taken")) return;
      settle(card, "taken", T[msg.state] || T.claimed);
      forget(card, 8000);
    });
  });
})();
