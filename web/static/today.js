/* The field collector's day: the plan calculator and the offline queue (no library).
   A check-in or an outcome is put in a queue (localStorage) before it is sent; it leaves the
   queue only when the server has answered it: recorded (2xx) or refused (4xx, kept with the
   case's sentence for the collector to read). A lost answer leaves it queued, and its resend
   carries the same reference, which the case recognises and records nothing twice. */
"use strict";
(function () {
  const KEY = "cf-today-queue";
  const box = document.getElementById("queue");
  let sending = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY) || "[]"); } catch (e) { return []; }
  }
  function save(items) { localStorage.setItem(KEY, JSON.stringify(items)); }
  function newRef() {
    if (self.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(16) + "-" + Math.random().toString(16).slice(2, 14);
  }

  function show() {
    const items = load();
    box.replaceChildren();
    box.hidden = items.length === 0 && navigator.onLine;
    if (!navigator.onLine) {
      const line = document.createElement("p");
      line.className = "hint offline"; line.textContent = box.dataset.offline;
      box.append(line);
    }
    for (const item of items) {
      const line = document.createElement("p");
      line.className = item.state === "refused" ? "alert queued refused" : "notice queued";
      const label = item.state === "refused" ? box.dataset.refused : box.dataset.queued;
      const kind = item.kind === "outcome" ? box.dataset.kindOutcome : box.dataset.kindCheckIn;
      line.textContent = [label, kind, item.loan, item.sentence].filter(Boolean).join(" · ");
      if (item.state === "refused") {
        const drop = document.createElement("button");
        drop.type = "button"; drop.className = "link"; drop.textContent = "×";
        drop.setAttribute("aria-label", box.dataset.dismiss);
        drop.addEventListener("click", () => { save(load().filter((i) => i.ref !== item.ref)); show(); });
        line.append(" ", drop);
      }
      box.append(line);
    }
  }

  // The token of the session this page belongs to: an outcome queued before a new login
  // goes with the new session's token, not the one it was queued with.
  function currentToken() {
    const field = document.querySelector("form[action='/logout'] input[name=csrf]");
    return field ? field.value : "";
  }

  async function sendOne(item) {
    const body = new URLSearchParams(item.body);
    if (currentToken()) body.set("csrf", currentToken());
    let response;
    try {
      response = await fetch(item.url, {
        method: "POST", credentials: "same-origin", body: body.toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json" },
      });
    } catch (e) { return "wait"; }  // no network, or the answer was lost: send again later
    if (response.status >= 500 || response.status === 429) return "wait";
    // Sent to the login form (the session ended): nothing was recorded; keep it for later.
    if (response.redirected) return "wait";
    let answer = null;
    try { answer = await response.json(); } catch (e) { answer = null; }
    if (answer === null) return response.ok ? "wait" : { ok: false, sentence: "HTTP " + response.status };
    const fields = Object.values(answer.fields || {}).join(" ");
    return { ok: response.ok, sentence: [answer.sentence || "", fields].join(" ").trim() };
  }

  async function flush() {
    if (sending || !navigator.onLine) return;
    sending = true;
    let waiting = false;
    try {
      for (const item of load().filter((i) => i.state === "pending")) {
        const result = await sendOne(item);
        if (result === "wait") { waiting = true; break; }
        const rest = load();
        const kept = rest.find((i) => i.ref === item.ref);
        if (result.ok || !kept) save(rest.filter((i) => i.ref !== item.ref));
        else { kept.state = "refused"; kept.sentence = result.sentence; save(rest); }
        if (result.ok) markDone(item);
      }
    } finally { sending = false; show(); }
    // Queued while this round was sending: send it now rather than at the next tick.
    if (!waiting && load().some((i) => i.state === "pending")) setTimeout(flush, 0);
  }

  function markDone(item) {
    const card = document.getElementById("visit-" + item.loan);
    if (!card || item.kind !== "outcome") return;
    const head = card.querySelector(".visit-head");
    const tag = document.createElement("span");
    tag.className = "tag sent"; tag.textContent = box.dataset.sent;
    head.append(tag);
  }

  function enqueue(form) {
    const loan = form.closest(".visit").dataset.loan;
    const kind = form.classList.contains("outcome") ? "outcome" : "check-in";
    const data = new FormData(form);
    data.set("ref", newRef());  // one reference per submission, made before anything is sent
    if (kind === "check-in") {
      data.set("at", new Date().toISOString());
      localStorage.setItem("cf-checkin-" + loan, data.get("at"));
      form.querySelector(".checked").textContent = new Date().toLocaleTimeString();
    } else {
      data.set("checked_in_at", localStorage.getItem("cf-checkin-" + loan) || "");
    }
    const items = load();
    items.push({ ref: data.get("ref"), url: form.action, body: new URLSearchParams(data).toString(),
                 loan: loan, kind: kind, state: "pending", sentence: "" });
    save(items);
    if (kind === "outcome") form.closest("details").open = false;
    show();
    flush();
  }

  function calculator(form) {
    const income = form.querySelector(".income"), expenses = form.querySelector(".expenses");
    const plans = form.querySelector(".plans"), note = form.querySelector(".afford");
    if (!income || !plans) return;
    function update() {
      const left = parseFloat(income.value) - (parseFloat(expenses.value) || 0);
      let fits = 0;
      for (const option of plans.options) {
        const ok = isNaN(left) || !option.dataset.needs || parseFloat(option.dataset.needs) <= left;
        option.hidden = !ok; option.disabled = !ok; if (ok) fits += 1;
      }
      const first = Array.from(plans.options).find((o) => !o.disabled);
      if (first && plans.selectedOptions[0] && plans.selectedOptions[0].disabled) plans.value = first.value;
      note.textContent = isNaN(left) ? "" : (fits ? "" : box.dataset.nofit);
    }
    income.addEventListener("input", update);
    expenses.addEventListener("input", update);
  }

  // Without this script every field shows; with it, only those the choices need.
  function focus(form) {
    const outcome = form.querySelector("select[name=outcome]"), met = form.querySelector(".met");
    const result = form.querySelector("select[name=result]");
    if (!outcome || !met) return;
    function update() {
      met.hidden = outcome.value !== "met";
      for (const part of met.querySelectorAll("[data-result]")) part.hidden = part.dataset.result !== result.value;
    }
    outcome.addEventListener("change", update);
    result.addEventListener("change", update);
    update();
  }

  for (const form of document.querySelectorAll("form[data-queue]")) {
    form.addEventListener("submit", (event) => { event.preventDefault(); enqueue(form); });
    calculator(form);
    focus(form);
  }
  window.addEventListener("online", flush);
  window.addEventListener("offline", show);
  setInterval(flush, 15000);
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/today-sw.js", { scope: "/today" });
  show();
  flush();
})();
