// The one way the dashboard writes HTML: the `html` tag escapes every interpolated value unless it
// is itself the output of `html` (SafeHtml), so a hostile app name, config value, domain or log
// line is always text, never markup. Arrays are joined; undefined, null and false render nothing.

export class SafeHtml {
    constructor(readonly text: string) {}
    toString(): string {
        return this.text;
    }
}

/** Text for an element's content or a quoted attribute value. */
export function escapeHtml(value: string): string {
    return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

type Interpolated = SafeHtml | string | number | boolean | null | undefined | Interpolated[];

function render(value: Interpolated): string {
    if (value === undefined || value === null || value === false) return "";
    if (value instanceof SafeHtml) return value.text;
    if (Array.isArray(value)) return value.map(render).join("");
    return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Interpolated[]): SafeHtml {
    let out = strings[0];
    values.forEach((v, i) => (out += render(v) + strings[i + 1]));
    return new SafeHtml(out);
}

/** A path segment or query value in a URL the page links to (then escaped again as an attribute by `html`). */
export function urlPart(value: string): string {
    return encodeURIComponent(value);
}
