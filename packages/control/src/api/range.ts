// Heroku's list pagination: `Range: <field> [start]..; max=<n>[, order=desc]` picks a page of a
// list sorted by <field>; a `]` before start skips the item equal to it. A partial page answers 206
// with `Next-Range: ]<last>..; max=<n>` naming the next one.
import { ApiError } from "./api_error";

export const DEFAULT_MAX = 200;
export const MAX_MAX = 1000;

export interface RangeSpec {
    field: string;
    start?: string;
    exclusive: boolean;
    max: number;
    desc: boolean;
}

const RANGE = /^\s*([a-z_]+)\s+(\]?)([^.;]*)\.\.\s*([^;]*?)\s*(?:;\s*(.*))?$/;

/** The range a request asks for; none: the whole list by `fields[0]`, ascending, up to DEFAULT_MAX. */
export function parseRange(header: string | undefined, fields: string[]): RangeSpec {
    if (header === undefined || header.trim() === "") return { field: fields[0], exclusive: false, max: DEFAULT_MAX, desc: false };
    const m = RANGE.exec(header);
    if (!m) throw rangeError(`Range "${header}" is not understood: use e.g. "${fields[0]} ..; max=10"`);
    const [, field, bracket, start, end, options] = m;
    if (!fields.includes(field)) throw rangeError(`Range field "${field}" cannot sort this list: use ${fields.join(" or ")}`);
    if (end !== "") throw rangeError(`Range "${header}" has an end: only "${field} START..; max=N" is supported`);
    let max = DEFAULT_MAX;
    let desc = false;
    for (const opt of (options ?? "").split(",").map((o) => o.trim()).filter(Boolean)) {
        const [k, v] = opt.split("=").map((s) => s.trim());
        if (k === "max") {
            if (!/^\d+$/.test(v ?? "") || Number(v) < 1 || Number(v) > MAX_MAX) throw rangeError(`Range max=${v} is not a number from 1 to ${MAX_MAX}`);
            max = Number(v);
        } else if (k === "order") {
            if (v !== "asc" && v !== "desc") throw rangeError(`Range order=${v} is not asc or desc`);
            desc = v === "desc";
        } else throw rangeError(`Range option "${k}" is not known: use max=N or order=asc|desc`);
    }
    return { field, ...(start.trim() !== "" ? { start: start.trim() } : {}), exclusive: bracket === "]", max, desc };
}

function rangeError(message: string): ApiError {
    return new ApiError("requested_range_not_satisfiable", message);
}

/** Numbers compare as numbers (release versions), the rest as strings. */
function compare(a: string | number, b: string | number): number {
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
}

/** The page of `items` the range asks for, and the Next-Range header when more follow. */
export function paginate<T>(items: T[], range: RangeSpec, key: (item: T, field: string) => string | number): { page: T[]; nextRange?: string } {
    const dir = range.desc ? -1 : 1;
    const sorted = [...items].sort((a, b) => dir * compare(key(a, range.field), key(b, range.field)));
    const typed = (v: string, like: string | number) => (typeof like === "number" && /^\d+$/.test(v) ? Number(v) : v);
    const from =
        range.start === undefined
            ? sorted
            : sorted.filter((item) => {
                  const k = key(item, range.field);
                  const c = dir * compare(k, typed(range.start!, k));
                  return range.exclusive ? c > 0 : c >= 0;
              });
    const page = from.slice(0, range.max);
    if (from.length <= range.max) return { page };
    const last = key(page[page.length - 1], range.field);
    return { page, nextRange: `${range.field} ]${last}..; max=${range.max}${range.desc ? ", order=desc" : ""}` };
}
