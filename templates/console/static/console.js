// The console's one script: plain JavaScript, served by the service itself (no build step, nothing fetched
// from elsewhere). It keeps the ticket list live, counts clocks down, submits filters, and prints.
"use strict";

// The ticket list: asked for again every 15 s and swapped in, while the tab is visible.
function liveList() {
  const live = document.getElementById("live");
  if (!live) return;
  const src = live.dataset.src;
  const refresh = async () => {
    if (document.hidden) return;
    try {
      const r = await fetch(src + (src.includes("?") ? "&" : "?") + "partial=1",
                            { credentials: "same-origin", redirect: "manual" });
      if (r.ok) live.innerHTML = await r.text();
    } catch (e) { /* offline for a moment: the next round tries again */ }
  };
  setInterval(refresh, 15000);
}

// Clocks: the server says how many seconds were left when it drew the page (by the service's own clock, which
// a demo may have moved on); the page counts down from there.
function countdowns() {
  const loaded = Date.now();
  const clocks = document.querySelectorAll("[data-left]");
  if (!clocks.length) return;
  const span = (s) => {
    const m = Math.ceil(Math.abs(s) / 60), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60);
    if (d) return d + " 天" + (h ? " " + h + " 小时" : "");
    if (h) return h + " 小时" + (m % 60 ? " " + (m % 60) + " 分钟" : "");
    return m + " 分钟";
  };
  const tick = () => {
    const gone = (Date.now() - loaded) / 1000;
    for (const el of clocks) {
      const left = Number(el.dataset.left) - gone;
      el.textContent = (left < 0 ? el.dataset.over : el.dataset.remain).replace("{}", span(left));
      el.classList.toggle("breached", left < 0);
    }
  };
  tick();
  setInterval(tick, 15000);
}

function filters() {
  const form = document.querySelector("form.filters[role=search]");
  if (!form) return;
  for (const el of form.querySelectorAll("select, input[type=checkbox], input[type=date]")) {
    el.addEventListener("change", () => form.requestSubmit());
  }
}

function confirmations() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => { if (!window.confirm(form.dataset.confirm)) e.preventDefault(); });
  }
}

function printing() {
  const button = document.getElementById("print");
  if (button) button.addEventListener("click", () => window.print());
}

document.addEventListener("DOMContentLoaded", () => {
  liveList(); countdowns(); filters(); confirmations(); printing();
});
