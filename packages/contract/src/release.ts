// A release travels as its number (3); "v3" is only how people read it (log lines, CLI output).
import { ValidationError } from "./errors";

export function formatRelease(version: number): string {
  return `v${version}`;
}

/**
 * A release number, from the wire or a state file. The text "v3" is read as 3 too: agents' and
 * routers' state files hold releases in that form, and so do requests from a service that is not
 * upgraded yet, so an upgrade keeps every app running.
 */
export function parseRelease(v: unknown, field = "release"): number {
  if (typeof v === "string" && /^v[1-9][0-9]{0,14}$/.test(v)) return Number(v.slice(1));
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 1) return v;
  throw new ValidationError(`${field} must be a release number (an integer from 1), got ${JSON.stringify(v)}`);
}
