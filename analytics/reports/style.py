"""The report page's CSS (A4 print first, screen second) and its fixed "Method and how to verify" section.

Kept as Python strings so that every install (editable, wheel, container image) carries them.
"""

from __future__ import annotations

CSS = """
@page { size: A4 landscape; margin: 12mm 11mm 14mm 11mm;
        @bottom-right { content: "page " counter(page) " of " counter(pages); font: 8pt sans-serif; color: #555; }
        @bottom-left { font: 8pt sans-serif; color: #555; } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 9pt; color: #1a1a1a;
       line-height: 1.35; margin: 0 auto; max-width: 1400px; padding: 0 8px; }
h1 { font-size: 17pt; margin: 0 0 6px; color: #1f4e79; }
h2 { font-size: 12.5pt; margin: 16px 0 6px; padding-bottom: 2px; border-bottom: 2px solid #1f4e79; color: #1f4e79;
     break-after: avoid; }
p.lead { margin: 2px 0 6px; color: #333; break-after: avoid; }
p.note, p.empty { color: #555; font-style: italic; margin: 3px 0; }
table { width: 100%; border-collapse: collapse; margin: 4px 0 8px; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
th, td { border: 0.5pt solid #b8b8b8; padding: 2px 4px; text-align: left; vertical-align: top; }
td { overflow-wrap: break-word; }
th { background: #e8eef5; font-weight: bold; hyphens: none; }
td.num, th.num { text-align: right; }
td.num { white-space: nowrap; }
th.num { width: 1%; }
td.text { min-width: 5em; }
td.nowrap { white-space: nowrap; overflow-wrap: normal; }
td.wide { min-width: 11em; }
td.prose { min-width: 22em; }
table.facts th { width: 18%; background: #f2f2f2; }
tbody tr:nth-child(even) td { background: #fafafa; }
.mono { font-family: "DejaVu Sans Mono", "Liberation Mono", monospace; font-size: 8pt; }
.small { font-size: 7pt; }
.ok { color: #1e6b30; font-weight: bold; }
.bad { color: #b00020; font-weight: bold; }
.tiles { display: grid; grid-template-columns: repeat(9, 1fr); gap: 5px; break-inside: avoid; }
.tile { border: 0.75pt solid #1f4e79; border-radius: 3px; padding: 4px 3px; text-align: center; }
.tile .value { font-size: 13pt; font-weight: bold; color: #1f4e79; }
.tile .label { font-size: 7.5pt; color: #333; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 4px 18px; }
.charts svg { display: block; margin: 4px 0 8px; break-inside: avoid; }
.charts svg.full { grid-column: 1 / 3; max-height: 300px; }
section#method li { margin-bottom: 2px; }
@media screen { body { font-size: 10pt; } .mono { font-size: 9pt; } }
"""

METHOD = """
<ul>
<li><b>Rows.</b> <span class="mono">activity.csv</span>, <span class="mono">.jsonl</span> and
<span class="mono">.parquet</span> hold the same rows: every image-level action regaudit derived from the registry's
notifications and the proxy's access log in the period and scope, in time order. <i>source</i> says who saw it:
<i>registry</i> (a notification) or <i>proxy</i> (only nginx saw it: refused requests, failed logins and audit
gaps). <i>activity_id</i> names the stored record (<span class="mono">ev:REGISTRY:EVENT_ID</span> or
<span class="mono">px:LINE</span>).</li>
<li><b>Counting.</b> Each row's <i>counted_as</i> says what it counts as in the totals. A pull is a manifest
download, counted once per client, repository and manifest (<i>counts_as_pull</i>), or one nginx served with no
notification (an audit gap); HEAD checks (<i>check</i>) and blob fetches are not pulls. Pushes, deletes and mounts
are image-level actions the registry notified or nginx served. A request nginx answered with 400 or above is
<i>refused</i>; a failed login is a refused login (401/403 on <span class="mono">/v2/</span> or the token endpoint
for a claimed user). An overwrite is a push that moved an existing tag to another digest. An audit gap is a request
nginx served with no notification from the registry.
Findings count toward the repository and the identity they are about.</li>
<li><b>Tamper evidence.</b> Every ingest batch extends a SHA-256 hash chain over the stored rows of
<span class="mono">registry_events</span>, <span class="mono">access_log</span> and
<span class="mono">dead_letters</span>; the head above fingerprints all of it. Purges of old rows are signed
checkpoints in the same chain.</li>
<li><b>This report's files.</b> <span class="mono">manifest.json</span> lists every file with its SHA-256, size and
row count, the period, the scope, the queries and the chain head; <span class="mono">manifest.sig</span> is its
Ed25519 signature by the key in <span class="mono">signer.pub.pem</span>, which proves nothing by itself: check it
with KEY, the public key the operator gave you outside any report ("Signed by" above must be its fingerprint). Check
everything with <span class="mono">regaudit report verify DIR --public-key KEY</span>, or without
regaudit: <span class="mono">sha256sum -c SHA256SUMS</span> and
<span class="mono">openssl pkeyutl -verify -pubin -inkey KEY -rawin -in manifest.json -sigfile manifest.sig</span>.
</li>
</ul>
"""
