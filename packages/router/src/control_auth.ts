// Who is calling the control API: the control role (its token: everything) or one dyno host's
// agent (its own registration credential: only its own dynos). Each dyno host has its own
// credential, so root on one dyno host can register dynos only at its own address and only for
// apps the control role placed there (control_api.ts), never set domains or routes. The router
// keeps only each agent credential's SHA-256 (router.json is not a secret); the credentials are
// 256-bit random, so the hash needs no salt or stretching. During a rotation
// (runbooks/rotate-secrets.mjs) the token file holds the control role's current and previous
// tokens, one a line, and `agents` two credentials of one address: either is accepted.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { AcceptedTokens } from "@dynoform/contract";

export interface AgentCredential {
  /** The dyno host's private address: the host part every address it registers must have. */
  address: string;
  /** Hex SHA-256 of the agent's bearer token. */
  tokenSha256: string;
}

export type Caller = { kind: "control" } | { kind: "agent"; host: string };

const SHA256_HEX = /^[0-9a-f]{64}$/;

export function parseAgentCredentials(raw: unknown): AgentCredential[] {
  const list = typeof raw === "string" ? (raw.trim() ? JSON.parse(raw) : []) : raw;
  if (!Array.isArray(list)) throw new Error('config agents: want [{"address": "10.0.0.21", "tokenSha256": "<64 hex>"}, ...]');
  return list.map((a, i) => {
    const o = a as Record<string, unknown> | null;
    if (!o || typeof o.address !== "string" || !o.address || typeof o.tokenSha256 !== "string" || !SHA256_HEX.test(o.tokenSha256.toLowerCase())) {
      throw new Error(`config agents[${i}]: want {"address": "<the dyno host's private address>", "tokenSha256": "<64 hex>"}`);
    }
    return { address: o.address.replace(/^\[|\]$/g, "").toLowerCase(), tokenSha256: o.tokenSha256.toLowerCase() };
  });
}

export class ControlAuth {
  private readonly control: AcceptedTokens;
  private readonly agents: Array<{ host: string; digest: Buffer }>;

  /** `controlTokens`: the control role's tokens, one a line (the token file's text). */
  constructor(controlTokens: string, agents: AgentCredential[]) {
    this.control = new AcceptedTokens(controlTokens);
    this.agents = agents.map((a) => ({ host: a.address, digest: Buffer.from(a.tokenSha256, "hex") }));
  }

  /** The caller a request's bearer token names, or undefined (401). Compares digests in constant time. */
  caller(req: IncomingMessage): Caller | undefined {
    const h = req.headers.authorization ?? "";
    if (!h.startsWith("Bearer ") || h.length <= 7) return undefined;
    const got = createHash("sha256").update(h.slice(7)).digest();
    let found: Caller | undefined;
    if (this.control.matchesDigest(got)) found = { kind: "control" };
    for (const a of this.agents) if (timingSafeEqual(got, a.digest) && !found) found = { kind: "agent", host: a.host };
    return found;
  }
}
