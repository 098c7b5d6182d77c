// The app page's charts as inline SVG, drawn on the server: they show without any script, and the
// page's script only fetches them again to keep them current. Colours are SVG attributes, not
// styles, so the page's Content-Security-Policy allows no inline style.
import { html, SafeHtml } from "./html";
import { MetricsPoint, SAMPLE_INTERVAL_MS, STATUS_CLASSES } from "./metrics_history";

interface Line {
    name: string;
    colour: string;
    values: (number | undefined)[];
}

const WIDTH = 480;
const HEIGHT = 140;
const PAD = { left: 48, right: 8, top: 10, bottom: 20 };

const STATUS_COLOURS: Record<string, string> = { "2xx": "#2e7d32", "3xx": "#1565c0", "4xx": "#ef6c00", "5xx": "#c62828" };

function niceMax(v: number): number {
    if (v <= 0) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    return [1, 2, 5, 10].map((m) => m * p).find((m) => m >= v)!;
}

function label(v: number, unit: string): string {
    const text = v >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(v >= 10 ? 1 : 2);
    return `${text}${unit}`;
}

/** Points of one line; a gap (undefined) breaks it in two. */
function paths(values: (number | undefined)[], x: (i: number) => number, y: (v: number) => number): string[] {
    const out: string[] = [];
    let cur: string[] = [];
    values.forEach((v, i) => {
        if (v === undefined) {
            if (cur.length) out.push(cur.join(" "));
            cur = [];
        } else cur.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
    });
    if (cur.length) out.push(cur.join(" "));
    return out;
}

function chart(title: string, unit: string, lines: Line[]): SafeHtml {
    const n = Math.max(...lines.map((l) => l.values.length), 0);
    const max = niceMax(Math.max(0, ...lines.flatMap((l) => l.values.filter((v): v is number => v !== undefined))));
    const plotW = WIDTH - PAD.left - PAD.right;
    const plotH = HEIGHT - PAD.top - PAD.bottom;
    const x = (i: number) => PAD.left + (n <= 1 ? plotW : (plotW * i) / (n - 1));
    const y = (v: number) => PAD.top + plotH - (plotH * v) / max;
    const polylines = lines.flatMap((l) => paths(l.values, x, y).map((pts) => html`<polyline fill="none" stroke="${l.colour}" stroke-width="1.5" points="${pts}"/>`));
    return html`<figure class="chart">
<figcaption>${title} <span class="legend">${lines.map((l) => html`<span class="key"><svg width="10" height="10" aria-hidden="true"><rect width="10" height="10" fill="${l.colour}"/></svg> ${l.name}</span>`)}</span></figcaption>
<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="${title}, last hour">
<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${WIDTH - PAD.right}" y2="${PAD.top + plotH}" stroke="#999"/>
<line x1="${PAD.left}" y1="${PAD.top}" x2="${WIDTH - PAD.right}" y2="${PAD.top}" stroke="#ddd"/>
<text x="${PAD.left - 4}" y="${PAD.top + 4}" text-anchor="end" font-size="10">${label(max, unit)}</text>
<text x="${PAD.left - 4}" y="${PAD.top + plotH}" text-anchor="end" font-size="10">0</text>
<text x="${PAD.left}" y="${HEIGHT - 4}" font-size="10">−1h</text>
<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" text-anchor="end" font-size="10">now</text>
${polylines}
</svg>
</figure>`;
}

/** The three charts of an app (requests/s, answers by status class, latency), or why there are none. */
export function appCharts(points: MetricsPoint[], sampled: boolean): SafeHtml {
    if (!sampled) return html`<p class="muted">No router metrics are configured for this dashboard, so there are no charts.</p>`;
    if (points.length === 0) return html`<p class="muted">No router metrics yet: the charts fill as the routers are sampled (every ${SAMPLE_INTERVAL_MS / 1000} s).</p>`;
    return html`${chart("Requests/s", "/s", [{ name: "requests", colour: "#5e35b1", values: points.map((p) => p.rps) }])}
${chart(
    "Responses by status (per interval)",
    "",
    STATUS_CLASSES.map((c) => ({ name: c, colour: STATUS_COLOURS[c], values: points.map((p) => p.statuses[c]) })),
)}
${chart("Latency", " ms", [
    { name: "p50", colour: "#00838f", values: points.map((p) => p.p50) },
    { name: "p95", colour: "#ad1457", values: points.map((p) => p.p95) },
])}`;
}
