// Transcript page: clicking (or Enter on) a word plays the recording from the moment it was said.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const seek = (el) => {
    const box = el.closest("[data-audio]") || el.closest("main").querySelector("[data-audio]");
    const audio = box ? document.getElementById(box.dataset.audio) : document.querySelector("audio");
    const at = parseFloat(el.dataset.t);
    if (!audio || Number.isNaN(at)) return;
    audio.currentTime = at;
    audio.play().catch(() => {});
  };
  document.querySelectorAll(".w[data-t]").forEach((el) => {
    el.addEventListener("click", () => seek(el));
    el.addEventListener("keydown", (ev) => { if (ev.key === "Enter") seek(el); });
  });
});
