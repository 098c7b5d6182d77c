// A slug as the control role hands it to an agent: where to download it, its checksum, the token
// to download it with, and where its layers lie in it.
import { ValidationError } from "./errors";

/**
 * One layer's gzip member in the slug (the control role caches some subtrees as members of their own,
 * e.g. the vendored Node runtime): bytes [offset, offset+length) with that sha256 unpack to `path`.
 * An agent that unpacked the same bytes before links those files instead of unpacking them again.
 */
export interface SlugLayerRange {
  path: string;
  offset: number;
  length: number;
  sha256: string;
}

export interface SlugRef {
  url: string;
  /** lower-case hex */
  sha256: string;
  /**
   * Sent as `Authorization: Bearer <token>` with the download (the control role's slug server answers
   * 403 without it). Never in status, errors, logs or a dyno.
   */
  token?: string;
  layers?: SlugLayerRange[];
}

/** The parsed slug reference, or a ValidationError naming the field that is wrong. */
export function parseSlugRef(v: unknown): SlugRef {
  const s = v as Record<string, unknown>;
  if (typeof s !== "object" || s === null || typeof s.url !== "string" || typeof s.sha256 !== "string") throw new ValidationError("slug must be {url, sha256}");
  if (!/^[0-9a-fA-F]{64}$/.test(s.sha256)) throw new ValidationError("slug.sha256 must be 64 hex characters");
  // it becomes a header value: no spaces, no line breaks
  if (s.token !== undefined && (typeof s.token !== "string" || !/^[A-Za-z0-9._~+/=-]{1,256}$/.test(s.token))) throw new ValidationError("slug.token must be 1 to 256 URL-safe characters");
  const layers = parseSlugLayers(s.layers);
  return { url: s.url, sha256: s.sha256.toLowerCase(), ...(typeof s.token === "string" ? { token: s.token } : {}), ...(layers ? { layers } : {}) };
}

/**
 * Well-formed layers (in order, not overlapping, relative paths without "..") or undefined. Layers
 * only spare work: a slug whose layers are malformed is unpacked whole, not refused.
 */
export function parseSlugLayers(v: unknown): SlugLayerRange[] | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.length > 16) return undefined;
  const out: SlugLayerRange[] = [];
  let end = 0;
  for (const l of v as Record<string, unknown>[]) {
    if (typeof l !== "object" || l === null) return undefined;
    const { path: p, offset, length, sha256 } = l;
    if (typeof p !== "string" || !/^[A-Za-z0-9._@+-]+(\/[A-Za-z0-9._@+-]+)*$/.test(p) || p.split("/").some((s) => s === "." || s === "..")) return undefined;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < end || (length as number) <= 0) return undefined;
    if (typeof sha256 !== "string" || !/^[0-9a-f]{64}$/.test(sha256)) return undefined;
    out.push({ path: p, offset: offset as number, length: length as number, sha256 });
    end = (offset as number) + (length as number);
  }
  return out;
}

/** A slug as status shows it: everything but the token. */
export function publicSlug(slug: SlugRef): Omit<SlugRef, "token"> {
  const { token: _token, ...rest } = slug;
  return rest;
}
