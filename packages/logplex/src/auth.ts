// Who is calling: the control role (its token: everything) or one sender (an agent, a router: its
// own token, only `POST /v1/lines`). The log router keeps only each sender token's SHA-256 (its
// configuration is not a secret); tokens are 256-bit random, so the hash needs no salt. Digests are
// compared in constant time, every one of them, whoever matches. During a rotation
// (runbooks/rotate-secrets.mjs) the control token setting holds the current and the previous
// token, one a line, and one sender name has two digests: either is accepted.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { AcceptedTokens } from "@dynoform/contract";

export interface SenderCredential {
  /** e.g. the sender's host: names its streams, so one sender cannot mark another's lines as stored */
  name: string;
  /** hex SHA-256 of the sender's bearer token */
  tokenSha256: string;
}

export type Caller = { kind: "control" } | { kind: "sender"; name: string };

const SHA256_HEX = /^[0-9a-f]{64}$/;
const SENDER_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

export function parseSenders(raw: unknown): SenderCredential[] {
  const list = typeof raw === "string" ? (raw.trim() ? JSON.parse(raw) : []) : raw;
  const want = 'want [{"name": "<the sender, e.g. its host>", "tokenSha256": "<64 hex>"}, ...]';
  if (!Array.isArray(list)) throw new Error(`config senders: ${want}`);
  return list.map((s, i) => {
    const o = s as Record<string, unknown> | null;
    if (!o || typeof o.name !== "string" || !SENDER_NAME.test(o.name) || typeof o.tokenSha256 !== "string" || !SHA256_HEX.test(o.tokenSha256.toLowerCase())) {
      throw new Error(`config senders[${i}]: ${want}`);
    }
    return { name: o.name, tokenSha256: o.tokenSha256.toLowerCase() };
  });
}

export class Auth {
  private readonly control: AcceptedTokens;
  private readonly senders: Array<{ name: string; digest: Buffer }>;

  /** `controlTokens`: the control role's tokens, one a line (the token file's text). */
  constructor(controlTokens: string, senders: SenderCredential[]) {
    this.control = new AcceptedTokens(controlTokens);
    this.senders = senders.map((s) => ({ name: s.name, digest: Buffer.from(s.tokenSha256, "hex") }));
  }

  caller(req: IncomingMessage): Caller | undefined {
    const h = req.headers.authorization ?? "";
    if (!h.startsWith("Bearer ") || h.length <= 7) return undefined;
    const got = digest(h.slice(7));
    let found: Caller | undefined;
    if (this.control.matchesDigest(got)) found = { kind: "control" };
    for (const s of this.senders) if (timingSafeEqual(got, s.digest) && !found) found = { kind: "sender", name: s.name };
    return found;
  }
}

export const digest = (token: string): Buffer => createHash("sha256").update(token).digest();
