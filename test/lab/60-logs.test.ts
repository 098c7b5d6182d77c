// Logplex on the lab stack (issue 13, "Done when"): an app's one stream at the log router, from its
// dynos (app[web.1]), the edge routers (heroku[router], request_id = the response's X-Request-Id)
// and the control role (app[api]); `logs --tail` within 1 s; a syslog drain (rsyslogd here, its
// RFC 5424 parser filling a template) and an HTTPS drain (Heroku's logplex-1 frames) get the same
// lines; a stopped drain receiver gives L10 lines while the app keeps serving; a restarted log
// router loses nothing the senders held.
//
// The drains' receivers run on this machine, which the lab machines reach at the lab network's
// gateway (the bridge's address): the log router on the control host connects to it. The HTTPS
// drain's certificate is self-signed (openssl, SAN = the gateway's IP): `drains:add URL --ca -`
// gives the log router the PEM on stdin, which it trusts for that drain alone.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as fs from "fs";
import * as https from "https";
import type { AddressInfo } from "net";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import { labNetwork } from "../../components/hosts/lab/config";
import { cli, GitRepo, until } from "../support/apps";
import { edgeAddress, hostWithRole, labStackFile, labStackInfo } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";
import { HttpsReceiver, parseSyslog } from "../../packages/logplex/test/helpers";

jest.setTimeout(15 * 60_000);

const APP = "logtest";
const edge = edgeAddress();
const controlHost = hostWithRole("control").name;
const host = `${APP}.${labStackInfo().domain}`;
const shell = new LabShell();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-logs-"));
const repo = new GitRepo("logs-test");

/** Where the lab machines reach this machine: the lab network's gateway (its bridge). */
function gatewayAddress(): string {
    const doc = yaml.load(fs.readFileSync(labStackFile, "utf8")) as { config: Record<string, { network: string; subnet: string; gateway?: string }> };
    const lab = doc.config["dynoform:lab"];
    return labNetwork({ name: lab.network, subnet: lab.subnet, ...(lab.gateway ? { gateway: lab.gateway } : {}) }).gateway;
}
const gateway = gatewayAddress();

// The app: one line per request (with the router's request id), and /flood?n=N prints N lines.
const SERVER = `const http = require("http");
const dyno = process.env.DYNO;
http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  if (url.pathname === "/flood") {
    const n = Number(url.searchParams.get("n") || 0);
    for (let i = 0; i < n; i++) console.log("flood " + i);
  } else console.log("hit " + req.headers["x-request-id"] + " " + url.pathname);
  res.end("ok\\n");
}).listen(process.env.PORT, () => console.log(dyno + " listening on " + process.env.PORT));
`;

/** rsyslogd on the gateway address: imtcp (RFC 6587 octet counting, RFC 5424 parsed by rsyslog) into a file, field by field. */
class Rsyslog {
    readonly out = path.join(tmp, "rsyslog.out");
    private proc?: ChildProcess;
    constructor(readonly port: number) {}
    start(): void {
        const work = path.join(tmp, "rsyslog-work");
        fs.mkdirSync(work, { recursive: true });
        const conf = path.join(tmp, "rsyslog.conf");
        fs.writeFileSync(
            conf,
            [
                `global(workDirectory="${work}")`,
                `module(load="imtcp")`,
                `template(name="fields" type="string" string="%hostname%\\t%app-name%\\t%procid%\\t%msg%\\n")`,
                `input(type="imtcp" port="${this.port}" address="${gateway}")`,
                `action(type="omfile" file="${this.out}" template="fields")`,
                "",
            ].join("\n"),
        );
        this.proc = spawn("rsyslogd", ["-n", "-f", conf, "-i", path.join(tmp, "rsyslogd.pid")], { stdio: "ignore" });
    }
    async stop(): Promise<void> {
        const p = this.proc;
        if (!p || p.exitCode !== null) return;
        await new Promise<void>((r) => {
            p.once("exit", () => r());
            p.kill("SIGTERM");
        });
    }
    /** Every message rsyslog parsed: [hostname (the app), app-name (source), procid (dyno), msg]. */
    lines(): string[][] {
        return fs.existsSync(this.out) ? fs.readFileSync(this.out, "utf8").split("\n").filter(Boolean).map((l) => l.split("\t")) : [];
    }
}

function freePort(): number {
    return Number(execFileSync("node", ["-e", "const s=require('net').createServer().listen(0,()=>{console.log(s.address().port);s.close()})"], { encoding: "utf8" }).trim());
}

const logs = async (...args: string[]) => {
    const r = await cli(["logs", "-a", APP, ...args]);
    if (r.code !== 0) throw new Error(r.stderr);
    return r.stdout.split("\n").filter(Boolean);
};

let rsyslog: Rsyslog;
let httpsDrain: HttpsReceiver;
let cert: { key: string; cert: string };

beforeAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
    await repo.init();
    await repo.commit("app", () => {
        fs.writeFileSync(path.join(repo.dir, "package.json"), JSON.stringify({ name: APP, version: "1.0.0", private: true, engines: { node: "24.x" } }, null, 2));
        fs.writeFileSync(path.join(repo.dir, "server.js"), SERVER);
        fs.writeFileSync(path.join(repo.dir, "Procfile"), "web: node server.js\n");
    });
    const key = path.join(tmp, "drain.key");
    const crt = path.join(tmp, "drain.crt");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", `/CN=${gateway}`, "-addext", `subjectAltName=IP:${gateway}`], { stdio: "ignore" });
    cert = { key: fs.readFileSync(key, "utf8"), cert: fs.readFileSync(crt, "utf8") };
    httpsDrain = new HttpsReceiver(https.createServer(cert));
    await new Promise<void>((r) => httpsDrain.server.listen(0, gateway, () => r()));
    rsyslog = new Rsyslog(freePort());
    rsyslog.start();
});

afterAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
    await rsyslog?.stop();
    await httpsDrain?.close();
    shell.close();
    repo.remove();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("a deployed app's stream: app[api] lines for the build and release, app[web.1] lines of its dyno, heroku[web.1] events", async () => {
    expect((await cli(["apps:create", APP])).code).toBe(0);
    expect((await cli(["git:remote", "-a", APP], repo.dir)).code).toBe(0);
    const pushed = await repo.push();
    expect(pushed.stderr).toContain("Released v");
    await until("the app answers", async () => (await httpGet(edge, host)).status === 200);
    const lines = await until("the dyno's boot line", async () => {
        const l = await logs("-n", "1500");
        return l.some((x) => / app\[web\.1\]: web\.1 listening on \d+$/.test(x)) && l;
    });
    const body = lines.map((l) => l.replace(/^\S+ /, ""));
    expect(body).toEqual(expect.arrayContaining(["app[api]: Build succeeded", expect.stringMatching(/^app\[api\]: Release v\d+ created by user /), "heroku[web.1]: State changed from starting to up"]));
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[[\w.]+\]: /);
});

test("requests through the edge give heroku[router] lines with the response's X-Request-Id; -s and -d filter", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
        const r = await httpGet(edge, host, `/r${i}`);
        expect(r.status).toBe(200);
        ids.push(String(r.headers["x-request-id"]));
    }
    const routerLines = await until("the router's lines", async () => {
        const l = await logs("-d", "router", "-n", "1500");
        return ids.every((id) => l.some((x) => x.includes(`request_id=${id} `))) && l;
    });
    for (const id of ids) {
        const line = routerLines.find((x) => x.includes(`request_id=${id} `))!;
        expect(line).toMatch(new RegExp(`heroku\\[router\\]: at=info method=GET path="/r\\d" host=${host.replace(/\./g, "\\.")} request_id=${id} fwd="[^"]+" dyno=web\\.1 connect=\\d+ms service=\\d+ms status=200 bytes=\\d+ protocol=http$`));
    }
    expect(await logs("-s", "app", "-n", "1500")).not.toEqual(expect.arrayContaining([expect.stringContaining("heroku[")]));
    // The app's own line of each request names the same id.
    const app = await logs("-s", "app", "-n", "1500");
    for (const id of ids) expect(app.some((x) => x.includes(`app[web.1]: hit ${id} `))).toBe(true);
});

test("logs --tail shows a new line within 1 s", async () => {
    const tail = spawn("node", [path.join(projectRoot, "scripts/dynoform.mjs"), "logs", "--tail", "-a", APP], { env: { ...process.env, DYNOFORM_STACK: labStackInfo().stack } });
    let seen = "";
    tail.stdout.on("data", (d) => (seen += d));
    try {
        await until("the tail's backlog", async () => seen.includes("listening on"), 30_000);
        const r = await httpGet(edge, host, "/tail-probe");
        const answered = Date.now();
        const id = String(r.headers["x-request-id"]);
        await until("the tailed router line", async () => seen.includes(`request_id=${id} `), 10_000);
        expect(Date.now() - answered).toBeLessThan(1000);
    } finally {
        tail.kill();
    }
});

test("a syslog drain (rsyslog) and an HTTPS drain get the same lines, each parsed by its format", async () => {
    const syslogUrl = `syslog://${gateway}:${rsyslog.port}`;
    const httpsUrl = `https://${gateway}:${(httpsDrain.server.address() as AddressInfo).port}/logs`;
    const added = await cli(["drains:add", syslogUrl, "-a", APP]);
    expect(added.stderr).toContain(`Successfully added drain ${syslogUrl}`);
    // Not signed by a public CA: refused without its CA, taken with it.
    expect((await cli(["drains:add", httpsUrl, "-a", APP])).stderr).toMatch(/TLS handshake with .* failed/);
    expect((await cli(["drains:add", httpsUrl, "-a", APP, "--ca", "-"], projectRoot, cert.cert)).stderr).toContain(`Successfully added drain ${httpsUrl}`);
    // A drain into the platform's own network is refused: the data host's PostgreSQL, the control
    // host's loopback, a cloud's metadata address.
    for (const inside of [`syslog://${hostWithRole("data").address}:5432`, "syslog://127.0.0.1:22", "https://169.254.169.254/"]) {
        const refused = await cli(["drains:add", inside, "-a", APP]);
        expect(refused.code).not.toBe(0);
        expect(refused.stderr).toContain("inside the platform's own network");
    }
    const listed = await cli(["drains", "-a", APP]);
    expect(listed.stdout).toContain(syslogUrl);
    expect(listed.stdout).toContain(httpsUrl);

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push(String((await httpGet(edge, host, `/drained${i}`)).headers["x-request-id"]));
    await until("both drains' router lines", async () => ids.every((id) => rsyslog.lines().some((f) => f[3].includes(`request_id=${id} `)) && httpsDrain.messages.some((m) => m.msg.includes(`request_id=${id} `))), 30_000);
    for (const id of ids) {
        const viaSyslog = rsyslog.lines().find((f) => f[3].includes(`request_id=${id} `))!;
        expect(viaSyslog.slice(0, 3)).toEqual([APP, "heroku", "router"]);
        const viaHttps = httpsDrain.messages.find((m) => m.msg.includes(`request_id=${id} `))!;
        expect(viaHttps).toMatchObject({ hostname: "host", appName: "heroku", procId: "router" });
        expect(viaSyslog[3].trim()).toBe(viaHttps.msg);
        // The app's own line too, the same on both.
        expect(rsyslog.lines().some((f) => f[1] === "app" && f[2] === "web.1" && f[3].includes(`hit ${id} `))).toBe(true);
    }
    const frame = httpsDrain.frames[0];
    expect(frame.headers["content-type"]).toBe("application/logplex-1");
    expect(frame.headers["logplex-drain-token"]).toMatch(/^d\.[0-9a-f-]{36}$/);
    expect(Number(frame.headers["logplex-msg-count"])).toBe(frame.messages.length);
    expect(frame.headers["logplex-frame-id"]).toBeTruthy();
    // A real parser reads them too: every HTTPS message is RFC 5424 as rsyslog's was.
    for (const m of httpsDrain.messages.slice(0, 5)) expect(() => parseSyslog(`<${m.pri}>1 ${m.timestamp} ${m.hostname} ${m.appName} ${m.procId} - - ${m.msg}`)).not.toThrow();
});

test("a stopped drain receiver gives Heroku's L10 lines; the app keeps serving, the other drain keeps receiving", async () => {
    await rsyslog.stop();
    const before = httpsDrain.messages.length;
    // More than the drain's buffer (drainBufferLines, 10,000) while its receiver is gone.
    for (let i = 0; i < 3; i++) expect((await httpGet(edge, host, "/flood?n=6000")).status).toBe(200);
    for (let i = 0; i < 10; i++) expect((await httpGet(edge, host, "/")).status).toBe(200);
    rsyslog.start();
    const l10 = await until("an L10 line in the stream", async () => {
        const l = await logs("-s", "heroku", "-n", "1500");
        return l.find((x) => /heroku\[logplex\]: Error L10 \(output buffer overflow\): \d+ messages dropped since \d{4}-\d\d-\d\dT[\d:.]+\+00:00\./.test(x));
    }, 120_000);
    expect(Number(/: (\d+) messages dropped/.exec(l10)![1])).toBeGreaterThan(0);
    // The other drain kept flowing: it has the flood's last line (whatever it could not take, it counted).
    await until("the HTTPS drain's last flood line", async () => httpsDrain.messages.slice(before).some((m) => m.msg === "flood 5999"), 120_000);
    // The syslog drain, back, gets the L10 line itself.
    await until("rsyslog's L10 line", async () => rsyslog.lines().some((f) => f[3].includes("Error L10 (output buffer overflow)")), 120_000);
});

test("restarting the log router loses no line the senders held", async () => {
    const ids: string[] = [];
    let running = true;
    const load = (async () => {
        while (running) {
            const r = await httpGet(edge, host, "/during-restart").catch(() => undefined);
            if (r?.status === 200) ids.push(String(r.headers["x-request-id"]));
            await new Promise((res) => setTimeout(res, 20));
        }
    })();
    await new Promise((r) => setTimeout(r, 1000));
    await shell.on(controlHost, "systemctl restart dynoform-logplex");
    await new Promise((r) => setTimeout(r, 3000));
    running = false;
    await load;
    expect(ids.length).toBeGreaterThan(20);
    expect(ids.length).toBeLessThan(600); // router and app lines of them all fit in the 1,500 kept
    const missing = await until("every request's router and app line after the restart", async () => {
        const l = await logs("-n", "1500");
        const gone = ids.filter((id) => !l.some((x) => x.includes(`heroku[router]: `) && x.includes(`request_id=${id} `)) || !l.some((x) => x.includes(`app[web.1]: hit ${id} `)));
        return gone.length === 0 ? [] : false;
    }, 60_000);
    expect(missing).toEqual([]);
    expect((await httpGet(edge, host)).status).toBe(200);
});
