// Each app's drains: their configuration, kept in `<dataDir>/drains.json` (mode 0600: drain URLs
// may hold credentials), and the running drain of each.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseDrainAdd, parseDrainUrl, ValidationError, type DrainAddBody, type DrainInfo } from "@dynoform/contract";
import { checkDrain } from "./drain_check";
import type { DrainDestinations } from "./drain_destinations";
import type { Drain, DrainSpec } from "./drain";
import { HttpsDrain } from "./https_drain";
import { SyslogDrain } from "./syslog_drain";

/** Drains one app may have. */
export const MAX_DRAINS_PER_APP = 10;

export class DrainRegistry {
  private readonly drains = new Map<string, Drain[]>();
  private readonly file: string;

  constructor(dataDir: string, private readonly bufferLines: number, private readonly checkTimeoutMs: number, private readonly destinations: DrainDestinations) {
    this.file = join(dataDir, "drains.json");
  }

  load(): void {
    if (!existsSync(this.file)) return;
    const saved = JSON.parse(readFileSync(this.file, "utf8")) as Record<string, DrainSpec[]>;
    for (const [app, specs] of Object.entries(saved)) {
      this.drains.set(app, specs.map((s) => this.start({ ...s, app })));
    }
  }

  list(app: string): DrainInfo[] {
    return (this.drains.get(app) ?? []).map((d) => ({ token: d.spec.token, url: d.spec.url }));
  }

  forApp(app: string): readonly Drain[] {
    return this.drains.get(app) ?? [];
  }

  *all(): Iterable<Drain> {
    for (const list of this.drains.values()) yield* list;
  }

  /** Checks the drain answers, then keeps and starts it. */
  async add(app: string, body: unknown): Promise<DrainInfo> {
    const add: DrainAddBody = parseDrainAdd(app, body);
    const list = this.drains.get(app) ?? [];
    if (list.some((d) => d.spec.url === add.url)) throw new ValidationError("Url has already been added to this app");
    if (list.length >= MAX_DRAINS_PER_APP) throw new ValidationError(`an app may have at most ${MAX_DRAINS_PER_APP} drains: remove one first (drains:remove)`);
    await checkDrain(parseDrainUrl(add.url), add.ca, this.checkTimeoutMs, this.destinations);
    const spec: DrainSpec = { app, token: `d.${randomUUID()}`, url: add.url, ...(add.ca ? { ca: add.ca } : {}) };
    // Checked again: another add of the same URL may have finished while this one was connecting.
    const now = this.drains.get(app) ?? [];
    if (now.some((d) => d.spec.url === add.url)) throw new ValidationError("Url has already been added to this app");
    this.drains.set(app, [...now, this.start(spec)]);
    this.save();
    return { token: spec.token, url: spec.url };
  }

  /** Removes the drain with this URL or token; false when the app has none. */
  remove(app: string, urlOrToken: string): boolean {
    const list = this.drains.get(app) ?? [];
    const gone = list.find((d) => d.spec.url === urlOrToken || d.spec.token === urlOrToken || d.spec.url === normalise(urlOrToken));
    if (!gone) return false;
    gone.stop();
    const rest = list.filter((d) => d !== gone);
    if (rest.length) this.drains.set(app, rest);
    else this.drains.delete(app);
    this.save();
    return true;
  }

  removeApp(app: string): void {
    for (const d of this.drains.get(app) ?? []) d.stop();
    if (this.drains.delete(app)) this.save();
  }

  stopAll(): void {
    for (const d of this.all()) d.stop();
  }

  private start(spec: DrainSpec): Drain {
    return new URL(spec.url).protocol === "https:" ? new HttpsDrain(spec, this.bufferLines, this.destinations) : new SyslogDrain(spec, this.bufferLines, this.destinations);
  }

  private save(): void {
    const out: Record<string, Array<Omit<DrainSpec, "app">>> = {};
    for (const [app, list] of this.drains) out[app] = list.map(({ spec: { token, url, ca } }) => ({ token, url, ...(ca ? { ca } : {}) }));
    const tmp = this.file + ".tmp";
    writeFileSync(tmp, JSON.stringify(out, null, 1), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

function normalise(url: string): string {
  try {
    return new URL(url).toString();
  } catch {
    return url;
  }
}
