// The dashboard in a real browser: Debian's headless Chromium driven by puppeteer-core, against
// the dashboard's handler started in this process on loopback over a temp state dir and a fake
// fleet (no lab machines). It signs in, opens an app, scales it, sets and reveals a config var,
// rolls back a release and sees a live log line appear; the app page and the platform page are
// written as screenshots to .artifacts/dashboard/.
//
//   npx jest --selectProjects browser          (CHROMIUM_PATH overrides /usr/bin/chromium)
import * as fs from "node:fs";
import * as path from "node:path";
import puppeteer, { Browser, Page } from "puppeteer-core";
import type { LogsOptions } from "../../packages/control/src/fleet";
import { MetricsHistory } from "../../packages/control/src/dashboard/metrics_history";
import { parseRouterMetrics } from "../../packages/control/src/dashboard/router_metrics";
import { httpServiceProbes } from "../../packages/control/src/dashboard/service_probes";
import { deployed, DashboardServer, startDashboard } from "../../packages/control/test/helpers/dashboard_server";

// The functions given to waitForFunction run in the page; the project's TypeScript has no DOM
// library, so the little of it they use is declared here.
declare const document: { getElementById(id: string): { textContent: string | null } | null };

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = path.join(__dirname, "../../.artifacts/dashboard");

jest.setTimeout(120_000);

/** An hour of router counters for myapp: mostly 200s, a few 404s and 503s, latency drifting. */
async function sampledHistory(): Promise<MetricsHistory> {
    let t = Date.now() - 3600_000;
    let n = 0;
    let i = 0;
    const source = {
        scrape: async () => {
            i++;
            n += 150 + Math.round(100 * Math.sin(i / 6));
            const slow = Math.round(n * (0.1 + 0.05 * Math.sin(i / 9)));
            return {
                "http://10.213.1.10:8081": parseRouterMetrics(
                    [
                        `dynoform_router_requests_total{app="myapp",code="",status="200"} ${n}`,
                        `dynoform_router_requests_total{app="myapp",code="",status="404"} ${Math.floor(n / 40)}`,
                        `dynoform_router_requests_total{app="myapp",code="H12",status="503"} ${Math.floor(n / 200)}`,
                        `dynoform_router_request_duration_seconds_bucket{app="myapp",le="0.01"} ${n - slow * 3}`,
                        `dynoform_router_request_duration_seconds_bucket{app="myapp",le="0.05"} ${n - slow}`,
                        `dynoform_router_request_duration_seconds_bucket{app="myapp",le="0.25"} ${n}`,
                        `dynoform_router_request_duration_seconds_bucket{app="myapp",le="+Inf"} ${n}`,
                        `dynoform_router_dyno_inflight{app="myapp",dyno="web.1"} 3`,
                    ].join("\n"),
                ),
            };
        },
    };
    const history = new MetricsHistory(source, () => new Date((t += 15_000)));
    for (let k = 0; k < 240; k++) await history.sample();
    return history;
}

/** The fake fleet's logs, but a tail stays open and gets each line `emit` sends, as the log router's does. */
function tailingLogs(d: DashboardServer): (line: string) => void {
    const tails = new Set<(line: string) => void>();
    d.h.fleet.logs = async (_app: string, opts: LogsOptions, out: (l: string) => void | Promise<void>) => {
        for (const l of d.h.fleet.logLines) await out(l);
        if (!opts.tail) return;
        await new Promise<void>((resolve) => {
            const take = (l: string) => {
                Promise.resolve()
                    .then(() => out(l))
                    .catch(() => {
                        tails.delete(take); // the browser left
                        resolve();
                    });
            };
            tails.add(take);
        });
    };
    return (line) => tails.forEach((t) => t(line));
}

async function submit(page: Page, selector: string): Promise<void> {
    try {
        await Promise.all([page.waitForNavigation({ waitUntil: "domcontentloaded", timeout: 15_000 }), page.click(selector)]);
    } catch (err) {
        throw new Error(`${(err as Error).message} after clicking ${selector} on ${page.url()}: ${(await page.content()).slice(0, 3000)}`);
    }
}

async function flash(page: Page): Promise<string> {
    return page.$eval(".flash", (e) => e.textContent ?? "");
}

let d: DashboardServer;
let browser: Browser;

beforeAll(async () => {
    if (!fs.existsSync(CHROMIUM)) throw new Error(`No Chromium at ${CHROMIUM}: install Debian's (apt-get install chromium) or set CHROMIUM_PATH`);
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    d = await startDashboard({
        metrics: await sampledHistory(),
        // The log router answers (the dashboard's own /health stands in for it); an agent does not.
        services: () => httpServiceProbes([{ name: "dynoform-logplex", url: `${d.url}/health` }, { name: "dynoform-agent", url: "http://127.0.0.1:9/health" }])(),
    });
    await d.h.cli("apps:create", "myapp");
    d.accounts.grant("myapp", "alice", "own");
    await deployed(d.h, "myapp", { web: "node server.js", worker: "node worker.js" });
    await d.h.cli("config:set", "FEATURE_X=on", "-a", "myapp"); // v2: something to roll back from
    // Root runs the tests on the lab machines: Chromium's sandbox needs an unprivileged user.
    browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
});

afterAll(async () => {
    await browser?.close();
    await d?.close();
});

test("sign in, open an app, scale it, set a config var, roll back, see a live log line; screenshots", async () => {
    const emit = tailingLogs(d);
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    page.on("dialog", (dialog) => void dialog.accept());
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
    });

    await page.goto(`${d.url}/apps/myapp`);
    expect(new URL(page.url()).pathname).toBe("/sign-in");
    await page.type("#token", "token-a");
    await submit(page, "button[type=submit]");
    expect(new URL(page.url()).pathname).toBe("/apps");

    await submit(page, 'a[href="/apps/myapp"]');
    expect(await page.$eval("h1", (e) => e.textContent)).toBe("⬢ myapp");

    // Scale web to 2.
    await page.$eval('input[name="quantity.web"]', (e) => void ((e as unknown as { value: string }).value = ""));
    await page.type('input[name="quantity.web"]', "2");
    await submit(page, "#scale button");
    expect(await flash(page)).toContain("Scaling dynos... done, now running web at 2:standard-1x");
    expect((await d.h.store.getFormation("myapp")).web.quantity).toBe(2);
    expect(await page.$$eval("#dynos tr.dyno", (rows) => rows.length)).toBe(2);

    // Set a config var, then reveal it in place.
    await page.type("#config-key", "GREETING");
    await page.type("#config-value", "hello <b>world</b>");
    await submit(page, "#config-set button");
    expect(await flash(page)).toContain("Setting GREETING and restarting ⬢ myapp... done, v3");
    const row = await page.$$eval("#config tr.config-var", (rows) => rows.findIndex((r) => r.firstElementChild?.textContent === "GREETING"));
    expect(await page.$eval(`#config-value-${row}`, (e) => e.textContent)).toBe("••••••••");
    await page.click(`a[data-target="config-value-${row}"]`);
    await page.waitForFunction((id: string) => document.getElementById(id)?.textContent === "hello <b>world</b>", {}, `config-value-${row}`);

    // Roll back to v1 (the page asks first; the dialog is accepted).
    await submit(page, '#releases form input[value="v1"] ~ button');
    expect(await flash(page)).toContain("Rolling back ⬢ myapp to v1... done, v4");
    expect((await d.h.store.currentRelease("myapp"))!.description).toBe("Rollback to v1");

    // The live log view: the recent line, then one sent now.
    await page.waitForFunction(() => document.getElementById("log-status")?.textContent === "live");
    await page.waitForFunction(() => (document.getElementById("log-lines")?.textContent ?? "").includes("listening on 5000"));
    emit("2026-11-21T19:55:00+00:00 app[web.2]: hello from the browser test");
    await page.waitForFunction(() => (document.getElementById("log-lines")?.textContent ?? "").includes("hello from the browser test"), { timeout: 10_000 });

    await page.waitForSelector("#charts polyline");
    await page.screenshot({ path: path.join(ARTIFACTS, "app.png"), fullPage: true });
    expect(errors).toEqual([]);
    expect(d.accounts.audits.map((a) => `${a.user} ${a.action} ${a.detail}`)).toEqual(["alice scale web=2 worker=0", "alice config:set Set GREETING", "alice rollback Rollback to v1"]);
    await page.close();
});

test("an administrator sees the platform page; screenshot", async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1200, height: 800 });
    await page.goto(`${d.url}/sign-in`);
    await page.type("#token", "token-root");
    await submit(page, "button[type=submit]");
    await submit(page, 'a[href="/platform"]');
    expect(await page.$$eval("#hosts tr.host", (rows) => rows.map((r) => r.firstElementChild?.textContent))).toEqual(["dyno1", "dyno2"]);
    expect(await page.$eval("#load", (e) => e.textContent)).toContain("myapp");
    expect(await page.$$eval("#services tr.service", (rows) => rows.map((r) => [r.children[0].textContent, r.children[2].textContent?.split(" ")[0]]))).toEqual([
        ["dynoform-logplex", "up"],
        ["dynoform-agent", "down"],
        ["dynoform-router (metrics)", "up"],
    ]);
    await page.screenshot({ path: path.join(ARTIFACTS, "platform.png"), fullPage: true });
    await context.close();
});
