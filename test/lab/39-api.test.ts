// The REST API end to end on the lab stack (issue 15, "Done when"): an API token deploys by the
// builds endpoint and scales by the formation endpoint, and revoking it stops it at once. Through
// the edge's nginx at https://api.<domain> (the edge's self-signed certificate is not verified here)
// to `dynoform-control serve` on the control host.
//
// The token comes from the accounts part of issue 15: `dynoform authorizations:create` printing
// Heroku's "ID:" and "Token:" lines, `authorizations:revoke ID`, and `dynoform audit -a APP`.
import { execFileSync } from "child_process";
import * as https from "https";
import { cli, until } from "../support/apps";
import { edgeAddress, labStackInfo } from "../support/lab_stack";
import { httpGet } from "../support/lab_hosts";
import { projectRoot } from "../support/pulumi";

jest.setTimeout(15 * 60_000);

const APP = "api-counter";
const edge = edgeAddress();
const domain = labStackInfo().domain;
const apiHost = `api.${domain}`;
let token = "";
let tokenId = "";

interface Answer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
    json: any;
}

/** One request to the API through the edge (or to a URL it answered with: its host is api.<domain> too). */
function api(method: string, target: string, body?: unknown, opts: { token?: string; contentType?: string } = {}): Promise<Answer> {
    const url = new URL(target, `https://${apiHost}`);
    const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
        const req = https.request(
            {
                host: edge,
                port: 443,
                servername: apiHost,
                rejectUnauthorized: false,
                method,
                path: url.pathname + url.search,
                timeout: 600_000,
                headers: {
                    Host: apiHost,
                    Accept: "application/vnd.heroku+json; version=3",
                    ...(opts.token !== "" ? { Authorization: `Bearer ${opts.token ?? token}` } : {}),
                    ...(payload ? { "Content-Type": opts.contentType ?? "application/json", "Content-Length": payload.length } : {}),
                },
            },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => {
                    let json;
                    try {
                        json = JSON.parse(text);
                    } catch {
                        json = undefined;
                    }
                    resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
                });
            },
        );
        req.on("timeout", () => req.destroy(new Error(`${method} ${target}: timeout`)));
        req.on("error", reject);
        req.end(payload);
    });
}

beforeAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]); // a leftover of an interrupted run
    const made = await cli(["authorizations:create", "--description", "lab 39-api"]);
    expect(made.code).toBe(0);
    token = /^Token:\s+(\S+)/m.exec(made.stdout)?.[1] ?? "";
    tokenId = /^ID:\s+(\S+)/m.exec(made.stdout)?.[1] ?? "";
    expect(token).not.toBe("");
});

afterAll(async () => {
    await cli(["apps:destroy", "-a", APP, "--confirm", APP]);
});

test("plain http to api.<domain> is sent to https, and the API describes itself there", async () => {
    const plain = await httpGet(edge, apiHost, "/apps");
    expect(plain.status).toBe(308);
    expect(plain.headers.location).toBe(`https://${apiHost}/apps`);
    const doc = await api("GET", "/openapi.json", undefined, { token: "" });
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.json.paths)).toContain("/apps/{app}/formation");
    expect((await api("GET", "/apps", undefined, { token: "" })).json).toMatchObject({ id: "unauthorized" });
});

test("a token creates an app, deploys it by the builds endpoint and scales it by the formation endpoint", async () => {
    const created = await api("POST", "/apps", { name: APP });
    expect(created).toMatchObject({ status: 201, json: { name: APP, web_url: `http://${APP}.${domain}/` } });

    // The example app's committed tree at the top of the tarball, as Heroku's source blobs.
    const tgz = execFileSync("git", ["archive", "--format=tar.gz", "HEAD:examples/node-counter"], { cwd: projectRoot, maxBuffer: 64 * 1024 * 1024 });
    const build = await api("POST", `/apps/${APP}/builds`, tgz, { contentType: "application/gzip" });
    expect(build).toMatchObject({ status: 201, json: { status: "pending", app: { name: APP } } });
    const output = await api("GET", build.json.output_stream_url, undefined, { token: "" });
    expect(output.body).toContain("-----> Node.js app detected");
    expect(output.body).toMatch(/Released v1/);
    expect((await api("GET", `/apps/${APP}/builds/${build.json.id}`)).json).toMatchObject({ status: "succeeded", release: { version: 1 } });
    await until("the app answers through the edge", async () => (await httpGet(edge, `${APP}.${domain}`)).status === 200);

    const scaled = await api("PATCH", `/apps/${APP}/formation`, { updates: [{ type: "web", quantity: 2 }] });
    expect(scaled).toMatchObject({ status: 200, json: [{ type: "web", quantity: 2 }] });
    const dynos = await until("two web dynos up", async () => {
        const list = (await api("GET", `/apps/${APP}/dynos`)).json as { type: string; state: string; host: string }[];
        const up = list.filter((d) => d.type === "web" && d.state === "up");
        return up.length === 2 ? up : undefined;
    });
    expect(new Set(dynos.map((d) => d.host)).size).toBe(2); // spread across the dyno hosts

    const audit = await cli(["audit", "-a", APP]);
    expect(audit.stdout).toMatch(/deploy/);
    expect(audit.stdout).toMatch(/scale/);
});

test("a revoked token is refused at once", async () => {
    expect((await api("GET", `/apps/${APP}`)).status).toBe(200);
    expect((await cli(["authorizations:revoke", tokenId])).code).toBe(0);
    const refused = await api("PATCH", `/apps/${APP}/formation/web`, { quantity: 1 });
    expect(refused).toMatchObject({ status: 401, json: { id: "unauthorized" } });
    expect((await cli(["ps", "-a", APP])).stdout).toMatch(/web\.2/); // nothing changed
});
