// The leftovers checker (test/support/leftovers.ts) the servers destroy test runs on each host:
// its script run for real against a temp directory standing for / (fake systemctl and nft), and
// its reading of a host's answer.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dynoformLeftovers, Exec, leftoversScript } from "../support/leftovers";

const PASSWD = "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\npostgres:x:105:110:PostgreSQL administrator,,,:/var/lib/postgresql:/bin/bash\n";
const GROUP = "root:x:0:\nwww-data:x:33:\npostgres:x:110:\n";

let tmp: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-leftovers-"));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A machine under `tmp/root`, with fake systemctl/nft printing `units` and `tables`. */
function machine(files: Record<string, string>, units = "", tables = ""): { exec: Exec; root: string } {
    const root = path.join(tmp, "root");
    const bin = path.join(tmp, "bin");
    for (const [rel, text] of Object.entries({ "etc/passwd": PASSWD, "etc/group": GROUP, ...files })) {
        const file = path.join(root, rel);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        if (rel.endsWith("/")) fs.mkdirSync(file, { recursive: true });
        else fs.writeFileSync(file, text);
    }
    fs.mkdirSync(bin, { recursive: true });
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\nprintf '%s' '${units}'\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "nft"), `#!/bin/sh\nprintf '%s' '${tables}'\n`, { mode: 0o755 });
    const exec: Exec = async (command) => execFileSync("sh", ["-c", command], { encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}` } });
    return { exec, root };
}

describe("dynoformLeftovers", () => {
    test("a clean machine (Debian packages, their own files and PostgreSQL's data left): nothing", async () => {
        const { exec, root } = machine(
            {
                "etc/nginx/nginx.conf": "user www-data;\n",
                "etc/varnish/default.vcl": "vcl 4.1;\n",
                "etc/postgresql/15/main/pg_hba.conf": "local all postgres peer\n",
                "var/lib/postgresql/15/main/PG_VERSION": "15\n",
                "root/.ssh/authorized_keys": "ssh-ed25519 AAAA operator\n",
                "etc/systemd/system/multi-user.target.wants/ssh.service": "",
            },
            "",
            "table inet filter\n",
        );
        expect(await dynoformLeftovers(exec, { root })).toEqual([]);
    });

    test("everything of ours, one readable line each", async () => {
        const { exec, root } = machine(
            {
                "etc/passwd":
                    PASSWD +
                    "dynoform-router:x:998:998::/nonexistent:/usr/sbin/nologin\ngit:x:997:997::/home/git:/bin/sh\n" +
                    "dyno-shop:x:3000000:3000000:dynoform app user:/nonexistent:/usr/sbin/nologin\n" +
                    "build-shop:x:2000000:2000000:dynoform build user:/nonexistent:/usr/sbin/nologin\n",
                "etc/group": GROUP + "dyno-shop:x:3000000:\n",
                "etc/dynoform/agent.json": "{}",
                "etc/dynoform-memcached/shop/env": "PORT=11300\n",
                "var/lib/dynoform/apps/": "",
                "var/lib/dynoform-agent/": "",
                "var/lib/dynoform-router/routes.json": "{}",
                "usr/local/lib/dynoform/dynoform-agent": "",
                "usr/local/sbin/dynoform-addons": "",
                "etc/sudoers.d/dynoform-control": "",
                "etc/nginx/dynoform/": "",
                "etc/systemd/system/dynoform-agent.service": "",
                "etc/systemd/system/multi-user.target.wants/dynoform-memcached@shop.service": "",
                "etc/systemd/system/varnish.service.d/dynoform.conf": "",
                "usr/local/share/ca-certificates/dynoform-extra.crt": "",
                "home/git/.ssh/": "",
                "run/dynoform-apt.lock": "",
                "etc/nginx/nginx.conf": "# Managed by dynoform (templates/nginx/nginx.conf).\n",
                "etc/nginx/nginx.conf.dynoform-original": "user www-data;\n",
                "etc/postgresql/15/main/conf.d/dynoform.conf": "",
                "etc/varnish/secret": "",
                "root/.ssh/authorized_keys": 'ssh-ed25519 AAAA operator\nrestrict,from="10.0.0.10",command="/usr/local/sbin/dynoform-addons" ssh-ed25519 AAAAkey dynoform-addons\n',
            },
            "dyno-shop-web.1.service loaded active running\ndynoform.slice loaded active active\ndynoform-agent.service not-found inactive dead\n",
            "table inet filter\ntable inet dynoform_host\n",
        );
        expect(await dynoformLeftovers(exec, { root })).toEqual([
            "/etc/dynoform is still there",
            "/etc/dynoform-memcached is still there",
            "/var/lib/dynoform is still there",
            "/var/lib/dynoform-agent is still there",
            "/var/lib/dynoform-router is still there",
            "/usr/local/lib/dynoform is still there",
            "/usr/local/sbin/dynoform-addons is still there",
            "/etc/sudoers.d/dynoform-control is still there",
            "/etc/nginx/dynoform is still there",
            "/etc/systemd/system/dynoform-agent.service is still there",
            "/etc/systemd/system/multi-user.target.wants/dynoform-memcached@shop.service is still there",
            "/etc/systemd/system/varnish.service.d/dynoform.conf is still there",
            "/usr/local/share/ca-certificates/dynoform-extra.crt is still there",
            "/home/git is still there",
            "/run/dynoform-apt.lock is still there",
            "/etc/nginx/nginx.conf.dynoform-original is still there",
            "/etc/postgresql/15/main/conf.d/dynoform.conf is still there",
            "unit dyno-shop-web.1.service is still loaded (loaded active running)",
            "unit dynoform.slice is still loaded (loaded active active)",
            "user dynoform-router (uid 998) is still there",
            "user git (uid 997) is still there",
            "user dyno-shop (uid 3000000) is still there",
            "user build-shop (uid 2000000) is still there",
            "group dyno-shop (gid 3000000) is still there",
            "nft table inet dynoform_host is still loaded",
            "/etc/nginx/nginx.conf is still dynoform's, not the package's own",
            "/etc/varnish/default.vcl is gone: the package's own was not put back",
            "/etc/postgresql/15/main/pg_hba.conf is gone: the package's own was not put back",
            "root's authorized_keys still holds the dynoform-addons key",
        ]);
    });

    test("the script asks systemctl for our units only and runs to its end; a cut-off answer is an error, not a clean host", async () => {
        expect(leftoversScript()).toContain("systemctl list-units --all --plain --no-legend --full 'dynoform*' 'dyno-*'");
        expect(leftoversScript()).toContain("cat /etc/passwd");
        await expect(dynoformLeftovers(async () => "@paths\n/etc/dynoform\n")).rejects.toThrow(/did not run to its end/);
        expect(await dynoformLeftovers(async () => "@paths\n@units\n@passwd\n@group\n@nft\n@marked\n@missing\n@keys\n")).toEqual([]);
    });
});
