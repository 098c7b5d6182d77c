import { createHash } from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { parseStackConfig } from "../../components/config/stack_config";
import { DYNO_PORT_RANGE, DYNO_UID_RANGE } from "../../components/firewall";
import { ADDONS_PRIVATE_KEY, ADDONS_PUBLIC_KEY, Created, PG_BACKUP_PRIVATE_KEY, PG_BACKUP_PUBLIC_KEY, platformOnFakeHosts, recordResources } from "../support/platform_mocks";

// The Platform component under Pulumi's mocks: which resources land on which host.
const created = recordResources();

const config = parseStackConfig({
    target: "lab",
    lab: { network: "unit", subnet: "10.213.7.0/24" },
    hosts: [
        { name: "edge-1", address: "10.213.7.10", roles: ["edge", "control"] },
        { name: "dyno-1", address: "10.213.7.21", roles: ["dyno"] },
        { name: "dyno-2", address: "10.213.7.22", roles: ["dyno"] },
        { name: "data-1", address: "10.213.7.30", roles: ["data"] },
    ],
    memcachedMemoryMb: 80,
});

let edgeUrl: string;

beforeAll(async () => {
    ({ edgeUrl } = await platformOnFakeHosts(config));
});

/** Pulumi's wire form of a secret, as mocks receive it. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
function secretValue(v: unknown): unknown {
    expect(v).toMatchObject({ [SECRET_SIG]: "1b47061264138c4ac30d75fd1eb44270" });
    return (v as { value: unknown }).value;
}

function on(host: string): Created[] {
    return created.filter((c) => c.host === host);
}

/** A host's resources but its firewall's (every host has one: see the firewall test). */
function own(host: string): Created[] {
    return on(host).filter((c) => !c.name.startsWith(`${host}-firewall-`));
}

function paths(host: string): string[] {
    return own(host)
        .map((c) => c.inputs.path as string | undefined)
        .filter((p): p is string => !!p)
        .sort();
}

test("the edge host gets nginx, varnish and the router", () => {
    expect(edgeUrl).toBe("http://10.213.7.10/");
    // edge-1 is also the control host (see "the control host gets ..." below)
    // (+ the lab's extra CAs for the control host's builds, when this machine has any)
    expect(paths("edge-1").filter((p) => !CONTROL_PATHS.includes(p) && !LOGPLEX_PATHS.includes(p) && !p.startsWith("/usr/local/share/ca-certificates/"))).toEqual([
        "/etc/dynoform/router-control.token",
        "/etc/dynoform/router-gossip.key",
        "/etc/dynoform/router-log.token",
        "/etc/dynoform/router.json",
        "/etc/nginx/dynoform/edge.conf",
        "/etc/nginx/nginx.conf",
        "/etc/systemd/system/dynoform-router.socket",
        "/etc/varnish/default.vcl",
        "/usr/local/lib/dynoform/dynoform-router",
    ]);
    const units = own("edge-1").filter((c) => c.type.endsWith("remote:Service")).map((c) => c.inputs.unit).sort();
    expect(units.filter((u) => u !== "dynoform-control" && u !== "dynoform-logplex")).toEqual(["dynoform-router", "nginx", "varnish"]);
    // No floating address: no keepalived anywhere (see platform-floating.test.ts).
    expect(created.filter((c) => c.name.includes("keepalived"))).toEqual([]);
});

const LOGPLEX_PATHS = ["/etc/dynoform/logplex-control.token", "/etc/dynoform/logplex.json", "/usr/local/lib/dynoform/dynoform-logplex"];

test("the control host gets the log router: binary, config on the private address with every sender's digest, control token, its own user and unit", () => {
    expect(paths("edge-1").filter((p) => LOGPLEX_PATHS.includes(p))).toEqual(LOGPLEX_PATHS);
    const config = JSON.parse(String(fileOn("edge-1", "/etc/dynoform/logplex.json").inputs.content));
    expect(config).toEqual({
        listen: "10.213.7.10:8093",
        tokenFile: "/etc/dynoform/logplex-control.token",
        dataDir: "/var/lib/dynoform-logplex",
        // Drains may not send into the private subnet, save to its gateway (the outside in the lab).
        drainRefusedNetworks: ["10.213.7.0/24"],
        drainAllowedAddresses: ["10.213.7.1"],
        senders: [
            { name: "agent.dyno-1", tokenSha256: sha256(secretOf("agent-log-token-dyno-1")) },
            { name: "agent.dyno-2", tokenSha256: sha256(secretOf("agent-log-token-dyno-2")) },
            { name: "router.edge-1", tokenSha256: sha256(secretOf("router-log-token-edge-1")) },
        ],
    });
    const token = fileOn("edge-1", "/etc/dynoform/logplex-control.token");
    expect(secretValue(token.inputs.content)).toBe(secretOf("logplex-control-token"));
    expect([token.inputs.mode, token.inputs.owner]).toEqual(["0640", "root:dynoform-logplex"]);
    const service = own("edge-1").find((c) => c.type.endsWith("remote:Service") && c.inputs.unit === "dynoform-logplex")!;
    expect(String(service.inputs.unitFile)).toContain("User=dynoform-logplex");
    const user = own("edge-1").find((c) => c.name === "edge-1-logplex-user")!;
    expect(String(user.inputs.create)).toContain("useradd --system");
    expect(String(user.inputs.delete)).toBe("userdel dynoform-logplex || true; rm -rf /var/lib/dynoform-logplex");
});

test("every sender gets the log router's URL and its own token; the control role its control token", () => {
    const url = "http://10.213.7.10:8093";
    for (const host of ["dyno-1", "dyno-2"]) {
        const agent = JSON.parse(String(fileOn(host, "/etc/dynoform/agent.json").inputs.content));
        expect(agent).toMatchObject({ logRouterUrl: url, logTokenFile: "/etc/dynoform/agent-log.token" });
        const token = fileOn(host, "/etc/dynoform/agent-log.token");
        expect(secretValue(token.inputs.content)).toBe(secretOf(`agent-log-token-${host}`));
        expect(token.inputs.mode).toBe("0600");
    }
    const router = JSON.parse(String(fileOn("edge-1", "/etc/dynoform/router.json").inputs.content));
    expect(router).toMatchObject({ logRouterUrl: url, logTokenFile: "/etc/dynoform/router-log.token" });
    const routerToken = fileOn("edge-1", "/etc/dynoform/router-log.token");
    expect(secretValue(routerToken.inputs.content)).toBe(secretOf("router-log-token-edge-1"));
    expect([routerToken.inputs.mode, routerToken.inputs.owner]).toEqual(["0640", "root:dynoform-router"]);
    const control = JSON.parse(String(secretValue(fileOn("edge-1", "/etc/dynoform/control.json").inputs.content)));
    expect(control).toMatchObject({ logRouterUrl: url, logRouterToken: secretOf("logplex-control-token") });
});

const CONTROL_PATHS = [
    "/etc/dynoform/addons.key",
    "/etc/dynoform/addons.known_hosts",
    "/etc/dynoform/control.json",
    "/etc/sudoers.d/dynoform-control",
    "/home/git/.ssh/authorized_keys",
    "/usr/local/lib/dynoform/dynoform-control",
    // the backup host (dynoform:backupHost unset: the control host)
    "/usr/local/sbin/dynoform-backup-store",
    "/var/lib/dynoform-backups/.ssh/authorized_keys",
];

test("the control host gets the git user's forced command, the binary, its config and the daemon", () => {
    expect(paths("edge-1").filter((p) => CONTROL_PATHS.includes(p))).toEqual(CONTROL_PATHS);
    const units = own("edge-1").filter((c) => c.type.endsWith("remote:Service")).map((c) => c.inputs.unit);
    expect(units).toContain("dynoform-control");
    const config = own("edge-1").find((c) => c.inputs.path === "/etc/dynoform/control.json")!;
    expect(config.inputs.mode).toBe("0600"); // tokens and the database admin URL
    const keys = own("edge-1").find((c) => c.inputs.path === "/home/git/.ssh/authorized_keys")!;
    expect(String(keys.inputs.content)).not.toContain("ssh-"); // under mocks the generated key is unknown; no other key configured
});

test("every dyno host gets the agent, pointed at the router", () => {
    for (const host of ["dyno-1", "dyno-2"]) {
        expect(paths(host)).toEqual(["/etc/dynoform/agent-log.token", "/etc/dynoform/agent.json", "/etc/dynoform/agent.token", "/etc/dynoform/registration.token", "/usr/local/lib/dynoform/dynoform-agent"]);
        const config = JSON.parse(own(host).find((c) => c.inputs.path === "/etc/dynoform/agent.json")!.inputs.content as string);
        expect(config.routers).toEqual([{ url: "http://10.213.7.10:8081" }]);
        expect(config.portRange).toEqual(DYNO_PORT_RANGE); // the range the firewall refuses to tenants on loopback
    }
});

test("a dyno host's removal takes what its agent made at runtime: the agent stops, then its dynos, their slice, users and state go", () => {
    for (const host of ["dyno-1", "dyno-2"]) {
        const leftovers = own(host).find((c) => c.name === `${host}-agent-leftovers`)!;
        const script = String(leftovers.inputs.delete);
        expect(script.indexOf("systemctl stop dynoform-agent.service")).toBeLessThan(script.indexOf("'dyno-*'"));
        expect(script).toContain("systemctl stop dynoform.slice");
        expect(script).toContain(`$3 >= ${DYNO_UID_RANGE[0]} && $3 <= ${DYNO_UID_RANGE[1]}`);
        expect(script).toContain("rm -rf /var/lib/dynoform-agent");
        expect(leftovers.inputs.create).toBe("true");
    }
});

test("the data host gets postgresql, no shared memcached, and per-app memcached through a forced command", () => {
    expect(paths("data-1")).toEqual([
        "/etc/postgresql/15/main/conf.d/dynoform.conf",
        "/etc/postgresql/15/main/pg_hba.conf",
        "/etc/systemd/system/dynoform-memcached@.service",
        "/etc/systemd/system/dynoform-pg-basebackup.service",
        "/etc/systemd/system/dynoform-pg-basebackup.timer",
        "/usr/local/sbin/dynoform-addons",
        "/usr/local/sbin/dynoform-pg-backup",
        "/var/lib/postgresql/.ssh/dynoform-backup",
        "/var/lib/postgresql/.ssh/dynoform-backup.known_hosts",
    ]);
    const services = own("data-1").filter((c) => c.type.endsWith("remote:Service"));
    expect(services.map((c) => [c.inputs.unit, c.inputs.enabled])).toEqual([
        ["memcached", false], // the shared, unauthenticated instance is off
        ["postgresql@15-main", undefined],
    ]);
    const packages = own("data-1").find((c) => c.type.endsWith("remote:Packages"))!;
    expect(packages.inputs.packages).toEqual(["postgresql", "memcached", "sasl2-bin"]);
    const unit = String(own("data-1").find((c) => c.inputs.path === "/etc/systemd/system/dynoform-memcached@.service")!.inputs.content);
    expect(unit).toContain("ExecStart=/usr/bin/memcached -S -U 0 -l 10.213.7.30 -p ${PORT} -m 80 -c 1024\n"); // memcachedMemoryMb: per app
    const script = own("data-1").find((c) => c.inputs.path === "/usr/local/sbin/dynoform-addons")!;
    expect(script.inputs.mode).toBe("0700");
    expect(String(script.inputs.content)).toContain('address="10.213.7.30"\nfirst_port=11300\nlast_port=11999\n');
    const key = own("data-1").find((c) => c.name === "data-1-addons-key")!;
    expect(String(key.inputs.create)).toContain(`'restrict,from="10.213.7.10",command="/usr/local/sbin/dynoform-addons" ${ADDONS_PUBLIC_KEY} dynoform-addons'`);
    expect(String(key.inputs.create)).toContain("/root/.ssh/authorized_keys"); // alongside the stack's own key, not over it
    const restart = own("data-1").find((c) => c.name === "data-1-memcached-instances")!;
    expect(restart.inputs.create).toContain("systemctl try-restart 'dynoform-memcached@*.service'");
    const hba = own("data-1").find((c) => c.inputs.path?.toString().endsWith("pg_hba.conf"))!;
    expect(hba.inputs.content).toContain("10.213.7.1/32  reject");
    // The operators' admin role: its password through psql's environment, member of no app role.
    const admin = String(own("data-1").find((c) => c.name === "data-1-postgresql-admin")!.inputs.create);
    expect(admin).toContain("\\getenv pw DYNOFORM_ADMIN_PASSWORD\n");
    expect(admin).not.toMatch(/-v pw=/);
    expect(admin).toContain("SELECT format('REVOKE %I FROM dynoform_admin', r.rolname)");
});

test("the control host gets the add-ons key (root-only, a secret), the data host's pinned key, and where to reach it", () => {
    const key = own("edge-1").find((c) => c.inputs.path === "/etc/dynoform/addons.key")!;
    expect([key.inputs.mode, key.inputs.owner]).toEqual(["0600", "root:root"]);
    expect(secretValue(key.inputs.content)).toBe(ADDONS_PRIVATE_KEY);
    const knownHosts = own("edge-1").find((c) => c.inputs.path === "/etc/dynoform/addons.known_hosts")!;
    expect(knownHosts.inputs.content).toBe("10.213.7.30 ssh-ed25519 AAAA\n");
    const config = JSON.parse(String(secretValue(own("edge-1").find((c) => c.inputs.path === "/etc/dynoform/control.json")!.inputs.content)));
    expect(config.addons).toEqual({ host: "10.213.7.30", port: 22, user: "root", keyFile: "/etc/dynoform/addons.key", knownHostsFile: "/etc/dynoform/addons.known_hosts" });
    expect(config).not.toHaveProperty("memcacheServers");
    expect(config).not.toHaveProperty("databaseAdminUrl"); // apps' databases are made on the data host
    // The private key appears nowhere but in its own file.
    for (const c of created) if (c.inputs.path !== "/etc/dynoform/addons.key") expect(JSON.stringify(c.inputs)).not.toContain("ADDONS-PRIVATE");
});

test("binaries ship by hash, never by content", () => {
    const binaries = created.filter((c) => c.type.endsWith("remote:Binary"));
    expect(binaries).toHaveLength(5);
    for (const b of binaries) {
        expect(b.inputs).not.toHaveProperty("content");
        expect(b.inputs.sha256).toMatch(/^[racl]{64}$/);
    }
});

test("secrets are generated by the stack, one per purpose", () => {
    const secrets = created.filter((c) => c.type.includes("GeneratedSecret")).map((c) => c.name).sort();
    expect(secrets).toEqual([
        "control-slug-signing-key",
        "dynoform-agent-log-token-dyno-1",
        "dynoform-agent-log-token-dyno-2",
        "dynoform-agent-token-dyno-1",
        "dynoform-agent-token-dyno-2",
        "dynoform-logplex-control-token",
        "dynoform-postgres-admin-password",
        "dynoform-registration-token-dyno-1",
        "dynoform-registration-token-dyno-2",
        "dynoform-router-gossip-key",
        "dynoform-router-log-token-edge-1",
        "dynoform-router-token",
        "dynoform-varnish-purge-token",
    ]);
    const keyPairs = created.filter((c) => c.type.includes("SshKeyPair")).map((c) => c.name).sort();
    expect(keyPairs).toEqual(["control-cli-key", "dynoform-addons-key", "dynoform-pg-backup-key"]);
});

test("PostgreSQL's backups: WAL archived to the control host's disk through a forced command only the data host's backup key runs", () => {
    const conf = String(own("data-1").find((c) => c.inputs.path === "/etc/postgresql/15/main/conf.d/dynoform.conf")!.inputs.content);
    expect(conf).toContain("archive_mode = on\narchive_command = '/usr/local/sbin/dynoform-pg-backup wal-push %p %f'\narchive_timeout = 60\n");
    const script = String(own("data-1").find((c) => c.inputs.path === "/usr/local/sbin/dynoform-pg-backup")!.inputs.content);
    expect(script).toContain("-p 22 -l dynoform-backup 10.213.7.10 \"$@\"");
    expect(script).toContain('retention_days="7"');
    const key = own("data-1").find((c) => c.inputs.path === "/var/lib/postgresql/.ssh/dynoform-backup")!;
    expect(key.inputs).toMatchObject({ owner: "postgres:postgres", mode: "0600" });
    expect(secretValue(key.inputs.content)).toBe(PG_BACKUP_PRIVATE_KEY);
    expect(String(own("data-1").find((c) => c.inputs.path === "/var/lib/postgresql/.ssh/dynoform-backup.known_hosts")!.inputs.content)).toBe("10.213.7.10 ssh-ed25519 AAAA\n");
    const timer = String(own("data-1").find((c) => c.inputs.path === "/etc/systemd/system/dynoform-pg-basebackup.timer")!.inputs.content);
    expect(timer).toContain("OnCalendar=*-*-* 02:00:00 UTC\n");
    const authorized = own("edge-1").find((c) => c.inputs.path === "/var/lib/dynoform-backups/.ssh/authorized_keys")!;
    expect(authorized.inputs).toMatchObject({ owner: "dynoform-backup:dynoform-backup", mode: "0600" });
    expect(String(authorized.inputs.content)).toBe(`restrict,from="10.213.7.30",command="/usr/local/sbin/dynoform-backup-store" ${PG_BACKUP_PUBLIC_KEY} dynoform-pg-backup\n`);
});

/** The value inside a secret input, or undefined when it is not a secret. */
function secretOrUndefined(v: unknown): unknown {
    const o = v as Record<string, unknown> | undefined;
    return o && o[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig ? o.value : undefined;
}

/** Every string in a resource's inputs that is not inside a secret. */
function plainStrings(v: unknown): string[] {
    if (typeof v === "string") return [v];
    if (secretOrUndefined(v) !== undefined || v === null || typeof v !== "object") return [];
    return Object.values(v as Record<string, unknown>).flatMap(plainStrings);
}

test("the control host's config carries the slug-signing key, as a secret; the key is nowhere in plaintext", () => {
    const key = "secret-control-slug-signing-key"; // the mocks' value of the GeneratedSecret
    const config = own("edge-1").find((c) => c.inputs.path === "/etc/dynoform/control.json")!;
    const content = secretValue(config.inputs.content);
    expect(typeof content).toBe("string");
    expect(JSON.parse(content as string)).toMatchObject({ slugSigningKey: key, slugListen: "10.213.7.10:5080", slugBaseUrl: "http://10.213.7.10:5080/slugs" });
    const leaks = created.filter((c) => plainStrings(c.inputs).some((s) => s.includes(key))).map((c) => c.name);
    expect(leaks).toEqual([]);
    // agents get per-slug tokens from the control role at rollout, never the key
    for (const host of ["dyno-1", "dyno-2"]) expect(JSON.stringify(on(host).map((c) => c.inputs))).not.toContain(key);
});

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
/** The mocks' value of each GeneratedSecret. */
const secretOf = (name: string) => `secret-dynoform-${name}`;
const fileOn = (host: string, p: string) => on(host).find((c) => c.inputs.path === p)!;

test("the edges' Varnish takes BAN from the control host with the purge token; control.json names every edge's Varnish; the token is only in secrets", () => {
    const token = secretOf("varnish-purge-token");
    const vcl = fileOn("edge-1", "/etc/varnish/default.vcl");
    expect(vcl.inputs).toMatchObject({ mode: "0640", owner: "root:varnish" });
    const text = String(secretValue(vcl.inputs.content));
    expect(text).toContain('acl dynoform_purgers {\n    "10.213.7.10";\n}');
    expect(text).toContain(`req.http.X-Dynoform-Purge-Token != "${token}"`);
    const control = JSON.parse(String(secretValue(fileOn("edge-1", "/etc/dynoform/control.json").inputs.content)));
    expect(control).toMatchObject({ edgeCaches: ["http://10.213.7.10:6081"], edgeCacheToken: token });
    expect(created.filter((c) => plainStrings(c.inputs).some((s) => s.includes(token))).map((c) => c.name)).toEqual([]);
    for (const host of ["dyno-1", "dyno-2", "data-1"]) expect(JSON.stringify(on(host).map((c) => c.inputs))).not.toContain(token);
});

test("each dyno host holds only its own credentials, as secrets; the routers keep only their hashes", () => {
    for (const [host, other] of [["dyno-1", "dyno-2"], ["dyno-2", "dyno-1"]]) {
        const registration = fileOn(host, "/etc/dynoform/registration.token");
        expect(secretValue(registration.inputs.content)).toBe(secretOf(`registration-token-${host}`));
        expect(registration.inputs.mode).toBe("0600");
        expect(secretValue(fileOn(host, "/etc/dynoform/agent.token").inputs.content)).toBe(secretOf(`agent-token-${host}`));
        const everything = JSON.stringify(on(host).map((c) => c.inputs));
        for (const foreign of [`registration-token-${other}`, `agent-token-${other}`, `agent-log-token-${other}`, "router-token", "router-gossip-key", "logplex-control-token", "router-log-token-edge-1"]) expect(everything).not.toContain(secretOf(foreign));
    }
    const router = JSON.parse(String(fileOn("edge-1", "/etc/dynoform/router.json").inputs.content));
    expect(router.agents).toEqual([
        { address: "10.213.7.21", tokenSha256: sha256(secretOf("registration-token-dyno-1")) },
        { address: "10.213.7.22", tokenSha256: sha256(secretOf("registration-token-dyno-2")) },
    ]);
    expect(secretValue(fileOn("edge-1", router.tokenFile).inputs.content)).toBe(secretOf("router-token"));
    expect(router.tokenFile).toBe("/etc/dynoform/router-control.token"); // registration.token is a dyno host's credential
    const gossip = fileOn("edge-1", "/etc/dynoform/router-gossip.key");
    expect(secretValue(gossip.inputs.content)).toBe(secretOf("router-gossip-key"));
    expect([gossip.inputs.mode, gossip.inputs.owner]).toEqual(["0640", "root:dynoform-router"]);
});

test("the control role holds the routers' control token and one token per agent, and no registration credential", () => {
    const config = JSON.parse(String(secretValue(fileOn("edge-1", "/etc/dynoform/control.json").inputs.content)));
    const agentUrl = (address: string) => `http://${address}:${config.agents[0].split(":").pop()}`;
    expect(config.agents).toEqual([agentUrl("10.213.7.21"), agentUrl("10.213.7.22")]);
    expect(config.agentTokens).toEqual({ [agentUrl("10.213.7.21")]: secretOf("agent-token-dyno-1"), [agentUrl("10.213.7.22")]: secretOf("agent-token-dyno-2") });
    expect(config).not.toHaveProperty("agentToken");
    expect(config.routerToken).toBe(secretOf("router-token"));
    expect(JSON.stringify(config)).not.toContain("registration-token");
    expect(JSON.stringify(config)).not.toContain("gossip-key");
});

test("no credential appears in plaintext in any resource's inputs", () => {
    const names = created.filter((c) => c.type.includes("GeneratedSecret")).map((c) => `secret-${c.name}`);
    expect(names.length).toBeGreaterThan(0);
    const leaks = created.flatMap((c) => plainStrings(c.inputs).filter((s) => names.some((n) => s.includes(n))).map(() => c.name));
    expect(leaks).toEqual([]);
});

test("every host gets the firewall: nftables, its rules and the oneshot that loads them, reloaded when they or the unit change", () => {
    for (const host of ["edge-1", "dyno-1", "dyno-2", "data-1"]) {
        const mine = on(host).filter((c) => c.name.startsWith(`${host}-firewall-`));
        expect(mine.map((c) => c.name).sort()).toEqual([`${host}-firewall-nftables`, `${host}-firewall-rules`, `${host}-firewall-service`]);
        expect(mine.find((c) => c.type.endsWith("remote:Packages"))!.inputs.packages).toEqual(["nftables", "netbase"]);
        const rules = mine.find((c) => c.inputs.path === "/etc/dynoform/firewall.nft")!;
        const service = mine.find((c) => c.type.endsWith("remote:Service"))!;
        expect(service.inputs.unit).toBe("dynoform-firewall");
        expect(String(service.inputs.unitFile)).toContain("ExecStart=/usr/sbin/nft -f /etc/dynoform/firewall.nft");
        expect(service.inputs.reloadTriggers).toEqual([`sha-of-${host}-firewall-rules`]);
        expect(service.inputs.onUnitChange).toBe("reload"); // a restart would stop it: no table for a moment
        const text = String(rules.inputs.content);
        expect(text).toContain("ip saddr { 10.213.7.1 } drop"); // the lab gateway is the outside
        expect(text).toContain("ip saddr 10.213.7.0/24 accept");
        expect(text.includes("\n        tcp dport { 80, 443 } accept")).toBe(host === "edge-1"); // (inbound, from anywhere)
        // Dyno hosts police their dynos: the data host's PostgreSQL and Memcached, nothing else private.
        expect(text.includes("meta skuid 3000000-3099999 jump tenant")).toBe(host.startsWith("dyno-"));
        expect(text.includes("meta skuid 2000000-2099999 jump tenant")).toBe(host === "edge-1"); // the control host's builds
        if (host.startsWith("dyno-")) {
            expect(text).toContain("ip daddr 10.213.7.30 tcp dport { 5432, 11300-11999 } accept");
            expect(text).toContain("ip daddr 10.213.7.0/24 jump refuse");
            expect(text).toContain("ip daddr { 10.213.7.10 } tcp dport { 80, 443 } accept"); // the edge's nginx, as from anywhere
            expect(text).toContain("ip daddr 127.0.0.0/8 tcp dport { 5100, 20000-29999 } jump refuse");
        }
    }
});
