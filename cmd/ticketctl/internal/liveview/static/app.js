// The live view: one EventSource on /events; "ticket" frames become table rows, "stats"
// frames fill the header. Nothing is loaded from elsewhere and no HTML is built from data
// (textContent only), so an odd ticket field can never inject markup.
"use strict";

const MAX_ROWS = 200;
// Lag thresholds, in messages pending for the durable consumer. A few pending during a
// burst is normal; a backlog that grows means the invalidator is not keeping up.
const LAG_WARN = 10, LAG_BAD = 100;
const HIT_OK = 0.9, HIT_WARN = 0.6;
const STALE_MS = 5000; // no stats for this long: the numbers are greyed out

const $ = (id) => document.getElementById(id);
const rows = $("rows");
// Rows shown, by stream sequence and event id: a replay after a reconnect adds no twins,
// and a recreated stream, whose sequences start again at 1, still gets its rows.
const seen = new Set();
let lastStats = 0;
let noticeTimer = 0;

function setTile(id, state, value, verdict, detail) {
  const tile = $(id);
  tile.className = "tile " + state;
  $(id + "-value").textContent = value;
  $(id + "-verdict").textContent = verdict;
  $(id + "-detail").textContent = detail;
}

function pct(r) { return (r * 100).toFixed(1) + "%"; }
function num(n) { return Number(n).toLocaleString("en-US"); }

function showLag(s) {
  const c = s.consumer;
  $("lag-consumer").textContent = c.name || "";
  if (s.nats_error) { setTile("lag", "na", "n/a", "NATS: no numbers", s.nats_error); return; }
  if (!c.exists) { setTile("lag", "na", "absent", "consumer does not exist", "is the cache-invalidator deployed?"); return; }
  const state = c.pending >= LAG_BAD ? "bad" : c.pending >= LAG_WARN ? "warn" : "ok";
  const verdict = state === "ok" ? "keeping up" : state === "warn" ? "behind" : "far behind";
  setTile("lag", state, num(c.pending), verdict,
    "ack pending " + num(c.ack_pending) + " · redelivered " + num(c.redelivered));
}

function showHit(s) {
  const c = s.cache;
  const overall = c.overall_ratio == null ? "n/a" : pct(c.overall_ratio);
  if (c.interval_ratio != null) {
    const r = c.interval_ratio;
    const state = r >= HIT_OK ? "ok" : r >= HIT_WARN ? "warn" : "bad";
    setTile("hit", state, pct(r), num(c.interval_reads) + " reads in the last interval",
      "overall " + overall + " · hits " + num(c.hits) + " · misses " + num(c.misses) + " · bypass " + num(c.bypasses));
  } else if (c.overall_ratio != null) {
    setTile("hit", "na", "n/a", "no reads in the last interval", "overall " + overall);
  } else {
    setTile("hit", "na", "n/a", "no ratio", c.reason || "");
  }
}

function showRate(s) {
  const r = s.events_per_sec;
  setTile("rate", "plain", r >= 10 ? r.toFixed(0) : r.toFixed(1),
    num(s.events_total) + " events seen", s.stream.name ? "stream " + s.stream.name + " · last seq " + num(s.stream.last_seq) : "");
}

function showDLQ(s) {
  const d = s.dlq;
  if (s.nats_error) { setTile("dlq", "na", "n/a", "", ""); return; }
  if (!d.exists) { setTile("dlq", "ok", "0", "nothing dead-lettered", "stream " + d.name + " not created yet"); return; }
  setTile("dlq", d.messages > 0 ? "bad" : "ok", num(d.messages),
    d.messages > 0 ? "ticketctl dlq list" : "nothing dead-lettered", "stream " + d.name);
}

function onStats(e) {
  const s = JSON.parse(e.data);
  lastStats = Date.now();
  document.body.classList.remove("stale");
  showLag(s); showHit(s); showRate(s); showDLQ(s);
  if (s.nats_error) notice("NATS: " + s.nats_error, true, 3000);
}

function cell(tr, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  tr.appendChild(td);
  return td;
}

function onTicket(e) {
  const ev = JSON.parse(e.data);
  const key = ev.seq + "/" + ev.event_id;
  if (seen.has(key)) return;
  seen.add(key);
  const empty = rows.querySelector("tr.empty");
  if (empty) empty.remove();
  const tr = document.createElement("tr");
  tr.dataset.ticket = ev.ticket;
  tr.dataset.key = key;
  tr.title = ev.line; // hover: the line ticketctl events tail prints
  const t = cell(tr, ev.time.slice(11, 23));
  t.title = ev.time;
  cell(tr, ev.ticket, "ticket");
  cell(tr, ev.change, "change " + ev.change);
  cell(tr, "v" + ev.version, "version");
  cell(tr, ev.fields.length ? ev.fields.join(", ") : "–", "fields");
  cell(tr, ev.actor || "–", "actor");
  tr.className = "flash";
  rows.insertBefore(tr, rows.firstChild);
  while (rows.children.length > MAX_ROWS) {
    seen.delete(rows.lastChild.dataset.key);
    rows.lastChild.remove();
  }
}

function notice(text, isError, ms) {
  const n = $("notice");
  n.textContent = text;
  n.className = "notice" + (isError ? " error" : "");
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, ms || 8000);
}

function setConn(state, text) {
  const c = $("conn");
  c.className = "conn " + state;
  c.textContent = text;
}

function connect() {
  const es = new EventSource("events");
  es.onopen = () => setConn("live", "live");
  es.onerror = () => {
    // EventSource retries by itself while it is CONNECTING; a CLOSED one (the server
    // answered with an error) does not, so start a new one.
    setConn("reconnecting", "reconnecting…");
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 3000);
  };
  es.addEventListener("ticket", onTicket);
  es.addEventListener("stats", onStats);
  es.addEventListener("lagging", (e) => {
    const d = JSON.parse(e.data);
    notice("This page fell behind: " + d.dropped + " updates were skipped. The table may have gaps; the numbers are current.", false);
  });
  es.addEventListener("notice", (e) => notice(JSON.parse(e.data).message, false));
}

setInterval(() => {
  if (lastStats && Date.now() - lastStats > STALE_MS) document.body.classList.add("stale");
}, 1000);
connect();
