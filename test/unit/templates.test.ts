import { render } from "../../components/templates/render";
import { removeSelfSignedCertificateCommand, selfSignedCertificateCommand, vclVars } from "../../components/edge/edge";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ADMIN_ROLE, MEMCACHED_PORTS, pgHbaRejects, POSTGRES_PORT } from "../../components/data/data";
import { archiveSettings } from "../../components/data/pg_backups";
import { BUILD_UID_RANGE, DYNO_PORT_RANGE, DYNO_UID_RANGE, firewallRules } from "../../components/firewall";
import { BUILD_UID_RANGE as CONTROL_BUILD_UID_RANGE } from "../../packages/control/src/build_users";
import { resolveConfig as resolveAgentConfig } from "../../packages/agent/src/config";
import { DYNO_UID_RANGE as AGENT_DYNO_UID_RANGE } from "../../packages/agent/src/users";
import { DEFAULTS as ROUTER_DEFAULTS } from "../../packages/router/src/config";
import { DEFAULTS as LOGPLEX_DEFAULTS } from "../../packages/logplex/src/config";
import { LOGPLEX_PORT } from "../../components/logs";

// Snapshots of the real config files as the components render them for the lab.
const LAB_PURGE = { controlAddress: "10.213.1.10", token: "ab".repeat(32) };
const EDGE_VARS = { varnishAddress: "10.213.1.10:6081", domain: "dynoform.test", apiAddress: "10.213.1.5:5200" };
describe("templates", () => {
    test("nginx.conf", () => {
        expect(render("nginx/nginx.conf", { clientMaxBodySize: "100m" })).toMatchSnapshot();
    });

    test("nginx edge server: every host name to Varnish (the routers know the apps)", () => {
        const conf = render("nginx/edge.conf", EDGE_VARS);
        expect(conf).toMatch(/listen 80 default_server;\n\s+listen 443 ssl http2 default_server;\n\s+server_name _;/);
        expect(conf.match(/^server \{/gm)).toHaveLength(2);
        expect(conf).toContain("server 10.213.1.10:6081;");
        expect(conf).toContain("proxy_set_header X-Request-Start $dynoform_request_start;");
        // One address, the peer's: never appended to what the client sent.
        expect(conf).toContain("proxy_set_header X-Forwarded-For $remote_addr;");
        expect(conf).not.toContain("$proxy_add_x_forwarded_for");
        expect(conf).toMatchSnapshot();
    });

    test("nginx: api.<domain> goes to the control host's API on its private address, over TLS only, streams unbuffered", () => {
        const conf = render("nginx/edge.conf", EDGE_VARS);
        const api = conf.slice(conf.indexOf("server_name api.dynoform.test dashboard.dynoform.test;"));
        expect(api).toMatch(/^server_name api\.dynoform\.test dashboard\.dynoform\.test;\n\n\s+ssl_certificate \/etc\/dynoform\/tls\/edge\.crt;/);
        expect(api).toContain("return 308 https://$host$request_uri;");
        expect(api).toContain("proxy_pass http://10.213.1.5:5200;");
        expect(api).toContain("proxy_set_header X-Forwarded-Proto $scheme;");
        expect(api).toContain("proxy_buffering off;");
        // Never through Varnish: no app can answer for the API.
        expect(api).not.toContain("dynoform_upstream");
    });

    test("nginx: a request with Upgrade never travels on a pooled (keep-alive) connection to Varnish", () => {
        const conf = render("nginx/edge.conf", EDGE_VARS);
        const upstream = (name: string) => conf.match(new RegExp(`^upstream ${name} \\{\\n([^}]*)\\}`, "m"))?.[1];
        expect(upstream("dynoform_varnish")).toContain("keepalive 64;");
        expect(upstream("dynoform_varnish_upgrade")).toBe("    server 10.213.1.10:6081;\n");
        // Any non-empty Upgrade picks the upstream without keepalive; only requests without it use the pool.
        expect(conf).toMatch(/^map \$http_upgrade \$dynoform_upstream \{\n\s+default dynoform_varnish_upgrade;\n\s+"" +dynoform_varnish;\n\}/m);
        expect(conf.match(/proxy_pass .*;/g)).toEqual(["proxy_pass http://$dynoform_upstream;", "proxy_pass http://10.213.1.5:5200;"]);
        expect(conf.match(/^\s*keepalive /gm)).toHaveLength(1);
    });

    test("varnish VCL with two routers", () => {
        const vcl = render("varnish/default.vcl", vclVars([
            { address: "10.213.1.10", port: 8080 },
            { address: "10.213.1.11", port: 8080 },
        ], LAB_PURGE));
        expect(vcl).toContain('backend router_1 {\n    .host = "10.213.1.11";');
        expect(vcl).toContain("routers.add_backend(router_1);");
        expect(vcl).toMatchSnapshot();
    });

    test("varnish: only this host's nginx sets the forwarded headers, and Varnish's own append is undone", () => {
        const vcl = render("varnish/default.vcl", vclVars([{ address: "10.213.1.10", port: 8080 }], LAB_PURGE));
        const recv = vcl.match(/^sub vcl_recv \{\n([\s\S]*?)^\}/m)?.[1] ?? "";
        expect(recv).toContain("if (client.ip == server.ip) {");
        for (const h of ["X-Forwarded-Proto", "X-Forwarded-Port", "X-Request-Start"]) expect(recv).toContain(`unset req.http.${h};`);
        expect(recv).toContain("set req.http.X-Forwarded-For = client.ip;");
    });

    test("varnish: piped requests keep Connection: close (a WebSocket handshake gets Upgrade, close)", () => {
        const vcl = render("varnish/default.vcl", vclVars([{ address: "10.213.1.10", port: 8080 }], LAB_PURGE));
        const pipe = vcl.match(/^sub vcl_pipe \{\n([\s\S]*?)^\}/m)?.[1] ?? "";
        const sets = pipe.split("\n").filter((l) => /^\s*(set|unset) /.test(l)).map((l) => l.trim());
        expect(sets).toEqual(["set bereq.http.Upgrade = req.http.Upgrade;", 'set bereq.http.Connection = "Upgrade, close";']);
        expect(pipe).not.toMatch(/= *req\.http\.Connection/); // never the client's Connection
    });

    test("varnish: BAN only from the control host's address with the purge token; bans test obj.http only (lurker-friendly)", () => {
        const vcl = render("varnish/default.vcl", vclVars([{ address: "10.213.1.10", port: 8080 }], LAB_PURGE));
        expect(vcl).toMatch(/^acl dynoform_purgers \{\n    "10\.213\.1\.10";\n\}/m);
        const recv = vcl.match(/^sub vcl_recv \{\n([\s\S]*?)^\}/m)?.[1] ?? "";
        expect(recv.trimStart().startsWith('if (req.method == "BAN") {\n        call dynoform_ban;')).toBe(true);
        const ban = vcl.match(/^sub dynoform_ban \{\n([\s\S]*?)^\}/m)?.[1] ?? "";
        expect(ban).toContain(`if (client.ip !~ dynoform_purgers || req.http.X-Dynoform-Purge-Token != "${"ab".repeat(32)}") {\n        return (synth(403, "Forbidden"));`);
        for (const expr of ban.match(/std\.ban\(([^;]*)\)\)/g) ?? []) expect(expr).not.toMatch(/"(req|obj)\.url/);
        expect(ban.match(/std\.ban\(/g)).toHaveLength(2);
        const beresp = vcl.match(/^sub vcl_backend_response \{\n([\s\S]*?)^\}/m)?.[1] ?? "";
        expect(beresp.trimStart().startsWith("# What a ban matches on")).toBe(true);
        const deliver = vcl.match(/^sub vcl_deliver \{\n([\s\S]*?)^\}/m)?.[1] ?? "";
        expect(deliver).toContain("unset resp.http.X-Dynoform-Host;");
        expect(deliver).toContain("unset resp.http.X-Dynoform-Path;");
    });

    test("varnish: a purge token that could break out of its VCL string is refused", () => {
        expect(() => vclVars([], { controlAddress: "10.0.0.1", token: 'x"; }' })).toThrow("16 or more letters, digits, - or _");
    });

    test("varnish listens on the private address only", () => {
        expect(render("varnish/varnish.override.conf", { listenAddress: "10.213.1.10", listenPort: 6081, cacheSize: "256m" })).toMatchSnapshot();
    });

    test("varnish starts again until its address is there (a reboot of the control host in the lab CI left it failed on 'Cannot assign requested address')", () => {
        const unit = render("varnish/varnish.override.conf", { listenAddress: "10.213.1.10", listenPort: 6081, cacheSize: "256m" });
        expect(unit).toMatch(/^Restart=on-failure$/m);
        expect(unit).toMatch(/^StartLimitIntervalSec=0$/m);
        expect(unit).toMatch(/^After=network-online\.target$/m);
    });

    test("memcached per app: SASL, private address, memory from config, no UDP, hardened, port from the instance's env", () => {
        const unit = render("memcached/dynoform-memcached@.service", { listenAddress: "10.213.1.30", memoryMb: 96, maxConnections: 1024 });
        const execStart = /^ExecStart=(.*)$/m.exec(unit)![1].split(" ");
        expect(execStart[0]).toBe("/usr/bin/memcached");
        expect(execStart).toContain("-S"); // SASL: binary protocol, PLAIN, the app's credentials
        expect(execStart.join(" ")).toContain("-U 0"); // no UDP
        expect(execStart.join(" ")).toContain("-l 10.213.1.30 -p ${PORT} -m 96 ");
        expect(execStart).not.toContain("-A"); // no shutdown command
        expect(unit).toContain("EnvironmentFile=/etc/dynoform-memcached/%i/env\n");
        expect(unit).toContain("Environment=SASL_CONF_PATH=/etc/dynoform-memcached/%i\n");
        for (const line of ["User=memcache", "NoNewPrivileges=yes", "ProtectSystem=strict", "CapabilityBoundingSet=", "WantedBy=multi-user.target"]) expect(unit).toContain(`\n${line}\n`);
        expect(unit).toMatchSnapshot();
    });

    test("dynoform-addons: the data host's forced command", () => {
        const script = render("data/dynoform-addons", { listenAddress: "10.213.1.30", firstPort: 11300, lastPort: 11999 });
        expect(script).toContain('address="10.213.1.30"\nfirst_port=11300\nlast_port=11999\n');
        expect(script).toContain("grep -Eqx '[a-z][a-z0-9-]{1,28}[a-z0-9]'"); // the control role's app name rule
        expect(script).toMatchSnapshot();
    });

    test("postgresql: scram, private subnet, gateway rejected", () => {
        // and a role opens only its own database, but the stack's admin role
        expect(render("postgresql/dynoform.conf", { listenAddress: "10.213.1.30", maxConnections: 200, archive: archiveSettings() })).toMatchSnapshot();
        const hba = render("postgresql/pg_hba.conf", { privateSubnet: "10.213.1.0/24", rejects: pgHbaRejects(["10.213.1.1"]) });
        expect(hba.indexOf("10.213.1.1/32  reject")).toBeLessThan(hba.indexOf("10.213.1.0/24  scram-sha-256"));
        expect(hba).not.toMatch(/\btrust\b|\bmd5\b|0\.0\.0\.0/);
        const host = hba.split("\n").filter((l) => l.startsWith("host ")).map((l) => l.split(/\s+/));
        // app_<app> may open app_<app> only (sameuser), from loopback or the private subnet; the stack's admin role any database
        expect(host.filter((f) => f[4] !== "reject")).toEqual([
            ["host", "all", ADMIN_ROLE, "127.0.0.1/32", "scram-sha-256"],
            ["host", "sameuser", "all", "127.0.0.1/32", "scram-sha-256"],
            ["host", "all", ADMIN_ROLE, "10.213.1.0/24", "scram-sha-256"],
            ["host", "sameuser", "all", "10.213.1.0/24", "scram-sha-256"],
        ]);
        expect(hba).toMatchSnapshot();
    });

    test("self-signed certificate covers the platform domain and its apps", () => {
        expect(selfSignedCertificateCommand("dynoform.test")).toContain('subjectAltName=DNS:dynoform.test,DNS:*.dynoform.test');
    });

    test("destroy removes the self-signed certificate it made, never one the user put in its place", () => {
        const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-tls-")), "tls");
        const sh = (script: string) => execFileSync("sh", ["-c", script], { encoding: "utf8" });
        try {
            sh(selfSignedCertificateCommand("dynoform.test", dir));
            expect(fs.readFileSync(path.join(dir, "edge.crt"), "utf8")).toContain("BEGIN CERTIFICATE");
            sh(removeSelfSignedCertificateCommand(dir));
            expect(fs.existsSync(dir)).toBe(false);

            sh(selfSignedCertificateCommand("dynoform.test", dir));
            fs.writeFileSync(path.join(dir, "edge.crt"), "the user's own certificate\n"); // dynoform:tlsCertificate set since
            sh(removeSelfSignedCertificateCommand(dir));
            expect(fs.readFileSync(path.join(dir, "edge.crt"), "utf8")).toBe("the user's own certificate\n");
            expect(fs.existsSync(path.join(dir, ".self-signed"))).toBe(false);
        } finally {
            fs.rmSync(path.dirname(dir), { recursive: true, force: true });
        }
    });

    test("a missing value is an error, never a literal placeholder", () => {
        expect(() => render("memcached/dynoform-memcached@.service", { listenAddress: "10.0.0.1" })).toThrow("template memcached/dynoform-memcached@.service: no value for {{memoryMb}}");
    });
});

describe("edge timeouts", () => {
    test("each layer waits longer than the one behind it: router < Varnish < nginx", () => {
        const seconds = (text: string, re: RegExp) => Number(re.exec(text)?.[1]);
        const vcl = render("varnish/default.vcl", vclVars([{ address: "10.213.1.10", port: 8080 }], LAB_PURGE));
        const nginx = render("nginx/edge.conf", EDGE_VARS);
        // The router's longest silence before its own answer: H12 (from arrival, plus a connect) or H15.
        const routerFirstByte = (ROUTER_DEFAULTS.firstByteTimeoutMs + ROUTER_DEFAULTS.connectTimeoutMs) / 1000;
        const routerIdle = ROUTER_DEFAULTS.idleTimeoutMs / 1000;
        const firstByte = seconds(vcl, /\.first_byte_timeout = (\d+)s;/);
        const betweenBytes = seconds(vcl, /\.between_bytes_timeout = (\d+)s;/);
        const read = seconds(nginx, /proxy_read_timeout (\d+)s;/);
        expect(firstByte).toBeGreaterThan(Math.max(routerFirstByte, routerIdle));
        expect(betweenBytes).toBeGreaterThan(routerIdle);
        expect(read).toBeGreaterThan(Math.max(firstByte, betweenBytes));
        expect(seconds(nginx, /proxy_send_timeout (\d+)s;/)).toBeGreaterThan(routerIdle);
    });
});

describe("service templates", () => {
    test("router config and hardened unit", () => {
        const agents = [{ address: "10.213.1.21", tokenSha256: "a".repeat(64) }];
        const json = JSON.parse(render("router/router.json", { privateAddress: "10.213.1.10", port: 8080, controlPort: 8081, platformDomain: "dynoform.test", tokenFile: "/etc/dynoform/router-control.token", agents: JSON.stringify(agents), logRouterUrl: "http://10.213.1.40:8093", logTokenFile: "/etc/dynoform/router-log.token" }));
        expect(json).toMatchObject({ listen: "10.213.1.10:8080", controlListen: "10.213.1.10:8081", tokenFile: "/etc/dynoform/router-control.token", agents, logRouterUrl: "http://10.213.1.40:8093", logTokenFile: "/etc/dynoform/router-log.token" });
        // Every key is one the router knows (an unknown key stops it at start).
        for (const key of Object.keys(json)) expect(ROUTER_DEFAULTS).toHaveProperty(key);
        const unit = render("router/dynoform-router.service", {});
        expect(unit).toContain("User=dynoform-router");
        expect(unit).toContain("Restart=always");
        expect(unit).toContain("LimitNOFILE=1048576");
        expect(unit).toMatchSnapshot();
    });

    test("agent config and unit", () => {
        const json = JSON.parse(render("agent/agent.json", { stateDir: "/var/lib/dynoform-agent", privateAddress: "10.213.1.21", port: 5100, portRange: JSON.stringify(DYNO_PORT_RANGE), routers: JSON.stringify([{ url: "http://10.213.1.10:8081" }]), logRouterUrl: "http://10.213.1.40:8093", logTokenFile: "/etc/dynoform/agent-log.token" }));
        expect(json).toMatchObject({ listen: "10.213.1.21:5100", address: "10.213.1.21", routers: [{ url: "http://10.213.1.10:8081" }], supervisor: "systemd", logRouterUrl: "http://10.213.1.40:8093", logTokenFile: "/etc/dynoform/agent-log.token" });
        // The agent gives dynos the ports the firewall refuses to tenants on loopback.
        expect(resolveAgentConfig({ ...json, token: "t", registrationToken: "r" }).portRange).toEqual(DYNO_PORT_RANGE);
        const unit = render("agent/dynoform-agent.service", {});
        expect(unit).toContain("KillMode=process");
        expect(unit).toMatchSnapshot();
    });

    test("log router config and hardened unit", () => {
        const senders = [{ name: "agent.dyno1", tokenSha256: "a".repeat(64) }];
        const json = JSON.parse(
            render("logplex/logplex.json", {
                privateAddress: "10.213.1.40",
                port: 8093,
                tokenFile: "/etc/dynoform/logplex-control.token",
                senders: JSON.stringify(senders),
                drainRefusedNetworks: JSON.stringify(["10.213.1.0/24"]),
                drainAllowedAddresses: JSON.stringify(["10.213.1.1"]),
            }),
        );
        expect(json).toEqual({
            listen: "10.213.1.40:8093",
            tokenFile: "/etc/dynoform/logplex-control.token",
            dataDir: "/var/lib/dynoform-logplex",
            senders,
            drainRefusedNetworks: ["10.213.1.0/24"],
            drainAllowedAddresses: ["10.213.1.1"],
        });
        // Every key is one the log router knows, and it starts with them.
        for (const key of Object.keys(json)) expect(LOGPLEX_DEFAULTS).toHaveProperty(key);
        const unit = render("logplex/dynoform-logplex.service", {});
        expect(unit).toContain("User=dynoform-logplex");
        expect(unit).toContain("StateDirectory=dynoform-logplex");
        expect(unit).toContain("ExecStart=/usr/local/lib/dynoform/dynoform-logplex --config /etc/dynoform/logplex.json");
        for (const hardening of ["NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet=\n"]) expect(unit).toContain(hardening);
    });
});

describe("host firewall (templates/firewall)", () => {
    const lab = { sshPort: 22, privateSubnet: "10.213.1.0/24", outsideAddresses: ["10.213.1.1"] };
    const tenantPolicy = {
        dataAddress: "10.213.1.30",
        edgeAddresses: ["10.213.1.10", "10.213.1.10"],
        postgresPort: POSTGRES_PORT,
        memcachedPorts: MEMCACHED_PORTS,
        agentPort: 5100,
        uids: [DYNO_UID_RANGE],
    };
    const edge = firewallRules({ ...lab, hostName: "edge-1", roles: ["edge", "control"], public: true, tenantPolicy: { ...tenantPolicy, uids: [BUILD_UID_RANGE] } });
    const dyno = firewallRules({ ...lab, hostName: "dyno-1", roles: ["dyno"], public: false, tenantPolicy });
    const data = firewallRules({ ...lab, hostName: "data-1", roles: ["data"], public: false });
    const server = firewallRules({ sshPort: 2222, privateSubnet: "10.0.0.0/24", outsideAddresses: [], hostName: "dyno-1", roles: ["dyno"], public: false, tenantPolicy: { ...tenantPolicy, dataAddress: "10.0.0.30", edgeAddresses: ["10.0.0.10", "203.0.113.10"] } });
    const lines = (rules: string, chain: string) => {
        const body = rules.slice(rules.indexOf(`chain ${chain} {`));
        return body.slice(0, body.indexOf("\n    }")).split("\n").slice(1).map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
    };

    test("inbound: SSH and the edge's 80/443 from anywhere, the rest from the private subnet without the lab gateway", () => {
        expect(lines(edge, "input")).toEqual([
            "type filter hook input priority filter; policy drop;",
            'iif "lo" accept',
            "ct state established,related accept",
            "ct state invalid drop",
            "meta l4proto { icmp, ipv6-icmp } accept",
            "tcp dport 22 accept",
            "tcp dport { 80, 443 } accept",
            "ip saddr { 10.213.1.1 } drop",
            "ip saddr 10.213.1.0/24 accept",
        ]);
        expect(lines(data, "input")).not.toContain("tcp dport { 80, 443 } accept");
        expect(lines(server, "input")).toContain("tcp dport 2222 accept");
        expect(lines(server, "input").filter((l) => l.startsWith("ip saddr {"))).toEqual([]); // no outside address inside a servers stack's subnet
        // The one table is replaced as a whole; nobody else's rules are touched.
        for (const rules of [edge, dyno, data, server]) {
            expect(rules).toMatch(/^table inet dynoform_host \{\}\ndelete table inet dynoform_host\n\ntable inet dynoform_host \{$/m);
            expect(rules).not.toMatch(/flush ruleset|\{\{/);
            expect(rules.match(/^(table|delete|flush) .*$/gm)).toEqual(["table inet dynoform_host {}", "delete table inet dynoform_host", "table inet dynoform_host {"]);
        }
    });

    test("the log router's port: open to the private subnet (agents, routers), refused to tenant code (builds on its host, dynos elsewhere)", () => {
        expect(lines(edge, "input")).toContain("ip saddr 10.213.1.0/24 accept");
        for (const rules of [edge, dyno]) {
            const tenant = lines(rules, "tenant");
            // Nothing accepts it: the only accepts are DNS, the data host's ports and the edges' public ports.
            expect(tenant.filter((l) => l.includes("accept")).join("\n")).not.toContain(String(LOGPLEX_PORT));
            expect(tenant).toContain("ip daddr != 127.0.0.0/8 fib daddr type local jump refuse"); // its own host's private address
            expect(tenant).toContain("ip daddr 10.213.1.0/24 jump refuse"); // another host's
        }
    });

    test("outbound: hosts that run tenant code police it by uid (dynos, builds): DNS and the data host's ports, then refuse the private network and this host", () => {
        expect(data).not.toContain("chain output");
        expect(lines(dyno, "output")).toEqual(["type filter hook output priority filter; policy accept;", "ct state established,related accept", "meta skuid 3000000-3099999 jump tenant"]);
        // A build runs the pushed code (npm install scripts) on the control host: the same policy, by the build users' uids.
        expect(lines(edge, "output")).toContain("meta skuid 2000000-2099999 jump tenant");
        expect(lines(edge, "tenant")).toEqual(lines(dyno, "tenant"));
        const both = firewallRules({ ...lab, hostName: "all-1", roles: ["dyno", "control"], public: false, tenantPolicy: { ...tenantPolicy, uids: [DYNO_UID_RANGE, BUILD_UID_RANGE] } });
        expect(lines(both, "output")).toContain("meta skuid { 3000000-3099999, 2000000-2099999 } jump tenant");
        expect(lines(dyno, "tenant")).toEqual([
            "meta l4proto { tcp, udp } th dport 53 accept",
            "ip daddr 10.213.1.30 tcp dport { 5432, 11300-11999 } accept",
            "ip daddr { 10.213.1.10 } tcp dport { 80, 443 } accept",
            "ip daddr 127.0.0.0/8 tcp dport { 5100, 20000-29999 } jump refuse",
            "ip6 daddr ::1 tcp dport { 5100, 20000-29999 } jump refuse",
            "ip daddr != 127.0.0.0/8 fib daddr type local jump refuse",
            "ip6 daddr != ::1 fib daddr type local jump refuse",
            "ip daddr 10.213.1.0/24 jump refuse",
            // a cloud's instance metadata service (169.254.169.254) holds the host's user data: its SSH keys
            "ip daddr 169.254.0.0/16 jump refuse",
        ]);
        expect(lines(dyno, "refuse")).toEqual(["meta l4proto tcp reject with tcp reset", "reject with icmpx type admin-prohibited"]);
        expect(lines(server, "tenant")).toContain("ip daddr 10.0.0.30 tcp dport { 5432, 11300-11999 } accept");
        expect(lines(server, "tenant")).toContain("ip daddr { 10.0.0.10, 203.0.113.10 } tcp dport { 80, 443 } accept");
        expect(edge).toMatchSnapshot();
        expect(dyno).toMatchSnapshot();
    });

    test("the dyno block is the agent's, the build block the control role's (agent.json sets the port range: see the agent config test)", () => {
        expect(DYNO_UID_RANGE).toEqual(AGENT_DYNO_UID_RANGE);
        expect(BUILD_UID_RANGE).toEqual(CONTROL_BUILD_UID_RANGE);
    });

    test("the unit loads the file, reloads in one transaction and deletes only its table on stop (so the stack reloads it for a new unit too)", () => {
        const unit = render("firewall/dynoform-firewall.service", {});
        expect(unit).toContain("Type=oneshot\nRemainAfterExit=yes");
        expect(unit).toContain("ExecStart=/usr/sbin/nft -f /etc/dynoform/firewall.nft");
        expect(unit).toContain("ExecReload=/usr/sbin/nft -f /etc/dynoform/firewall.nft");
        expect(unit).toContain("ExecStop=-/usr/sbin/nft delete table inet dynoform_host");
        expect(unit).toMatchSnapshot();
    });

    // The real kernel: each ruleset loads in a network namespace of its own, and a dyno uid's
    // connections are refused at once where the policy says so, while root's are not.
    const netnsReady = process.getuid?.() === 0 && fs.existsSync("/usr/sbin/nft") && fs.existsSync("/usr/bin/unshare") && fs.existsSync("/usr/bin/setpriv");
    (netnsReady ? test : test.skip)("in a network namespace: the rules load, and a dyno is refused the agent and the private network but reaches the data host", () => {
        const script = [
            "set -e",
            "ip link set lo up",
            "ip link add v0 type veth peer name v1 && ip link set v0 up && ip addr add 10.213.1.21/24 dev v0",
            "nft -f /dev/stdin",
            "nft list table inet dynoform_host >/dev/null",
            // listeners for root and the dyno alike: the agent on its port, something on the data host's address
            "ip addr add 10.213.1.30/32 dev v0 && ip addr add 10.213.1.10/32 dev v0",
            "perl -MIO::Socket::INET -e 'for my $a (@ARGV) { my ($h,$p)=split /:/,$a; push @s, IO::Socket::INET->new(LocalAddr=>$h, LocalPort=>$p, Listen=>5, ReuseAddr=>1) or die $! } sleep 20' 127.0.0.1:5100 10.213.1.21:5100 10.213.1.30:5432 10.213.1.30:6081 127.0.0.1:40000 10.213.1.10:80 10.213.1.10:6081 &",
            "sleep 0.5",
            "probe() { timeout 3 bash -c \"exec 3<>/dev/tcp/$2/$3\" 2>/dev/null && echo \"$1 $2:$3 open\" || echo \"$1 $2:$3 closed\"; }",
            "as_dyno() { setpriv --reuid 3000001 --regid 3000001 --clear-groups bash -c \"$(declare -f probe); probe dyno $1 $2\"; }",
            "for t in '127.0.0.1 5100' '10.213.1.21 5100' '10.213.1.30 5432' '10.213.1.30 6081' '127.0.0.1 40000' '10.213.1.10 80' '10.213.1.10 6081' '10.213.1.99 80'; do set -- $t; as_dyno $1 $2; done",
            "probe root 127.0.0.1 5100; probe root 10.213.1.30 6081",
            "kill %1",
        ].join("\n");
        const started = Date.now();
        const out = execFileSync("unshare", ["--net", "bash", "-c", `${script.replace("nft -f /dev/stdin", `nft -f - <<'NFT'\n${dyno}\nNFT`)}`], { encoding: "utf8", timeout: 30_000 });
        expect(out.trim().split("\n")).toEqual([
            "dyno 127.0.0.1:5100 closed",
            "dyno 10.213.1.21:5100 closed",
            "dyno 10.213.1.30:5432 open",
            "dyno 10.213.1.30:6081 closed",
            "dyno 127.0.0.1:40000 open",
            "dyno 10.213.1.10:80 open",
            "dyno 10.213.1.10:6081 closed",
            "dyno 10.213.1.99:80 closed",
            "root 127.0.0.1:5100 open",
            "root 10.213.1.30:6081 open",
        ]);
        expect(Date.now() - started).toBeLessThan(5_000); // refused at once, never left to time out
        for (const rules of [edge, data, server]) execFileSync("unshare", ["--net", "nft", "-c", "-f", "-"], { input: rules, timeout: 10_000 });
    });
});
