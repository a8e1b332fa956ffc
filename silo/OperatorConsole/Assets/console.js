// EvCharge console: live fleet status over server-sent events, the charger page's live fragment, and
// confirmation of forms that move money or stop a charge. No framework; the pages work without it.
(() => {
  "use strict";

  // Forms with data-confirm ask first (refund, remote stop).
  document.addEventListener("submit", (e) => {
    const message = e.target.getAttribute && e.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) e.preventDefault();
  });

  const statusClass = { Available: "ok", Charging: "live", Faulted: "bad", Offline: "muted" };
  const connectorClass = (s) => ({ Available: "ok", Charging: "live", SuspendedEV: "live", SuspendedEVSE: "live", Preparing: "live", Finishing: "live", Faulted: "bad" })[s] || "muted";
  const kst = (iso) => {
    if (!iso) return "–";
    const t = new Date(new Date(iso).getTime() + 9 * 3600 * 1000).toISOString();
    return t.slice(0, 10) + " " + t.slice(11, 19);
  };
  const chip = (c) => {
    const span = document.createElement("span");
    span.className = "chip " + connectorClass(c.status);
    span.title = "connector " + c.connectorId;
    span.textContent = c.connectorId + ": " + c.status;
    return span;
  };

  function updateRow(row, c) {
    const status = row.querySelector('[data-field="status"]');
    const changed = status && status.textContent !== c.status;
    if (status) { status.textContent = c.status; status.className = "badge " + (statusClass[c.status] || "muted"); }
    const connectors = row.querySelector('[data-field="connectors"]');
    if (connectors) connectors.replaceChildren(...c.connectors.map(chip));
    const seen = row.querySelector('[data-field="lastSeen"]');
    if (seen) seen.textContent = kst(c.lastSeen);
    if (changed) { row.classList.remove("flash"); void row.offsetWidth; row.classList.add("flash"); } // a new status catches the eye
  }

  function openStream(url, onCharger, onCounts) {
    const indicator = document.getElementById("live-indicator");
    const source = new EventSource(url);
    source.onopen = () => { if (indicator) { indicator.className = "live-indicator on"; indicator.textContent = "live"; } };
    source.onerror = () => { if (indicator) { indicator.className = "live-indicator off"; indicator.textContent = "reconnecting"; } };
    source.addEventListener("charger", (e) => onCharger(JSON.parse(e.data)));
    if (onCounts) source.addEventListener("counts", (e) => onCounts(JSON.parse(e.data)));
    return source;
  }

  // Fleet page: counts and rows follow the stream.
  const fleet = document.getElementById("fleet-counts");
  if (fleet) {
    openStream("/console/fleet/events",
      (c) => {
        const row = document.querySelector('#fleet tr[data-charger="' + CSS.escape(c.chargerId) + '"]');
        if (row) updateRow(row, c);
      },
      (counts) => {
        for (const [k, v] of Object.entries(counts)) {
          const el = fleet.querySelector('[data-count="' + k + '"]');
          if (el) el.textContent = v;
        }
      });
  }

  // Charger page: the live-transactions fragment is re-read when the charger's status changes, and every
  // few seconds while a transaction is running (meter values do not change the status).
  const live = document.getElementById("live");
  if (live) {
    const chargerId = live.getAttribute("data-charger");
    const badge = document.getElementById("charger-status");
    let busy = false;
    const refresh = async () => {
      if (busy) return;
      busy = true;
      try {
        const response = await fetch(location.pathname + "?handler=Live", { headers: { Accept: "text/html", "X-Console-Fetch": "1" }, credentials: "same-origin" });
        if (response.ok) {
          const current = document.getElementById("live");
          const holder = document.createElement("div");
          holder.innerHTML = await response.text();
          if (current && holder.firstElementChild) current.replaceWith(holder.firstElementChild);
        }
      } finally { busy = false; }
    };
    openStream("/console/fleet/events?chargerId=" + encodeURIComponent(chargerId), (c) => {
      if (badge) { badge.textContent = c.status; badge.className = "badge " + (statusClass[c.status] || "muted"); }
      refresh();
    });
    setInterval(() => {
      const current = document.getElementById("live");
      if (current && current.getAttribute("data-live-count") !== "0") refresh();
    }, 5000);
  }
})();
