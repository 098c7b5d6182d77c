import * as crypto from "crypto";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import * as yaml from "js-yaml";
import * as tar from "tar";
import { edgeAddress, hostWithRole, labStackFile, labStackInfo, LAB_STACK } from "../support/lab_stack";
import { httpGet, LabShell } from "../support/lab_hosts";
import { stackOutput } from "../support/pulumi";

// dynoform-agent on a real Debian dyno host booting systemd (global-setup ran `pulumi up`): dynos
// are transient units under per-app users, registered with the edge's real router and served
// through nginx → varnish → router. Slugs are tiny Perl apps (perl-base is on minbase hosts),
// served to the agent from this machine over the lab bridge.
jest.setTimeout(4 * 60_000);

const info = labStackInfo();
const dynoHost = hostWithRole("dyno");
const shell = new LabShell();
const STATE = "/var/lib/dynoform-agent";

let agentUrl = "";
let agentToken = "";
let routerUrl = "";
/** Every edge's router (the first is routerUrl): placements go to all, as the control role sends them. */
let routerUrls: string[] = [];
let routerToken = "";
let server: http.Server | undefined;
let slugBase = "";
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-agent-lab-"));
const slugs: Record<string, { url: string; sha256: string }> = {};
const appsMade = new Set<string>();

// A Heroku-style slug: app/ with a Perl web server, a .profile.d script and a per-slug marker.
const WEB_PL = String.raw`
use strict; use warnings; use IO::Socket::INET;
$| = 1;
my $mode = shift // "";
if ($mode eq "ignore-term") { $SIG{TERM} = sub { print "ignoring SIGTERM\n" } }
else { $SIG{TERM} = sub { print "got SIGTERM, exiting\n"; exit 0 } }
my $s = IO::Socket::INET->new(LocalAddr => "0.0.0.0", LocalPort => $ENV{PORT}, Listen => 64, ReuseAddr => 1) or die "listen on $ENV{PORT}: $!";
print "listening on $ENV{PORT} as " . scalar(getpwuid($<)) . "\n";
while (1) {
  my $c = $s->accept or next;
  my $req = "";
  while (my $l = <$c>) { $req .= $l; last if $l =~ /^\r?\n$/; }
  my ($p) = $req =~ m{^\w+ (\S+)};
  $p //= "/";
  my $extra = "";
  my $body = $p eq "/env" ? join("", map { "$_=$ENV{$_}\n" } sort keys %ENV) : "hello from $ENV{DYNO} of slug $ENV{SLUG_MARK} as " . scalar(getpwuid($<)) . "\n";
  if ($p eq "/headers") { $body = $req; }
  if ($p =~ m{^/cached}) { $body = "cached at " . time() . " " . rand() . "\n"; $extra = "Cache-Control: public, max-age=60\r\n"; }
  print $c "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" . $extra . "Content-Length: " . length($body) . "\r\nConnection: close\r\n\r\n$body";
  close $c;
}
`;

async function makeSlug(name: string, files: Record<string, string>): Promise<void> {
    const root = path.join(tmp, name);
    for (const [f, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, "app", f)), { recursive: true });
        fs.writeFileSync(path.join(root, "app", f), content);
    }
    const file = path.join(tmp, `${name}.tgz`);
    await tar.c({ gzip: true, file, cwd: root, portable: true }, ["app"]);
    const sha256 = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
    slugs[name] = { url: `${slugBase}/${name}.tgz`, sha256 };
}

function gateway(): string {
    const doc = yaml.load(fs.readFileSync(labStackFile, "utf8")) as { config: Record<string, { subnet: string }> };
    return doc.config["dynoform:lab"].subnet.replace(/\.0\/\d+$/, ".1");
}

interface Answer {
    status: number;
    body: any;  
    text: string;
}

async function call(base: string, token: string, method: string, p: string, body?: unknown): Promise<Answer> {
    const res = await fetch(base + p, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
    });
    const text = await res.text();
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { status: res.status, body: json, text };
}
const agent = (method: string, p: string, body?: unknown) => call(agentUrl, agentToken, method, p, body);
const router = (method: string, p: string) => call(routerUrl, routerToken, method, p);

async function putApp(app: string, desired: Record<string, unknown>, wait = true): Promise<Answer> {
    appsMade.add(app);
    // What the control role does before a rollout: the routers accept this host's registrations
    // only for apps placed on it. Every router: Varnish balances over all of them.
    for (const url of routerUrls) expect((await call(url, routerToken, "PUT", `/v1/apps/${app}/placement`, { hosts: [dynoHost.address] })).status).toBe(200);
    return agent("PUT", `/v1/apps/${app}${wait ? "?wait=up&timeoutMs=30000" : ""}`, desired);
}

async function dyno(app: string, name: string): Promise<any> {
    const st = await agent("GET", `/v1/apps/${app}`);
    return st.body.dynos.find((d: { name: string }) => d.name === name);
}

async function waitFor<T>(what: string, f: () => Promise<T | undefined | null | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
        try {
            const v = await f();
            if (v) return v;
            last = v;
        } catch (e) {
            last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
        await new Promise((r) => setTimeout(r, everyMs));
    }
}

async function logs(app: string, query = ""): Promise<string> {
    return (await agent("GET", `/v1/apps/${app}/logs?lines=1500${query}`)).text;
}

/** One-off dyno (`heroku run`): its output and exit status from the agent's ndjson stream. */
async function runOneOff(app: string, command: string): Promise<{ exit: number; stdout: string; stderr: string }> {
    const r = await agent("POST", `/v1/apps/${app}/run`, { command, timeoutMs: 30_000 });
    expect(r.status).toBe(200);
    const out = { exit: -1, stdout: "", stderr: "" };
    for (const line of r.text.split("\n").filter(Boolean)) {
        const m = JSON.parse(line) as { stream?: "stdout" | "stderr"; data?: string; exit?: number };
        if (m.stream) out[m.stream] += m.data;
        if (m.exit !== undefined) out.exit = m.exit;
    }
    return out;
}

const unitProps = async (unit: string, props: string) => {
    const out = await shell.on(dynoHost.name, `systemctl show -p ${props} ${unit}.service`);
    return Object.fromEntries(out.split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
};
const onHost = (cmd: string) => shell.exec(dynoHost.name, cmd);
const viaEdge = (app: string, p = "/") => httpGet(edgeAddress(), `${app}.${info.domain}`, p);

const WEB = { web: "perl web.pl" };
const SECRET = 'pa$$ "quoted" \\ `tick`\nsecond line';

beforeAll(async () => {
    // The agent's and the router's APIs answer the private subnet only: reached through SSH.
    const agentAt = (await stackOutput<string[]>(LAB_STACK, "agentUrls"))[0];
    agentToken = (await stackOutput<Record<string, string>>(LAB_STACK, "agentTokens"))[agentAt];
    agentUrl = await shell.forwardUrl(agentAt);
    routerUrls = await Promise.all((await stackOutput<string[]>(LAB_STACK, "routerControlUrls")).map((u) => shell.forwardUrl(u)));
    routerUrl = routerUrls[0];
    routerToken = await stackOutput<string>(LAB_STACK, "routerToken");
    server = http.createServer((req, res) => {
        const f = path.join(tmp, path.basename(req.url ?? ""));
        if (!f.endsWith(".tgz") || !fs.existsSync(f)) return void res.writeHead(404).end();
        res.writeHead(200, { "content-type": "application/gzip" });
        fs.createReadStream(f).pipe(res);
    });
    const gw = gateway();
    await new Promise<void>((resolve) => server!.listen(0, gw, resolve));
    slugBase = `http://${gw}:${(server.address() as { port: number }).port}`;
    await makeSlug("v1", { "web.pl": WEB_PL, ".profile.d/mark.sh": "export SLUG_MARK=v1\n" });
    await makeSlug("v2", { "web.pl": WEB_PL, ".profile.d/mark.sh": "export SLUG_MARK=v2\n" });
    await makeSlug("other", { "web.pl": WEB_PL, ".profile.d/mark.sh": "export SLUG_MARK=other\n", "private.txt": "other app's private file\n" });
});

afterAll(async () => {
    for (const app of appsMade) await agent("DELETE", `/v1/apps/${app}`).catch(() => undefined);
    shell.close();
    await new Promise((r) => server?.close(r));
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("a web dyno runs as a transient systemd unit under its app's user, with its env, registered and served through the edge", async () => {
    const started = Date.now();
    const put = await putApp("alab", { release: 1, slug: slugs.v1, env: { GREETING: "hello", SECRET_KEY: SECRET }, processTypes: WEB, dynos: ["web.1"] });
    expect(put.status).toBe(200);
    const scaleToUpMs = Date.now() - started;
    const web = await dyno("alab", "web.1");
    expect(web).toMatchObject({ state: "up", registered: true, address: `${dynoHost.address}:${web.port}` });
    console.log(`alab web.1 up ${scaleToUpMs} ms after PUT (slug download included)`);

    const unit = await unitProps(web.unit, "ActiveState,SubState,Slice,KillMode,MainPID,Environment,EnvironmentFiles,WorkingDirectory");
    expect(unit).toMatchObject({ ActiveState: "active", SubState: "running", Slice: "dynoform.slice", KillMode: "control-group" });
    expect(Number(unit.MainPID)).toBe(web.pid);
    // config vars are not unit properties (readable by any local user over D-Bus) nor systemd-run argv
    expect(unit.Environment).not.toContain("SECRET_KEY");
    expect(unit.EnvironmentFiles).toMatch(/^\/var\/lib\/dynoform-agent\/env\/dyno-alab-web\.1-\w+\.service\.env \(ignore_errors=no\)$/);
    expect((await onHost(`ps -o user= -p ${web.pid}`)).stdout.trim()).toBe("dyno-alab");
    expect((await onHost("id -u dyno-alab")).stdout.trim()).toMatch(/^\d+$/);

    const env = await viaEdge("alab", "/env");
    expect(env.status).toBe(200);
    const vars = Object.fromEntries(env.body.split(/\n(?=[A-Z_]+=)/).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).replace(/\n$/, "")]));
    expect(vars).toMatchObject({ PORT: String(web.port), DYNO: "web.1", GREETING: "hello", SECRET_KEY: SECRET, SLUG_MARK: "v1", HOME: unit.WorkingDirectory });
    const hello = await viaEdge("alab");
    expect(hello.body).toBe("hello from web.1 of slug v1 as dyno-alab\n");
    expect(hello.headers["via"]).toMatch(/varnish/i);

    const routed = await router("GET", "/v1/apps/alab");
    expect(routed.body.dynos).toEqual([expect.objectContaining({ dyno: "web.1", address: web.address, release: 1 })]);
});

test("a dyno host's credential cannot register an address of another host or an app not placed there, nor drive another agent", async () => {
    const other = info.hosts.find((h) => h.roles.includes("dyno") && h.name !== dynoHost.name)!;
    // What root on this dyno host has: its registration credential and its agent's token.
    const credential = await shell.on(dynoHost.name, "cat /etc/dynoform/registration.token");
    const ownAgentToken = await shell.on(dynoHost.name, "cat /etc/dynoform/agent.token");
    const register = (app: string, address: string) => call(routerUrl, credential, "PUT", `/v1/apps/${app}/dynos/web.9`, { address });
    const otherHost = await register("alab", `${other.address}:5000`);
    expect([otherHost.status, otherHost.body.error]).toEqual([403, `address ${other.address}:5000 is not on this dyno host (${dynoHost.address})`]);
    const unplaced = await register("zlab", `${dynoHost.address}:5000`);
    expect([unplaced.status, unplaced.body.error]).toEqual([403, `app zlab is not placed on dyno host ${dynoHost.address}`]);
    expect((await call(routerUrl, credential, "PUT", "/v1/apps/alab", { domains: ["www.example.com"] })).status).toBe(403);
    expect((await router("GET", "/v1/apps/alab")).body.dynos.map((d: { dyno: string }) => d.dyno)).not.toContain("web.9");
    const otherAgent = await shell.forwardUrl((await stackOutput<string[]>(LAB_STACK, "agentUrls")).find((u) => new URL(u).hostname === other.address)!);
    expect((await call(otherAgent, ownAgentToken, "GET", "/v1/apps")).status).toBe(401);
});

test("the dyno sees Heroku's request headers from the edge; varnish caches only what the app marks cacheable", async () => {
    const before = Date.now();
    const seen = await viaEdge("alab", "/headers");
    const headers = Object.fromEntries(
        seen.body.split(/\r?\n/).slice(1).filter((l) => l.includes(":")).map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]),
    );
    expect(Number(headers["x-request-start"])).toBeGreaterThanOrEqual(before - 5_000);
    expect(Number(headers["x-request-start"])).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(headers["x-forwarded-proto"]).toBe("http");
    expect(headers["x-forwarded-port"]).toBe("80");
    expect(headers["x-forwarded-for"]).toMatch(/^\d+\.\d+\.\d+\.\d+/);
    expect(headers["x-request-id"]).toBe(seen.headers["x-request-id"]);
    expect(headers["via"]).toMatch(/dynoform/);
    expect(headers["connection"] ?? "").not.toMatch(/upgrade/i);

    const first = await viaEdge("alab", "/cached-1");
    const second = await viaEdge("alab", "/cached-1");
    expect(second.body).toBe(first.body); // served from varnish
    expect(String(second.headers["x-varnish"]).split(" ")).toHaveLength(2);
    const withCookie = await httpGet(edgeAddress(), `alab.${info.domain}`, "/cached-1", { Cookie: "session=1" });
    expect(withCookie.body).not.toBe(first.body); // a request with a cookie passes to the app
    const plain1 = await viaEdge("alab");
    const plain2 = await viaEdge("alab");
    expect(String(plain2.headers["x-varnish"]).split(" ")).toHaveLength(1); // no Cache-Control: never cached
    expect(plain1.status).toBe(200);
});

test("scale up and down: units and router registrations follow the desired dynos", async () => {
    expect((await putApp("alab", { release: 1, slug: slugs.v1, env: { GREETING: "hello", SECRET_KEY: SECRET }, processTypes: WEB, formation: { web: 2 } })).status).toBe(200);
    const web2 = await dyno("alab", "web.2");
    expect(web2.state).toBe("up");
    expect((await unitProps(web2.unit, "ActiveState")).ActiveState).toBe("active");
    const names = (await router("GET", "/v1/apps/alab")).body.dynos.map((d: { dyno: string }) => d.dyno).sort();
    expect(names).toEqual(["web.1", "web.2"]);
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < 2; i++) seen.add((await viaEdge("alab")).body.split(" ")[2]);
    expect([...seen].sort()).toEqual(["web.1", "web.2"]);

    expect((await putApp("alab", { release: 1, slug: slugs.v1, env: { GREETING: "hello", SECRET_KEY: SECRET }, processTypes: WEB, formation: { web: 1 } })).status).toBe(200);
    const st = await agent("GET", "/v1/apps/alab");
    expect(st.body.dynos.map((d: { name: string }) => d.name)).toEqual(["web.1"]);
    expect(st.body.retiring).toEqual([]);
    expect((await router("GET", "/v1/apps/alab")).body.dynos.map((d: { dyno: string }) => d.dyno)).toEqual(["web.1"]);
    expect((await unitProps(web2.unit, "LoadState")).LoadState).toBe("not-found");
    expect((await onHost(`kill -0 ${web2.pid}`)).code).not.toBe(0);
    expect((await viaEdge("alab")).body).toBe("hello from web.1 of slug v1 as dyno-alab\n");
});

test("dynos cannot read the host's tokens, the agent's state or other apps' slugs; one-offs stream output and exit status", async () => {
    // another app with its own slug on the same host
    expect((await putApp("blab", { release: 1, slug: slugs.other, env: { B_SECRET: "b-only" }, processTypes: { worker: "sleep 600" }, dynos: ["worker.1"] })).status).toBe(200);
    const files = [`/etc/dynoform/agent.token`, `/etc/dynoform/registration.token`, `${STATE}/state.json`, `${STATE}/slugs/${slugs.other.sha256}/app/private.txt`];
    const r = await runOneOff("alab", `id -un; for f in ${files.join(" ")}; do cat "$f" >/dev/null 2>&1 && echo "READ $f"; done; ls ${STATE}/slugs 2>&1 | grep -c ${slugs.other.sha256}; echo to-stderr >&2; exit 7`);
    expect(r.exit).toBe(7);
    expect(r.stderr).toBe("to-stderr\n");
    expect(r.stdout).toBe("dyno-alab\n0\n");
    // the other app's config var is not in its unit's properties either
    const bWorker = await dyno("blab", "worker.1");
    expect((await unitProps(bWorker.unit, "Environment")).Environment).not.toContain("B_SECRET");
    expect((await onHost(`ps -o user= -p ${bWorker.pid}`)).stdout.trim()).toBe("dyno-blab");
    expect((await agent("DELETE", "/v1/apps/blab")).status).toBe(200);
    expect((await unitProps(bWorker.unit, "LoadState")).LoadState).toBe("not-found");
});

test("dynos run in a thin sandbox with their size's limits: no /home, no block devices, only their app's processes, private /tmp, /dev/shm, IPC and hostname", async () => {
    const web = await dyno("alab", "web.1");
    // what systemd made of the properties (standard-1x: Heroku's 256 processes/threads, one core's share and ceiling)
    const unit = await unitProps(web.unit, "TasksMax,CPUWeight,CPUQuotaPerSecUSec,ProtectSystem,ProtectHome,PrivateDevices,PrivateIPC,ProtectProc,UMask,CapabilityBoundingSet");
    expect(unit).toMatchObject({ TasksMax: "256", CPUWeight: "100", CPUQuotaPerSecUSec: "1s", ProtectSystem: "strict", ProtectHome: "yes", PrivateDevices: "yes", PrivateIPC: "yes", ProtectProc: "invisible", UMask: "0077", CapabilityBoundingSet: "" });
    // what a one-off dyno sees (the same sandbox); a file in the host's /dev/shm must not show
    await onHost("touch /dev/shm/dynoform-lab-probe");
    const probe = [
        'echo "umask=$(umask)"',
        "echo \"capbnd=$(awk '/^CapBnd/ {print $2}' /proc/self/status)\"",
        'echo "home=$(ls -A /home 2>/dev/null | wc -l)"',
        'echo "block=$(find /dev -type b 2>/dev/null | wc -l)"',
        'echo "pid1=$([ -e /proc/1 ] && echo visible || echo hidden)"',
        "echo \"owners=$(stat -c %U /proc/[0-9]* 2>/dev/null | sort -u | tr '\\n' ' ')\"",
        'echo "shm=$(ls -A /dev/shm | wc -l)"',
        'echo "shm-write=$(echo x > /dev/shm/p && cat /dev/shm/p)"',
        'echo "tmp-write=$(echo x > /tmp/p && cat /tmp/p)"',
        'echo "run-lock-write=$( (echo x > /run/lock/dynoform-lab-probe) 2>/dev/null && echo yes || echo no)"',
        'echo "ipc=$(readlink /proc/self/ns/ipc)"',
        'echo "uts=$(readlink /proc/self/ns/uts)"',
    ].join("; ");
    const r = await runOneOff("alab", probe);
    await onHost("rm -f /dev/shm/dynoform-lab-probe /run/lock/dynoform-lab-probe");
    expect(r.exit).toBe(0);
    const seen = Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]));
    expect(seen).toEqual({
        umask: "0077",
        capbnd: "0000000000000000",
        home: "0",
        block: "0",
        pid1: "hidden",
        owners: "dyno-alab",
        shm: "0",
        "shm-write": "x",
        "tmp-write": "x",
        "run-lock-write": "no",
        ipc: expect.stringMatching(/^ipc:\[\d+\]$/),
        uts: expect.stringMatching(/^uts:\[\d+\]$/),
    });
    // its own IPC (PrivateIPC) and UTS (ProtectHostname) namespaces: systemd skips both silently where it cannot make them
    expect(seen.ipc).not.toBe((await onHost("readlink /proc/1/ns/ipc")).stdout.trim());
    expect(seen.uts).not.toBe((await onHost("readlink /proc/1/ns/uts")).stdout.trim());
});

test("a crashing dyno restarts at once, then waits with backoff visible in status", async () => {
    const desired = { release: 1, slug: slugs.v1, env: { GREETING: "hello", SECRET_KEY: SECRET }, processTypes: { ...WEB, crash: "echo crashing; exit 3" }, dynos: ["web.1", "crash.1"] };
    expect((await putApp("alab", desired, false)).status).toBe(200);
    const crashed = await waitFor("crash.1 to back off", async () => {
        const d = await dyno("alab", "crash.1");
        return d?.state === "crashed" && d.crashes >= 2 ? d : undefined;
    });
    expect(crashed.restarts).toBeGreaterThanOrEqual(1);
    expect(crashed.lastExit).toMatchObject({ status: 3, reason: "crash" });
    const wait = Date.parse(crashed.nextRestartAt) - Date.now();
    expect(wait).toBeGreaterThan(10_000); // restartBaseMs 20 s for the 2nd crash
    expect(wait).toBeLessThanOrEqual(20_000);
    const text = await logs("alab", "&dyno=crash.1");
    expect(text).toMatch(/app\[crash\.1\]: crashing/);
    expect(text).toMatch(/heroku\[crash\.1\]: Process exited with status 3/);
    expect(text).toMatch(/heroku\[crash\.1\]: State changed from up to crashed/);
    const { web, ...rest } = desired.processTypes;
    expect(rest).toBeDefined();
    expect((await putApp("alab", { ...desired, processTypes: { web }, dynos: ["web.1"] })).status).toBe(200);
    expect((await onHost("systemctl list-units --all --no-legend 'dyno-alab-crash*'")).stdout.trim()).toBe("");
});

/** The dyno's status once its last exit carries the error code `reason` (R10, R15...). */
const exitedWith = (app: string, name: string, reason: string, timeoutMs: number) =>
    waitFor(reason, async () => {
        const x = await dyno(app, name);
        return x?.lastExit?.reason === reason ? x : undefined;
    }, timeoutMs);

test("a web dyno that does not bind $PORT in time is killed (R10) and crashed", async () => {
    const put = await putApp("clab", { release: 1, slug: slugs.v1, processTypes: { web: "echo not listening; sleep 600" }, dynos: ["web.1"], bootTimeoutMs: 2000 }, false);
    expect(put.status).toBe(200);
    const d = await exitedWith("clab", "web.1", "R10", 20_000);
    expect(d.lastExit.status).toBe(137);
    const text = await logs("clab");
    expect(text).toContain("heroku[web.1]: Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 2 seconds of launch");
    expect(text).toContain("app[web.1]: not listening");
    expect((await agent("DELETE", "/v1/apps/clab")).status).toBe(200);
    expect((await onHost("systemctl list-units --all --no-legend 'dyno-clab-*'")).stdout.trim()).toBe("");
});

test("a dyno that ignores SIGTERM is killed after the stop grace (R12)", async () => {
    expect((await putApp("dlab", { release: 1, slug: slugs.v1, processTypes: { web: "perl web.pl ignore-term" }, dynos: ["web.1"], stopTimeoutMs: 3000 })).status).toBe(200);
    const web = await dyno("dlab", "web.1");
    expect(web.state).toBe("up");
    const started = Date.now();
    expect((await putApp("dlab", { release: 1, slug: slugs.v1, processTypes: { web: "perl web.pl ignore-term" }, dynos: [], stopTimeoutMs: 3000 })).status).toBe(200);
    await waitFor("web.1 stopped", async () => (await agent("GET", "/v1/apps/dlab")).body.retiring.length === 0, 20_000, 100);
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(3000);
    expect(took).toBeLessThan(12_000);
    const text = await logs("dlab");
    expect(text).toContain("heroku[web.1]: Stopping all processes with SIGTERM");
    expect(text).toContain("app[web.1]: ignoring SIGTERM");
    expect(text).toContain("heroku[web.1]: Error R12 (Exit timeout) -> At least one process failed to exit within 3 seconds of SIGTERM");
    expect(text).toContain("heroku[web.1]: Stopping remaining processes with SIGKILL");
    expect((await onHost(`kill -0 ${web.pid}`)).code).not.toBe(0);
    expect((await unitProps(web.unit, "LoadState")).LoadState).toBe("not-found");
    expect((await router("GET", "/v1/apps/dlab")).body?.dynos ?? []).toEqual([]);
    console.log(`SIGTERM-ignoring dyno stopped in ${took} ms (grace 3000)`);
    expect((await agent("DELETE", "/v1/apps/dlab")).status).toBe(200);
});

test("a dyno over twice its memory quota is killed (R15)", async () => {
    const hog = `perl -e '$|=1; my @a; for my $i (1..60) { push @a, "x" x (2*1024*1024); print "allocated ", 2*$i, "M\\n"; select(undef,undef,undef,0.05) } sleep 600'`;
    expect((await putApp("elab", { release: 1, slug: slugs.v1, processTypes: { hog }, dynos: ["hog.1"], memoryMb: 16 }, false)).status).toBe(200);
    const d = await exitedWith("elab", "hog.1", "R15", 30_000);
    expect(d.lastExit.status).toBe(137);
    const text = await logs("elab");
    expect(text).toContain("heroku[hog.1]: Error R15 (Memory quota vastly exceeded)");
    expect(text).toMatch(/app\[hog\.1\]: allocated \d+M/);
    expect(text).not.toContain("allocated 120M");
    expect((await agent("DELETE", "/v1/apps/elab")).status).toBe(200);
});

test("restarting the agent keeps dynos running and re-adopts them", async () => {
    const before = await dyno("alab", "web.1");
    expect(before.state).toBe("up");
    await onHost("systemctl restart dynoform-agent");
    await waitFor("agent health", async () => (await fetch(`${agentUrl}/health`)).ok, 30_000);
    const after = await waitFor("web.1 re-adopted", async () => {
        const d = await dyno("alab", "web.1");
        return d?.state === "up" && d.registered ? d : undefined;
    });
    expect(after).toMatchObject({ instance: before.instance, pid: before.pid, port: before.port });
    expect((await unitProps(before.unit, "MainPID")).MainPID).toBe(String(before.pid));
    expect(await logs("alab", "&source=heroku")).toContain(`heroku[web.1]: Re-adopted running process (pid ${before.pid}) after agent restart`);
    expect((await viaEdge("alab")).body).toBe("hello from web.1 of slug v1 as dyno-alab\n");
});

test("the logs API has the app's output and the agent's events in Heroku's format", async () => {
    const text = await logs("alab", "&dyno=web.1");
    const lines = text.split("\n").filter(Boolean);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 (app|heroku)\[web\.1\]: /);
    expect(text).toMatch(/heroku\[web\.1\]: Starting process with command `perl web\.pl`/);
    expect(text).toMatch(/app\[web\.1\]: listening on \d+ as dyno-alab/);
    expect(text).toContain("heroku[web.1]: State changed from starting to up");
    const heroku = await logs("alab", "&source=heroku");
    expect(heroku).not.toMatch(/ app\[/);
});

test("a slug with the wrong checksum is refused and the running release keeps serving; a good one rolls out", async () => {
    const bad = await putApp("alab", { release: 2, slug: { url: slugs.v2.url, sha256: slugs.v1.sha256.replace(/^./, (c) => (c === "0" ? "1" : "0")) }, processTypes: WEB, dynos: ["web.1"] });
    expect(bad.status).toBe(422);
    expect(bad.body.error).toMatch(/^slug checksum mismatch for http:\/\/.*v2\.tgz: expected sha256 [0-9a-f]{64}, got [0-9a-f]{64}; refusing to run it$/);
    const st = await agent("GET", "/v1/apps/alab");
    expect(st.body).toMatchObject({ release: 1, lastError: bad.body.error });
    expect((await viaEdge("alab")).body).toBe("hello from web.1 of slug v1 as dyno-alab\n");

    const old = await dyno("alab", "web.1");
    const good = await putApp("alab", { release: 2, slug: slugs.v2, processTypes: WEB, dynos: ["web.1"] });
    expect(good.status).toBe(200);
    expect((await viaEdge("alab")).body).toBe("hello from web.1 of slug v2 as dyno-alab\n");
    await waitFor("old instance gone", async () => (await unitProps(old.unit, "LoadState")).LoadState === "not-found", 15_000);
});

test("deleting apps leaves no dyno units, users' processes or registrations behind", async () => {
    for (const app of appsMade) await agent("DELETE", `/v1/apps/${app}`);
    expect((await onHost("systemctl list-units --all --no-legend 'dyno-*'")).stdout.trim()).toBe("");
    expect((await onHost("pgrep -u dyno-alab || true")).stdout.trim()).toBe("");
    expect((await router("GET", "/v1/apps/alab")).body?.dynos ?? []).toEqual([]);
    expect((await agent("GET", "/v1/apps")).body.apps).toEqual([]);
});
