// `dynoform run` with stdin attached: what the caller types reaches the one-off dyno through the
// agent's stdin endpoint, and when the dyno exits first the caller's stdin is let go (paused, not
// closed: it is the caller's).
import * as http from "node:http";
import { PassThrough } from "node:stream";
import { AgentClient } from "../src/agent_client";
import { Release } from "../src/app_store";
import { close, listen } from "./helpers/fake_agent";

const release: Release = {
    version: 3,
    slug: { sha256: "5".repeat(64), size: 1 },
    config: {},
    processTypes: { web: "node server.js" },
    commit: "0123456",
    description: "Deploy 0123456",
    createdAt: "2026-11-29T20:00:00Z",
    status: "succeeded",
    updatedAt: "2026-11-29T20:00:00Z",
};

/** An agent whose one-off echoes its stdin as stdout and exits 0 when stdin ends, or at once with `exitAtOnce`. */
function echoAgent(exitAtOnce: boolean): { server: http.Server; auth: string[] } {
    const auth: string[] = [];
    let run: http.ServerResponse | undefined;
    const server = http.createServer((req, res) => {
        auth.push(`${req.method} ${req.url} ${req.headers.authorization}`);
        if (req.url === "/v1/apps/shop/run") {
            run = res;
            res.writeHead(200, { "content-type": "application/x-ndjson" });
            res.write('{"dyno":"run.1","state":"up"}\n');
            if (exitAtOnce) res.end('{"dyno":"run.1","exit":0}\n');
            return void req.resume();
        }
        if (req.url === "/v1/apps/shop/run/run.1/stdin") {
            let got = "";
            req.on("data", (d) => (got += d));
            req.on("end", () => {
                run?.end(`${JSON.stringify({ stream: "stdout", data: got })}\n{"dyno":"run.1","exit":0}\n`);
                res.end('{"attached":true}');
            });
            return;
        }
        res.writeHead(404).end();
    });
    return { server, auth };
}

test("stdin typed into a one-off reaches the dyno, with the agent's token", async () => {
    const { server, auth } = echoAgent(false);
    const url = await listen(server);
    try {
        const agents = new AgentClient({ agents: [url], agentToken: "agent-token" }, { baseUrl: "http://127.0.0.1:9/slugs" });
        const stdin = new PassThrough();
        const out: string[] = [];
        const done = agents.runOneOff(url, "shop", release, "cat", { stdin, stdout: (c) => out.push(String(c)), stderr: (c) => out.push(String(c)), onStart: () => stdin.end("hello\n") }, "run");
        expect(await done).toEqual({ dyno: "run.1", exitCode: 0 });
        expect(out).toEqual(["hello\n"]);
        expect(auth).toEqual(["POST /v1/apps/shop/run Bearer agent-token", "POST /v1/apps/shop/run/run.1/stdin Bearer agent-token"]);
    } finally {
        await close(server);
    }
});

test("a one-off that exits before its stdin ends lets go of the caller's stdin without closing it", async () => {
    const { server } = echoAgent(true);
    const url = await listen(server);
    try {
        const agents = new AgentClient({ agents: [url], agentToken: "agent-token" }, { baseUrl: "http://127.0.0.1:9/slugs" });
        const stdin = new PassThrough();
        const r = await agents.runOneOff(url, "shop", release, "true", { stdin, stdout: () => undefined, stderr: () => undefined }, "run");
        expect(r).toEqual({ dyno: "run.1", exitCode: 0 });
        expect(stdin.destroyed).toBe(false);
        expect(stdin.listenerCount("data")).toBe(0);
        expect(stdin.isPaused()).toBe(true);
    } finally {
        await close(server);
    }
});
