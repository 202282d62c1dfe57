// The logs page follows its deployment's component logs over the websocket: lines arrive in order
// of their id; the page keeps the last id it shows and reconnects with ?after=<id>, so a dropped
// socket loses no line and shows none twice. The component and text filters apply to new lines too.
(function () {
  "use strict";
  const log = document.getElementById("component-log");
  if (!log || !log.dataset.logsLive) return;
  const status = document.getElementById("logs-status");
  const component = log.dataset.component, search = (log.dataset.search || "").toLowerCase();
  let lastId = parseInt(log.dataset.lastId || "0", 10), backoff = 1000;

  function say(text, state) { if (status) { status.textContent = text; status.dataset.state = state; } }

  function time(iso) { return iso.slice(11, 19); }

  function append(lines) {
    const following = log.scrollTop + log.clientHeight >= log.scrollHeight - 30;
    for (const line of lines) {
      if (line.id <= lastId) continue;
      lastId = line.id;
      if (component && line.component !== component) continue;
      if (search && !line.text.toLowerCase().includes(search)) continue;
      const span = document.createElement("span");
      span.className = "log-line";
      span.dataset.id = line.id;
      span.textContent = `${time(line.at)} ${line.component} ${line.text}\n`;
      log.appendChild(span);
    }
    if (following) log.scrollTop = log.scrollHeight;
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}${log.dataset.logsLive}?after=${lastId}`);
    socket.onopen = () => { backoff = 1000; say("live", "live"); };
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.type === "component.logs") append(event.lines);
    };
    socket.onclose = () => {
      say("reconnecting…", "polling");
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 15000);
    };
  }

  log.scrollTop = log.scrollHeight;
  window.airdockLogs = { get lastId() { return lastId; } };
  connect();
})();
