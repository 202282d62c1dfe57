// Live pages. A page marks its live area with data-live="/ws/…/"; elements with data-partial-url
// are server-rendered partials swapped in place when an event concerns them (data-deploy or
// data-deployment). Log lines append to #deploy-log, resuming after the last sequence number the
// page has. If the socket drops, the page reconnects with backoff and polls meanwhile.
(function () {
  "use strict";
  const root = document.querySelector("[data-live]");
  if (!root) return;
  const status = document.getElementById("live-status");
  const log = document.getElementById("deploy-log");
  let lastSeq = parseInt(root.dataset.lastSeq || "0", 10);
  let socket = null, pollTimer = null, backoff = 1000, refreshTimer = null;
  const pending = new Set();

  function say(text, cls) { if (status) { status.textContent = text; status.dataset.state = cls; } }

  function appendLines(lines) {
    if (!log || !lines.length) return;
    const following = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
    let text = "";
    for (const line of lines) {
      if (line.seq <= lastSeq) continue;
      text += line.text + "\n";
      lastSeq = line.seq;
    }
    if (text) log.appendChild(document.createTextNode(text));
    if (following) log.scrollTop = log.scrollHeight;
  }

  async function swap(el) {
    const url = el.dataset.partialUrl;
    const response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
    if (!response.ok) return;
    const holder = document.createElement("template");
    holder.innerHTML = (await response.text()).trim();
    const fresh = holder.content.firstElementChild;
    if (fresh && el.isConnected) el.replaceWith(fresh);
  }

  function refresh(selector) {
    pending.add(selector);
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      const selectors = Array.from(pending);
      pending.clear();
      for (const sel of selectors) document.querySelectorAll(sel).forEach((el) => swap(el));
    }, 250);
  }

  function renderPush(layers) {
    const box = document.getElementById("push-progress");
    if (!box) return;
    box.hidden = false;
    const body = box.querySelector("tbody");
    body.textContent = "";
    for (const [layer, info] of Object.entries(layers)) {
      const row = body.insertRow();
      row.insertCell().textContent = layer;
      row.insertCell().textContent = info.status;
      const pct = info.total ? Math.round((100 * info.current) / info.total) : (/Pushed|exists/.test(info.status) ? 100 : 0);
      const cell = row.insertCell();
      cell.innerHTML = '<div class="progress small"><div class="bar"></div></div>';
      cell.querySelector(".bar").style.width = pct + "%";
    }
  }

  function onEvent(event) {
    if (event.type === "deploy.log") return appendLines(event.lines);
    if (event.type === "deploy.push") return renderPush(event.layers);
    if (event.type === "deploy.state" && event.snapshot) {
      const shown = document.querySelector("#deploy-state");
      if (shown && shown.dataset.state === event.state) return;
    }
    if (event.deploy_id) refresh(`[data-partial-url][data-deploy="${event.deploy_id}"]`);
    if (event.deployment_id) refresh(`[data-partial-url][data-deployment="${event.deployment_id}"]`);
  }

  async function poll() {
    document.querySelectorAll("[data-partial-url]").forEach((el) => swap(el));
    if (root.dataset.logUrl) {
      const response = await fetch(`${root.dataset.logUrl}?after=${lastSeq}`, { credentials: "same-origin" });
      if (response.ok) appendLines((await response.json()).lines);
    }
  }

  function startPolling() {
    if (!pollTimer) pollTimer = setInterval(() => poll().catch(() => {}), 2000);
  }

  function stopPolling() { clearInterval(pollTimer); pollTimer = null; }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.live}?after=${lastSeq}`);
    socket.onopen = () => { backoff = 1000; stopPolling(); say("live", "live"); };
    socket.onmessage = (message) => onEvent(JSON.parse(message.data));
    socket.onclose = () => {
      say("reconnecting… (polling meanwhile)", "polling");
      startPolling();
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  if (log) log.scrollTop = log.scrollHeight;
  window.airdockLive = { onEvent, poll, get lastSeq() { return lastSeq; } };
  connect();
})();
