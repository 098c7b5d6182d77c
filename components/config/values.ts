// The shapes of raw `dynoform:*` values, as the stack config and the aws section check them: a
// YAML mapping, and a whole number (`pulumi config set --path` stores numbers as strings).

/** A mapping (`{...}` in the stack file): not null, not a list. */
export function isObject(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `raw` as a whole number from `min` to `max`, a string of digits included; undefined when it is none. */
export function wholeNumber(raw: unknown, min: number, max: number): number | undefined {
    const n = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    return typeof n === "number" && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}
