/**
 * The page's static markup and style. Static on purpose: no status value is ever interpolated
 * here; the script fills the DOM with textContent (see browser/dom.ts).
 */

/** fleet: every gateway of a status topic; device: the one gateway serving the page. */
export type PageMode = 'fleet' | 'device';

export function pageHtml(mode: PageMode): string {
  const title = mode === 'fleet' ? 'sensorgate fleet' : 'sensorgate gateway';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/uPlot.iife.min.js" defer></script>
<script type="module" src="/assets/app.js"></script>
</head>
<body class="mode-${mode}" data-mode="${mode}">
<header class="bar">
  <div class="brand"><img class="logo" src="/assets/icon.svg" alt=""><span>sensorgate</span><span class="brand-sub" id="brand-sub">${mode === 'fleet' ? 'fleet' : 'gateway'}</span></div>
  <nav class="chips" id="chips" aria-label="Filter by state">
    <button type="button" class="chip" data-filter="all">All <b data-count="all">0</b></button>
    <button type="button" class="chip s-online" data-filter="online"><i></i>Online <b data-count="online">0</b></button>
    <button type="button" class="chip s-stale" data-filter="stale"><i></i>Stale <b data-count="stale">0</b></button>
    <button type="button" class="chip s-offline" data-filter="offline"><i></i>Offline <b data-count="offline">0</b></button>
    <button type="button" class="chip s-unknown" data-filter="unknown" id="chip-unknown" hidden><i></i>Unknown <b data-count="unknown">0</b></button>
    <button type="button" class="chip s-attention" data-filter="attention"><i></i>Needs attention <b data-count="attention">0</b></button>
  </nav>
  <div class="conn" id="conn" data-conn="connecting">connecting…</div>
</header>
<main>
  <div class="banner" id="banner" role="alert" hidden></div>
  <div class="toolbar">
    <input id="search" type="search" placeholder="Filter by gateway or host…" autocomplete="off" spellcheck="false">
    <span class="shown" id="shown"></span>
    <span class="pager" id="pager" hidden><button type="button" id="page-prev">‹ Previous</button> <span id="page-of"></span> <button type="button" id="page-next">Next ›</button></span>
  </div>
  <div class="grid-wrap">
    <table class="grid" id="grid">
      <colgroup>
        <col class="w-state"><col class="w-id"><col class="w-problems"><col class="w-seen"><col class="w-uplink"><col class="w-num"><col class="w-oldest">
        <col class="w-rate"><col class="w-rate"><col class="w-sources"><col class="w-num"><col class="w-host"><col class="w-version">
      </colgroup>
      <thead><tr>
        <th><button type="button" data-sort="state">State</button></th>
        <th><button type="button" data-sort="id">Gateway</button></th>
        <th><button type="button" data-sort="problems">Problems</button></th>
        <th><button type="button" data-sort="seen">Last seen</button></th>
        <th><button type="button" data-sort="uplink">Uplink</button></th>
        <th class="num"><button type="button" data-sort="depth">Buffered</button></th>
        <th class="num"><button type="button" data-sort="oldest">Oldest unsent</button></th>
        <th class="num"><button type="button" data-sort="ingest">In /s</button></th>
        <th class="num"><button type="button" data-sort="send">Out /s</button></th>
        <th><button type="button" data-sort="sources">Sources</button></th>
        <th class="num"><button type="button" data-sort="rejected">Rejected</button></th>
        <th><button type="button" data-sort="host">Host</button></th>
        <th><button type="button" data-sort="version">Version</button></th>
      </tr></thead>
      <tbody id="rows"></tbody>
    </table>
    <p class="empty" id="empty">No gateway has reported yet.</p>
  </div>
  <section class="detail" id="detail" hidden aria-live="polite"></section>
</main>
<footer class="foot" id="foot"></footer>
</body>
</html>
`;
}

export const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2f6fde"/><path d="M6 20h5l3-9 4 14 3-9h5" fill="none" stroke="#fff" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

export const PAGE_CSS = `
:root {
  --bg: #f4f6f9; --panel: #ffffff; --text: #1c2230; --muted: #667085; --line: #e4e7ec; --hover: #f0f4fb;
  --accent: #2f6fde; --ok: #15925a; --warn: #c47f00; --bad: #d1393a; --off: #8b93a5; --attn: #b4529b;
  --ok-bg: #e3f5ec; --warn-bg: #fdf1d8; --bad-bg: #fbe5e5; --off-bg: #eceef2;
  --mono: ui-monospace, "SF Mono", "Cascadia Mono", "DejaVu Sans Mono", monospace;
  color-scheme: light dark;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f131a; --panel: #171c25; --text: #e4e8ef; --muted: #98a2b3; --line: #283041; --hover: #1d2431;
    --ok-bg: #123325; --warn-bg: #3a2c0c; --bad-bg: #3d1618; --off-bg: #232a36;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html, body { margin: 0; background: var(--bg); color: var(--text); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
button { font: inherit; color: inherit; }
.bar { position: sticky; top: 0; z-index: 5; display: flex; align-items: center; gap: 20px; flex-wrap: wrap;
  padding: 10px 20px; background: var(--panel); border-bottom: 1px solid var(--line); }
.brand { display: flex; align-items: center; gap: 8px; font-weight: 650; font-size: 16px; }
.logo { width: 24px; height: 24px; }
.brand-sub { color: var(--muted); font-weight: 500; max-width: 40ch; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.chips { display: flex; gap: 6px; flex-wrap: wrap; flex: 1; }
.chip { display: inline-flex; align-items: center; gap: 6px; border: 1px solid var(--line); background: var(--panel);
  border-radius: 999px; padding: 3px 12px; cursor: pointer; }
.chip b { font-variant-numeric: tabular-nums; }
.chip i { width: 8px; height: 8px; border-radius: 50%; background: var(--off); }
.chip.s-online i { background: var(--ok); } .chip.s-stale i { background: var(--warn); }
.chip.s-offline i { background: var(--bad); } .chip.s-unknown i { background: var(--off); } .chip.s-attention i { background: var(--attn); }
.chip[aria-pressed="true"] { border-color: var(--accent); box-shadow: inset 0 0 0 1px var(--accent); }
.conn { font-size: 12px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
.conn::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--warn); }
.conn[data-conn="live"]::before { background: var(--ok); }
.conn[data-conn="down"]::before, .conn[data-conn="blind"]::before { background: var(--bad); }
.banner { background: var(--bad-bg); color: var(--bad); border: 1px solid var(--bad); border-radius: 8px; padding: 10px 14px; margin-bottom: 12px; font-weight: 600; }
.pager { margin-left: auto; display: flex; align-items: center; gap: 8px; color: var(--muted); font-size: 12px; }
.pager button { border: 1px solid var(--line); background: var(--panel); border-radius: 6px; padding: 3px 10px; cursor: pointer; }
.pager button:disabled { opacity: .4; cursor: default; }
.problems { margin: 0 0 14px; padding: 0; list-style: none; }
.problems li { background: var(--bad-bg); color: var(--bad); border-radius: 6px; padding: 6px 10px; margin-bottom: 6px; font-weight: 600; overflow-wrap: anywhere; }
.problems li span { font-weight: 400; color: var(--muted); margin-left: 6px; }
main { padding: 14px 20px 40px; }
.toolbar { display: flex; align-items: center; gap: 12px; margin-bottom: 10px; }
.toolbar input { width: min(360px, 100%); padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--text); }
.shown { color: var(--muted); font-size: 12px; }
.grid-wrap { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; overflow: auto; }
/* Fixed layout: a changed cell does not make the browser re-measure 500 rows to size columns. */
.grid { width: 100%; min-width: 1400px; border-collapse: collapse; font-variant-numeric: tabular-nums; table-layout: fixed; }
.w-state { width: 86px; } .w-id { width: 16%; } .w-problems { width: 20%; } .w-seen { width: 96px; } .w-uplink { width: 112px; } .w-num { width: 88px; }
.w-oldest { width: 112px; } .w-rate { width: 68px; } .w-sources { width: 18%; } .w-host { width: 12%; } .w-version { width: 80px; }
.grid th { position: sticky; top: 0; background: var(--panel); text-align: left; font-size: 12px; font-weight: 600;
  color: var(--muted); border-bottom: 1px solid var(--line); padding: 0; white-space: nowrap; }
.grid th button { all: unset; cursor: pointer; display: block; padding: 8px 10px; }
.grid th.num button { text-align: right; }
.grid th[aria-sort] button { color: var(--text); }
.grid th[aria-sort="ascending"] button::after { content: " ▲"; font-size: 9px; }
.grid th[aria-sort="descending"] button::after { content: " ▼"; font-size: 9px; }
.grid td { padding: 7px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.grid tbody tr { cursor: pointer; }
.grid tbody tr:hover { background: var(--hover); }
.grid tbody tr[aria-selected="true"] { background: var(--hover); box-shadow: inset 3px 0 0 var(--accent); }
.grid tbody tr:last-child td { border-bottom: none; }
/* An offline (or, while the fleet cannot read Kafka, unknown) gateway's figures are its last
   words, not the present: shown, but faded. */
.grid tbody tr:is([data-state="offline"], [data-state="unknown"]) td:not(:first-child) { opacity: .55; }
.num { text-align: right; }
.id { font-weight: 600; }
.muted { color: var(--muted); }
.warn { color: var(--warn); } .bad { color: var(--bad); } .ok { color: var(--ok); }
.badge { display: inline-block; white-space: nowrap; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; background: var(--off-bg); color: var(--off); }
.badge.s-online, .badge.s-up { background: var(--ok-bg); color: var(--ok); }
.badge.s-stale, .badge.s-starting { background: var(--warn-bg); color: var(--warn); }
.badge.s-offline, .badge.s-down { background: var(--bad-bg); color: var(--bad); }
.empty { color: var(--muted); text-align: center; padding: 30px; margin: 0; }
.foot { color: var(--muted); font-size: 12px; padding: 0 20px 20px; }
.detail { position: fixed; top: 0; right: 0; bottom: 0; width: min(760px, 100vw); z-index: 10; overflow: auto;
  background: var(--panel); border-left: 1px solid var(--line); box-shadow: -12px 0 32px rgba(15, 20, 30, .14); padding: 18px 22px 30px; }
.mode-device .detail { position: static; width: auto; box-shadow: none; border: 1px solid var(--line); border-radius: 8px; margin-top: 16px; }
.mode-device .chips, .mode-device .toolbar { display: none; }
.d-head { display: flex; align-items: center; gap: 10px; margin-bottom: 4px; }
.d-head h2 { margin: 0; font-size: 19px; overflow-wrap: anywhere; }
.d-close { margin-left: auto; border: 1px solid var(--line); background: var(--panel); border-radius: 6px; width: 30px; height: 30px; cursor: pointer; font-size: 16px; }
.mode-device .d-close { display: none; }
.d-sub { color: var(--muted); font-size: 12px; margin-bottom: 14px; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(215px, 1fr)); gap: 10px; margin-bottom: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; min-width: 0; }
.card h3 { margin: 0 0 6px; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 600; }
.kv { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; font-size: 13px; font-variant-numeric: tabular-nums; }
.kv dt { color: var(--muted); white-space: nowrap; }
.kv dd { margin: 0; text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.error { font-family: var(--mono); font-size: 12px; background: var(--bad-bg); color: var(--bad); border-radius: 6px; padding: 6px 8px; margin: 0 0 14px; overflow-wrap: anywhere; white-space: pre-wrap; }
.section-title { font-size: 13px; font-weight: 650; margin: 18px 0 8px; }
.sources { width: 100%; border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
.sources th { text-align: left; color: var(--muted); font-weight: 600; font-size: 12px; border-bottom: 1px solid var(--line); padding: 4px 6px; }
.sources td { border-bottom: 1px solid var(--line); padding: 5px 6px; vertical-align: top; overflow-wrap: anywhere; }
.reasons { color: var(--muted); font-size: 12px; }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 8px 6px 2px; margin-bottom: 10px; min-height: 60px; }
.chart-title { font-size: 12px; color: var(--muted); font-weight: 600; padding: 0 8px; }
.u-legend { font-size: 12px; }
`;
