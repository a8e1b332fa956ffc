// The driver's page: hands the phone to the wallet right after "Pay and start", and keeps the figures live from the
// server-sent events of /s/{session}/{token}/events. A change of phase reloads the page (the server renders each phase).
(() => {
  const live = document.getElementById('live');
  if (!live) return;
  const approve = live.dataset.approve;
  if (approve) { location.replace(approve); return; }
  const phase = live.dataset.phase;
  if (!live.dataset.events || ['Receipt', 'Ended', 'Debt'].includes(phase)) return;
  const ko = live.dataset.lang === 'ko';
  const won = n => Number(n).toLocaleString('en-US') + (ko ? '원' : ' KRW');
  const kwh = wh => (wh / 1000).toFixed(2) + ' kWh';
  const hms = s => {
    const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), sec = Math.floor(s % 60);
    return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
  };
  const set = (id, text) => { const el = document.getElementById(id); if (el && el.textContent !== text) el.textContent = text; };
  const events = new EventSource(live.dataset.events);
  events.addEventListener('charge', e => {
    const s = JSON.parse(e.data);
    if (s.phase !== phase) { events.close(); location.reload(); return; }
    set('energy', kwh(s.energyWh));
    set('power', (s.powerW / 1000).toFixed(1) + ' kW');
    set('elapsed', hms(s.elapsedSeconds));
    set('cost', won(s.finalCost ?? s.runningCost));
    live.dataset.updated = String(Date.now());
  });
})();
