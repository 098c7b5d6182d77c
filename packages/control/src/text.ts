// Heroku CLI output building blocks: `=== header`, aligned `key: value` objects, plain tables and
// relative times ("2026/11/21 19:53:46 +0000 (~ 1h ago)").

export function styledHeader(title: string): string {
    return `=== ${title}`;
}

/** `key: value` lines, values aligned one column after the longest `key:`. */
export function styledObject(obj: Record<string, string | string[]>, keys: string[] = Object.keys(obj)): string[] {
    const width = Math.max(0, ...keys.map((k) => k.length + 1));
    const out: string[] = [];
    for (const k of keys) {
        const v = obj[k];
        const values = Array.isArray(v) ? v : [v];
        if (values.length === 0) continue;
        values.forEach((val, i) => out.push(`${i === 0 ? `${k}:`.padEnd(width) : " ".repeat(width)} ${val}`.trimEnd()));
    }
    return out;
}

/** Columns separated by two spaces, padded to the widest cell; the last column is not padded. */
export function table(rows: string[][], header?: string[]): string[] {
    const all = header ? [header, ...rows] : rows;
    if (all.length === 0) return [];
    const cols = Math.max(...all.map((r) => r.length));
    const widths = Array.from({ length: cols }, (_, c) => Math.max(...all.map((r) => (r[c] ?? "").length)));
    const line = (r: string[]) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join("  ").trimEnd();
    const out = all.map(line);
    if (header) out.splice(1, 0, widths.map((w) => "─".repeat(w)).join("  "));
    return out;
}

/** "1h", "5m", "30s", "3d" — the short age Heroku shows for dynos ("up 2h"). */
export function shortAge(from: Date, now: Date): string {
    const s = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
    if (s < 60) return `${s}s`;
    if (s < 3600) return `${Math.floor(s / 60)}m`;
    if (s < 86400) return `${Math.floor(s / 3600)}h`;
    return `${Math.floor(s / 86400)}d`;
}

function pad2(n: number): string {
    return String(n).padStart(2, "0");
}

/** "2026/11/21 19:53:46 +0000" (UTC, as the control host logs). */
export function timestamp(d: Date): string {
    return `${d.getUTCFullYear()}/${pad2(d.getUTCMonth() + 1)}/${pad2(d.getUTCDate())} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
}

/** "2026/11/21 19:53:46 +0000 (~ 1h ago)", Heroku's releases column. */
export function ago(d: Date, now: Date): string {
    return `${timestamp(d)} (~ ${shortAge(d, now)} ago)`;
}

/** "a", "a and b", "a, b and c" */
export function listJoin(items: string[]): string {
    if (items.length <= 1) return items.join("");
    return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]}`;
}
