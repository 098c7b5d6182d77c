// maintenance, maintenance:on, maintenance:off: Heroku's wording; the mode is kept in the app's
// state and every router is told the whole route (domains, mode, page).
import { harness, Harness } from "./helpers/cli_harness";

let h: Harness;
beforeEach(async () => (h = await harness()));
afterEach(() => h.cleanup());

test("on, off and status, in Heroku's words; dynos are not touched", async () => {
    await h.cli("apps:create", "myapp");
    expect(await h.cli("maintenance", "-a", "myapp")).toMatchObject({ code: 0, out: ["off"] });
    const calls = h.fleet.calls.length;
    expect(await h.cli("maintenance:on", "-a", "myapp")).toMatchObject({ code: 0, err: ["Enabling maintenance mode for ⬢ myapp... done"], out: [] });
    expect(h.fleet.maintenance.get("myapp")).toBe("on");
    expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test"]);
    expect(await h.store.getMaintenance("myapp")).toBe(true);
    expect((await h.cli("maintenance", "-a", "myapp")).out).toEqual(["on"]);
    // idempotent, as Heroku's
    expect((await h.cli("maintenance:on", "-a", "myapp")).code).toBe(0);
    expect(await h.cli("maintenance:off", "-a", "myapp")).toMatchObject({ code: 0, err: ["Disabling maintenance mode for ⬢ myapp... done"] });
    expect(h.fleet.maintenance.get("myapp")).toBe("off");
    expect((await h.cli("maintenance", "-a", "myapp")).out).toEqual(["off"]);
    expect(h.fleet.calls.slice(calls)).toEqual([]); // no rollout, restart or scale
});

test("domains:add keeps the mode: the routers get the whole route", async () => {
    await h.cli("apps:create", "myapp");
    await h.cli("maintenance:on", "-a", "myapp");
    await h.cli("domains:add", "www.example.com", "-a", "myapp");
    expect(h.fleet.maintenance.get("myapp")).toBe("on");
    expect(h.fleet.routes.get("myapp")).toEqual(["myapp.dynoform.test", "www.example.com"]);
});

test("MAINTENANCE_PAGE_URL reaches the routers; one they would refuse is warned about and left out", async () => {
    await h.cli("apps:create", "myapp");
    await h.cli("maintenance:on", "-a", "myapp");
    expect((await h.cli("config:set", "MAINTENANCE_PAGE_URL=https://pages.example.com/down.html", "-a", "myapp")).code).toBe(0);
    expect(h.fleet.maintenance.get("myapp")).toBe("on https://pages.example.com/down.html");
    const bad = await h.cli("config:set", "MAINTENANCE_PAGE_URL=javascript:alert(1)", "-a", "myapp");
    expect(bad.code).toBe(0);
    expect(bad.err[1]).toMatch(/^Warning: MAINTENANCE_PAGE_URL must be an http\(s\) URL .*: the default maintenance page is shown until it is fixed/);
    expect(h.fleet.maintenance.get("myapp")).toBe("on");
    expect((await h.cli("maintenance:on", "-a", "myapp")).err[1]).toMatch(/^Warning: MAINTENANCE_PAGE_URL must be/);
    await h.cli("config:unset", "MAINTENANCE_PAGE_URL", "-a", "myapp");
    expect(h.fleet.maintenance.get("myapp")).toBe("on");
});

test("refusals", async () => {
    const r = await h.cli("maintenance:on", "-a", "nope");
    expect(r.code).toBe(1);
    expect(r.err).toEqual([' ▸    Couldn\'t find that app: nope. Run "dynoform apps" to list apps, or "dynoform apps:create nope" to create it.']);
    expect((await h.cli("maintenance:on")).err[0]).toMatch(/Missing app: pass -a APP/);
});
