// Recordings and transcripts in place. On an inquiry's page: its calls, each with its recording (an <audio>
// player; the server answers Range requests, so the agent can jump anywhere) and, where the call was
// transcribed, the dialogue — clicking (or Enter on) a word plays the recording from the moment it was said;
// the client's phones with «Позвонить». On a client's card: a player under each call of the timeline that has
// a recording. The JSON comes from /inquiries/{id}/calls.json or /clients/{id}/calls.json (only the calls the
// reader may hear); everything from the server goes in with textContent.
(function () {
  "use strict";
  var box = document.getElementById("calls-in-place");
  if (!box || !box.dataset.src) return;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function addStyles() {
    if (document.querySelector("link[href='/static/telephony/telephony.css']")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = "/static/telephony/telephony.css";
    document.head.appendChild(link);
  }

  function csrf() {
    var token = document.querySelector("input[name=_csrf]");
    return token ? token.value : "";
  }

  function player(rec) {
    var audio = el("audio");
    audio.controls = true;
    audio.preload = "metadata";
    audio.src = rec.src;
    audio.id = "rec-audio-" + rec.id;
    audio.dataset.recording = rec.id;
    return audio;
  }

  function seek(audio, at) {
    if (Number.isNaN(at)) return;
    var go = function () {
      audio.currentTime = at;
      audio.play().catch(function () { /* the browser may refuse to play without a gesture */ });
    };
    if (audio.readyState >= 1) go();
    else { audio.addEventListener("loadedmetadata", go, { once: true }); audio.load(); }
  }

  function dialogue(T, words, audio) {
    var box = el("div", "dialogue"), turn = null, speaker = null;
    box.dataset.audio = audio.id;
    words.forEach(function (w) {
      if (!turn || w.s !== speaker) {
        speaker = w.s;
        turn = el("p", "turn speaker-" + w.s);
        turn.appendChild(el("b", null, T[w.s] || T.speaker));
        var m = Math.floor(w.t / 60), s = Math.floor(w.t % 60);
        turn.appendChild(el("time", null, m + ":" + (s < 10 ? "0" : "") + s));
        turn.appendChild(document.createTextNode(" "));
        box.appendChild(turn);
      }
      var span = el("span", "w", w.w);
      span.dataset.t = w.t.toFixed(2);
      span.tabIndex = 0;
      turn.appendChild(span);
      turn.appendChild(document.createTextNode(" "));
    });
    box.addEventListener("click", function (ev) {
      if (ev.target.dataset && ev.target.dataset.t) seek(audio, parseFloat(ev.target.dataset.t));
    });
    box.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && ev.target.dataset && ev.target.dataset.t) seek(audio, parseFloat(ev.target.dataset.t));
    });
    return box;
  }

  function callHeader(T, c) {
    var head = el("header");
    head.appendChild(el("time", null, c.at || "—"));
    if (c.outcome) head.appendChild(document.createTextNode(" · " + (T["outcome." + c.outcome] || c.outcome)));
    if (c.agent) head.appendChild(document.createTextNode(" · " + c.agent));
    head.appendChild(document.createTextNode(" · "));
    var a = el("a", "open-call", T.open_call);
    a.href = c.href;
    head.appendChild(a);
    return head;
  }

  function phones(T, data) {
    var p = el("p", "phones");
    p.appendChild(el("span", "label", T.phones + ": "));
    data.phones.forEach(function (phone, i) {
      var form = el("form", "inline call-form");
      form.method = "post";
      form.action = "/calls/originate";
      // hidden numbers (privacy): the hub dials the contact, the page never holds the number
      var target = data.contacts ? ["contact_id", String(data.contacts[i])] : ["phone", phone];
      [["_csrf", csrf()], ["inquiry_id", String(data.inquiry_id)], target].forEach(function (f) {
        var input = el("input");
        input.type = "hidden";
        input.name = f[0];
        input.value = f[1];
        form.appendChild(input);
      });
      form.appendChild(el("span", "phone", phone + " "));
      var b = el("button", "link", T.call);
      form.appendChild(b);
      form.appendChild(document.createTextNode(" "));
      var out = el("span", "call-result");
      out.setAttribute("role", "status");
      form.appendChild(out);
      p.appendChild(form);
      p.appendChild(document.createTextNode(" "));
    });
    return p;
  }

  function drawInquiry(data) {
    var T = data.texts;
    box.appendChild(el("h2", null, T.title));
    if (data.can_call && data.phones.length) box.appendChild(phones(T, data));
    if (!data.calls.length) box.appendChild(el("p", "empty", T.none));
    data.calls.forEach(function (c) {
      var art = el("article", "call-audio");
      art.dataset.call = c.call_id;
      art.appendChild(callHeader(T, c));
      if (!c.recordings.length) art.appendChild(el("p", "muted", T.no_recording));
      c.recordings.forEach(function (rec) {
        var audio = player(rec);
        art.appendChild(audio);
        var tr = rec.transcript;
        if (tr) art.appendChild(el("p", "status status-" + tr.status, T["status." + tr.status] || tr.status));
        if (tr && tr.words && tr.words.length) {
          art.appendChild(el("p", "muted", T.click_word));
          art.appendChild(dialogue(T, tr.words, audio));
        }
      });
      box.appendChild(art);
    });
  }

  function drawTimeline(data) {
    var T = data.texts;
    data.calls.forEach(function (c) {
      if (!c.recordings.length) return;
      var li = document.querySelector(".timeline li[data-call='" + Number(c.call_id) + "']");
      if (!li) return;
      var wrap = el("div", "call-audio");
      c.recordings.forEach(function (rec) { wrap.appendChild(player(rec)); });
      var a = el("a", "open-call", T.open_call);
      a.href = c.href;
      wrap.appendChild(a);
      li.appendChild(wrap);
    });
  }

  fetch(box.dataset.src, { credentials: "same-origin", headers: { "Accept": "application/json" } })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (data) {
      if (!data) return;
      addStyles();
      if (box.dataset.mode === "inquiry") drawInquiry(data);
      else drawTimeline(data);
    })
    .catch(function () { /* the page stays as it is */ });
})();
