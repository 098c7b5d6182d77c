// The add-ons channel end to end on this machine: RemoteFleet's real `ssh` (the add-ons key, the
// pinned host key from knownHostsLine) → a real sshd whose authorized_keys line is the data host's
// (restrict, from=, forced command) → the real dynoform-addons (temp prefix) → saslpasswd2; then
// memcached started from the instance's files accepts exactly the credentials apps:create returned.
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { knownHostsLine } from "../../components/control/control";
import { ADDONS_COMMAND, addonsAuthorizedKeyLine } from "../../components/data/data";
import { render } from "../../components/templates/render";
import { AppStore } from "../../packages/control/src/app_store";
import { addonsSshArgs } from "../../packages/control/src/addons_client";
import { RemoteFleet } from "../../packages/control/src/remote_fleet";
import { binarySession, memcachedMissing, RunningMemcached, startMemcached, STATUS } from "../support/memcached";
import { freePortRun } from "../support/ports";
import { prepareSshd, TestSshd } from "../support/sshd";

jest.setTimeout(60_000);

const missing = memcachedMissing() ?? (fs.existsSync("/usr/sbin/sshd") ? undefined : "/usr/sbin/sshd is missing (openssh-server)");
const describeReal = missing ? describe.skip : describe;
if (missing) test.todo(`add-ons over a real sshd: skipped, ${missing}`);

describeReal("add-ons over a real sshd and the data host's forced command", () => {
    let sshd: TestSshd;
    let dir: string;
    let fleet: RemoteFleet;
    let firstPort: number;
    const running: RunningMemcached[] = [];
    const keyFile = () => path.join(sshd.dir, "client");
    const knownHostsFile = () => path.join(sshd.dir, "addons.known_hosts");

    beforeAll(async () => {
        sshd = await prepareSshd({ name: "data-1" });
        dir = path.join(sshd.dir, "data-host");
        fs.mkdirSync(path.join(dir, "etc"), { recursive: true, mode: 0o755 });
        fs.chmodSync(sshd.dir, 0o755); // memcached (user memcache) reads its instance's files below
        fs.writeFileSync(path.join(dir, "systemctl"), "#!/bin/sh\n:\n", { mode: 0o755 });
        // psql as postgres, faked (addons_pg.test.ts checks its SQL): keeps what it was given.
        fs.writeFileSync(path.join(dir, "psql"), `#!/bin/sh\ncat >> ${dir}/psql.stdin\n`, { mode: 0o755 });
        firstPort = await freePortRun(6);
        const script = path.join(dir, "dynoform-addons");
        fs.writeFileSync(script, render("data/dynoform-addons", { listenAddress: "127.0.0.1", firstPort, lastPort: firstPort + 5 }), { mode: 0o700 });
        // The data host's line, with the forced command pointed at the temp prefix.
        const publicKey = fs.readFileSync(path.join(sshd.dir, "client.pub"), "utf8");
        const line = addonsAuthorizedKeyLine(publicKey, "127.0.0.1").replace(
            `command="${ADDONS_COMMAND}"`,
            `command="env DYNOFORM_ADDONS_ROOT=${dir} DYNOFORM_ADDONS_SYSTEMCTL=${dir}/systemctl DYNOFORM_ADDONS_PSQL=${dir}/psql ${script}"`,
        );
        fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), `${line}\n`);
        fs.writeFileSync(knownHostsFile(), knownHostsLine("127.0.0.1", sshd.port, sshd.connection.hostKey));
        await sshd.start();
        fs.mkdirSync(path.join(sshd.dir, "state"));
        fleet = new RemoteFleet(new AppStore(path.join(sshd.dir, "state")), {
            agents: [],
            agentToken: "t",
            slugBaseUrl: "http://127.0.0.1:9/slugs",
            routers: [],
            routerToken: "t",
            addons: { host: "127.0.0.1", port: sshd.port, user: "root", keyFile: keyFile(), knownHostsFile: knownHostsFile() },
        });
    });

    afterAll(async () => {
        await Promise.all(running.map((m) => m.stop()));
        await sshd?.stop();
    });

    test("apps:create's add-ons over ssh: the app's credentials open its memcached, nothing else does", async () => {
        const vars = await fleet.provisionAddons("app-one");
        expect(vars).toMatchObject({ MEMCACHE_SERVERS: `127.0.0.1:${firstPort}`, MEMCACHE_USERNAME: "app-one" });
        expect(vars.DATABASE_URL).toMatch(/^postgres:\/\/app_app_one:[0-9a-f]{36}@127\.0\.0\.1:5432\/app_app_one$/);
        expect(fs.readFileSync(path.join(dir, "psql.stdin"), "utf8")).toContain("\\set name 'app_app_one'\n");
        const instance = path.join(dir, "etc/dynoform-memcached/app-one");
        const unit = render("memcached/dynoform-memcached@.service", { listenAddress: "127.0.0.1", memoryMb: 8, maxConnections: 64 });
        const args = /^ExecStart=\/usr\/bin\/memcached (.*)$/m.exec(unit)![1].replace("${PORT}", String(firstPort)).split(" ");
        running.push(await startMemcached(args, firstPort, { SASL_CONF_PATH: instance }));

        const right = binarySession(firstPort);
        expect((await right.auth(vars.MEMCACHE_USERNAME, vars.MEMCACHE_PASSWORD)).status).toBe(STATUS.ok);
        expect((await right.set("k", "v")).status).toBe(STATUS.ok);
        right.close();
        const wrong = binarySession(firstPort);
        expect((await wrong.auth("app-one", "0".repeat(48))).status).toBe(STATUS.authError);
        wrong.close();
    });

    test("the key runs only the forced command: a shell command is refused", () => {
        const ssh = (words: string[]) => spawnSync("ssh", addonsSshArgs({ host: "127.0.0.1", port: sshd.port, keyFile: keyFile(), knownHostsFile: knownHostsFile() }, words), { encoding: "utf8", input: "" });
        const id = ssh(["id"]);
        expect(id.status).toBe(2);
        expect(id.stderr).toContain("dynoform-addons: usage");
        expect(id.stdout).not.toContain("uid=");
        const sneaky = ssh(["memcache-destroy", "app-one;id"]);
        expect(sneaky.stderr).toContain("invalid app name");
        expect(fs.existsSync(path.join(dir, "etc/dynoform-memcached/app-one"))).toBe(true);
    });

    test("the key from another address than the control host's (from=): refused", () => {
        const args = addonsSshArgs({ host: "127.0.0.1", port: sshd.port, keyFile: keyFile(), knownHostsFile: knownHostsFile() }, ["memcache-destroy", "app-one"]);
        const r = spawnSync("ssh", ["-b", "127.0.0.2", ...args], { encoding: "utf8", input: "" });
        expect(r.status).toBe(255);
        expect(r.stderr).toContain("Permission denied (publickey)");
        expect(fs.existsSync(path.join(dir, "etc/dynoform-memcached/app-one"))).toBe(true);
    });

    test("a host key other than the pinned one: ssh refuses to connect", () => {
        const otherKnownHosts = path.join(sshd.dir, "other.known_hosts");
        fs.writeFileSync(otherKnownHosts, knownHostsLine("127.0.0.1", sshd.port, sshd.strangerHostKey));
        const r = spawnSync("ssh", addonsSshArgs({ host: "127.0.0.1", port: sshd.port, keyFile: keyFile(), knownHostsFile: otherKnownHosts }, ["memcache-destroy", "app-one"]), { encoding: "utf8", input: "" });
        expect(r.status).toBe(255);
        expect(r.stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
    });

    test("apps:destroy's add-ons over ssh: the instance's files are gone, the database dropped", async () => {
        await fleet.deprovisionAddons("app-one");
        expect(fs.existsSync(path.join(dir, "etc/dynoform-memcached/app-one"))).toBe(false);
        expect(fs.readFileSync(path.join(dir, "psql.stdin"), "utf8")).toContain("DROP DATABASE IF EXISTS");
    });
});
