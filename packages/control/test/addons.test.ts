// RemoteFleet's add-ons: each app's Memcached and database through the data host's dynoform-addons
// (over ssh; here a fake ssh that runs a fake forced command). What matters: the config vars apps
// get, undo on failure, and that no secret is in any child's argv.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { AppStore } from "../src/app_store";
import { addonsSshArgs, parseAddonVars } from "../src/addons_client";
import { RemoteFleet, RemoteFleetConfig } from "../src/remote_fleet";
import { FleetError } from "../src/fleet";

let dir: string;
// Every child RemoteFleet starts, as spawn() was called.
const mockSpawned: { file: string; args: string[]; env?: NodeJS.ProcessEnv }[] = [];
const spawned = mockSpawned;
jest.mock("node:child_process", () => {
    const actual = jest.requireActual("node:child_process");
    return {
        ...actual,
        spawn: (file: string, args: string[], opts: { env?: NodeJS.ProcessEnv }) => {
            mockSpawned.push({ file, args: [...args], env: opts?.env });
            return actual.spawn(file, args, opts);
        },
    };
});

beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-addons-control-"));
    mockSpawned.length = 0;
    // ssh: logs its argv, hands the words after the destination to the "forced command" as
    // SSH_ORIGINAL_COMMAND (as sshd does), stdin passed through.
    fs.writeFileSync(
        path.join(dir, "ssh"),
        `#!/bin/sh
printf '%s\\n' "$@" > "${dir}/ssh.argv"
while [ "$1" != "10.0.0.30" ]; do shift; done; shift
SSH_ORIGINAL_COMMAND="$*" exec "${dir}/dynoform-addons"
`,
        { mode: 0o755 },
    );
    // dynoform-addons: records the words and stdin, answers like the real one (or fails on demand).
    fs.writeFileSync(
        path.join(dir, "dynoform-addons"),
        `#!/bin/sh
set -eu
echo "$SSH_ORIGINAL_COMMAND" >> "${dir}/addons.calls"
set -- $SSH_ORIGINAL_COMMAND
[ ! -f "${dir}/$1.fail" ] || { echo "dynoform-addons: $1 failed on purpose" >&2; exit 2; }
case "$1" in
  memcache-create) cat > "${dir}/memcache.stdin"; echo "MEMCACHE_SERVERS=10.0.0.30:11300"; echo "MEMCACHE_USERNAME=$2"; echo "noise=ignored" ;;
  pg-create) read -r pw; printf '%s\\n' "$pw" > "${dir}/pg.stdin"; echo "DATABASE_URL=postgres://app_$2:$pw@10.0.0.30:5432/app_$2" ;;
esac
`,
        { mode: 0o755 },
    );
});

afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
});

function fleet(extra: Partial<RemoteFleetConfig> = {}): RemoteFleet {
    return new RemoteFleet(new AppStore(path.join(dir, "state")), {
        agents: [],
        agentToken: "t",
        routers: [],
        routerToken: "t",
        slugBaseUrl: "http://10.0.0.10:5080/slugs",
        addons: { host: "10.0.0.30", port: 22, user: "root", keyFile: "/etc/dynoform/addons.key", knownHostsFile: "/etc/dynoform/addons.known_hosts" },
        ssh: path.join(dir, "ssh"),
        ...extra,
    });
}

const read = (f: string) => fs.readFileSync(path.join(dir, f), "utf8");

test("ssh to the forced command: the add-ons key file, the pinned host key only, no prompts, no user config", () => {
    expect(addonsSshArgs({ host: "10.0.0.30", keyFile: "/k", knownHostsFile: "/kh" }, ["memcache-create", "myapp"]).join(" ")).toBe(
        "-F /dev/null -i /k -o IdentitiesOnly=yes -o BatchMode=yes -o UserKnownHostsFile=/kh -o GlobalKnownHostsFile=/dev/null " +
            "-o StrictHostKeyChecking=yes -o ConnectTimeout=10 -p 22 -l root 10.0.0.30 memcache-create myapp",
    );
    expect(parseAddonVars("MEMCACHE_SERVERS=a:1\nMEMCACHE_PASSWORD=x\nnoise\n", ["MEMCACHE_SERVERS"])).toEqual({ MEMCACHE_SERVERS: "a:1" });
});

test("provisionAddons: the app's own Memcached (servers, username, password) and database; no secret in any argv", async () => {
    const vars = await fleet().provisionAddons("myapp");
    expect(Object.keys(vars).sort()).toEqual(["DATABASE_URL", "MEMCACHE_PASSWORD", "MEMCACHE_SERVERS", "MEMCACHE_USERNAME"]);
    expect(vars).toMatchObject({ MEMCACHE_SERVERS: "10.0.0.30:11300", MEMCACHE_USERNAME: "myapp" });
    expect(vars.MEMCACHE_PASSWORD).toMatch(/^[0-9a-f]{48}$/);
    expect(vars.DATABASE_URL).toMatch(/^postgres:\/\/app_myapp:[0-9a-f]{36}@10\.0\.0\.30:5432\/app_myapp$/);
    const dbPassword = /:([0-9a-f]{36})@/.exec(vars.DATABASE_URL)![1];

    expect(read("addons.calls")).toBe("memcache-create myapp\npg-create myapp\n");
    expect(read("memcache.stdin")).toBe(`${vars.MEMCACHE_PASSWORD}\n`); // the passwords travel on stdin
    expect(read("pg.stdin")).toBe(`${dbPassword}\n`);
    expect(read("ssh.argv")).toContain("-i\n/etc/dynoform/addons.key\n");
    expect(spawned.map((s) => path.basename(s.file))).toEqual(["ssh", "ssh"]);
    for (const secret of [vars.MEMCACHE_PASSWORD, dbPassword]) {
        for (const s of spawned) {
            expect([s.file, ...s.args].join(" ")).not.toContain(secret);
            expect(JSON.stringify(s.env ?? {})).not.toContain(secret);
        }
    }
});

test("deprovisionAddons removes the app's Memcached and its database", async () => {
    await fleet().deprovisionAddons("myapp");
    expect(read("addons.calls")).toBe("memcache-destroy myapp\npg-destroy myapp\n");
});

test("the data host refuses: apps:create fails with its reason and nothing is left", async () => {
    fs.writeFileSync(path.join(dir, "memcache-create.fail"), "");
    await expect(fleet().provisionAddons("myapp")).rejects.toThrow(new FleetError("Memcached add-on (data host 10.0.0.30): dynoform-addons: memcache-create failed on purpose"));
    expect(read("addons.calls")).toBe("memcache-create myapp\n");
});

test("the database fails after the Memcached was made: the Memcached is destroyed again", async () => {
    fs.writeFileSync(path.join(dir, "pg-create.fail"), "");
    await expect(fleet().provisionAddons("myapp")).rejects.toThrow("PostgreSQL add-on (data host 10.0.0.30): dynoform-addons: pg-create failed on purpose");
    expect(read("addons.calls")).toBe("memcache-create myapp\npg-create myapp\nmemcache-destroy myapp\n");
});

test("the data host unreachable (ssh fails): the reason is ssh's", async () => {
    await expect(fleet({ ssh: "/nonexistent/ssh" }).provisionAddons("myapp")).rejects.toThrow(/Memcached add-on \(data host 10\.0\.0\.30\): spawn \/nonexistent\/ssh ENOENT/);
});

test("without an add-ons host (no data role wired) apps get no add-ons", async () => {
    expect(await fleet({ addons: undefined }).provisionAddons("myapp")).toEqual({});
    await fleet({ addons: undefined }).deprovisionAddons("myapp");
    expect(spawned).toEqual([]);
});
