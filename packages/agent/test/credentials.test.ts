// Each dyno host has credentials of its own: the control role's token for this agent (another
// agent's token is refused) and this host's registration credential with the routers, which a real
// dynoform-router accepts only for apps the control role placed on this host.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { loadConfig } from "../src/config";
import { desired, waitFor } from "./helpers";
import { RealRouter, ROUTER_MAIN, routerSuite } from "./router_harness";

jest.setTimeout(60_000);

const { base, cleanups, agentWith } = routerSuite();

test("one agent's token does not drive another agent", async () => {
  const one = await agentWith({ token: "agent-1-token" });
  const two = await agentWith({ token: "agent-2-token" });
  expect((await two.api("GET", "/v1/status", undefined, "agent-1-token")).status).toBe(401);
  expect((await two.api("PUT", "/v1/apps/shop", desired(base.slug), "agent-1-token")).status).toBe(401);
  expect((await one.api("GET", "/v1/apps", undefined, "agent-2-token")).status).toBe(401);
  expect((await two.api("GET", "/v1/status")).status).toBe(200);
});

test("a rotation's token file: the control role's old and new tokens are accepted side by side, then the new alone", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-agent-rotation-"));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const tokenFile = path.join(dir, "agent.token");
  fs.writeFileSync(tokenFile, "agent-token-new\nagent-token-old\n", { mode: 0o600 });
  const { token } = loadConfig(["--token-file", tokenFile], {});
  const both = await agentWith({ token });
  expect((await both.api("GET", "/v1/status", undefined, "agent-token-old")).status).toBe(200);
  expect((await both.api("GET", "/v1/status", undefined, "agent-token-new")).status).toBe(200);
  for (const bad of ["agent-token-newagent-token-old", "agent-token-ne", "agent-token-new agent-token-old", "agent-token-other"]) {
    expect([bad, (await both.api("GET", "/v1/status", undefined, bad)).status]).toEqual([bad, 401]);
  }
  fs.writeFileSync(tokenFile, "agent-token-new\n");
  const after = await agentWith(loadConfig(["--token-file", tokenFile], {}));
  expect((await after.api("GET", "/v1/status", undefined, "agent-token-new")).status).toBe(200);
  expect((await after.api("GET", "/v1/status", undefined, "agent-token-old")).status).toBe(401);
});

test("an agent with routers and no registration credential does not start, and says why", () => {
  expect(() => loadConfig(["--router", "http://10.1.0.2:8081"], { DYNOFORM_AGENT_TOKEN: "t" })).toThrow(/registrationToken is required with routers/);
});

const haveRouter = fs.existsSync(ROUTER_MAIN);
(haveRouter ? test : test.skip)("real router: the host's own credential registers its web dyno only once the app is placed on this host", async () => {
  const credential = "dyno-1-registration-credential";
  const router = await RealRouter.create({ agents: [{ address: "127.0.0.1", tokenSha256: createHash("sha256").update(credential).digest("hex") }] });
  cleanups.push(() => router.destroy());
  await router.start();
  const a = await agentWith({ routers: [{ url: router.controlUrl }], registrationToken: credential, leaseMs: 600, renewMs: 200 });
  await a.api("PUT", "/v1/apps/placed", desired(base.slug));
  await waitFor("web.1 up", async () => (await a.dyno("placed", "web.1"))?.state === "up");
  const refused = await waitFor("a refused registration", async () => {
    const st = (await a.api("GET", "/v1/status")).body.routers[0];
    return st.lastError ? st : undefined;
  });
  expect(refused.ok).toBe(false);
  expect(refused.lastError).toContain("HTTP 403");
  expect(refused.lastError).toContain("app placed is not placed on dyno host 127.0.0.1");
  expect(await router.dynos("placed")).toEqual([]);
  // The control role places the app here: the next renewal registers it.
  expect((await router.api("PUT", "/v1/apps/placed/placement", { hosts: ["127.0.0.1"] })).status).toBe(200);
  const d = await a.dyno("placed", "web.1");
  await waitFor("registered", async () => (await router.dynos("placed")).some((x) => x.address === `127.0.0.1:${d.port}`), 5000);
  expect((await a.api("GET", "/v1/status")).body.routers[0].ok).toBe(true);
});
