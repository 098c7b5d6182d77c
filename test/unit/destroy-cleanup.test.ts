// What `pulumi destroy` runs on a host for what has no resource of its own, run for real in temp
// directories with a fake systemctl: the data role's per-app Memcached instances
// (templates/data/remove-addons.sh) and the servers host's last sweep (templates/hosts/remove-host.sh).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { removeAddonsScript } from "../../components/data/data";
import { removeControlUsersScript, STATE_DIR } from "../../components/control/control";
import { removeHostScript } from "../../components/hosts/preflight";

let tmp: string;
let bin: string;
beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-cleanup-"));
    bin = path.join(tmp, "bin");
    fs.mkdirSync(bin);
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A systemctl that logs its arguments and lists `units` for list-units. */
function fakeSystemctl(units = ""): string {
    const log = path.join(tmp, "systemctl.log");
    fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\necho "$*" >> ${log}\n[ "$1" = list-units ] && printf '%s' '${units}'\nexit 0\n`, { mode: 0o755 });
    return log;
}

const run = (script: string) => execFileSync("sh", ["-c", script], { encoding: "utf8", env: { PATH: `${bin}:${process.env.PATH}` } });

test("remove-addons.sh: every app's instance, running or only enabled, is stopped and disabled; its links and files go", () => {
    const log = fakeSystemctl("dynoform-memcached@blog.service loaded active running Memcached of app blog\n");
    const units = path.join(tmp, "systemd");
    const wants = path.join(units, "multi-user.target.wants");
    fs.mkdirSync(wants, { recursive: true });
    fs.symlinkSync("/etc/systemd/system/dynoform-memcached@.service", path.join(wants, "dynoform-memcached@shop.service"));
    fs.symlinkSync("/lib/systemd/system/ssh.service", path.join(wants, "ssh.service"));
    const instances = path.join(tmp, "dynoform-memcached");
    fs.mkdirSync(path.join(instances, "shop"), { recursive: true });
    fs.writeFileSync(path.join(instances, "shop", "env"), "PORT=11300\n");

    run(removeAddonsScript(instances, units));

    expect(fs.readFileSync(log, "utf8").split("\n").filter((l) => !l.startsWith("list-units"))).toEqual([
        "disable --now --quiet dynoform-memcached@blog.service",
        "disable --now --quiet dynoform-memcached@shop.service",
        "reset-failed dynoform-memcached@*",
        "",
    ]);
    expect(fs.readdirSync(wants)).toEqual(["ssh.service"]);
    expect(fs.existsSync(instances)).toBe(false);
});

test("remove-addons.sh on a data host with no app: nothing to stop, nothing fails", () => {
    fakeSystemctl();
    expect(() => run(removeAddonsScript(path.join(tmp, "none"), path.join(tmp, "no-units")))).not.toThrow();
});

test("remove-host.sh: our directories go once empty (deepest first), a directory holding someone's file stays, and the apt lock goes", () => {
    const log = fakeSystemctl();
    const etc = path.join(tmp, "etc-dynoform");
    const nginx = path.join(tmp, "nginx-dynoform");
    const lock = path.join(tmp, "dynoform-apt.lock");
    fs.mkdirSync(path.join(etc, "tls"), { recursive: true });
    fs.mkdirSync(nginx);
    fs.writeFileSync(path.join(nginx, "operator.conf"), "# not the stack's\n");
    fs.writeFileSync(lock, "");

    run(removeHostScript([path.join(etc, "tls"), etc, nginx, path.join(tmp, "never-made")], lock));

    expect(fs.existsSync(etc)).toBe(false);
    expect(fs.readdirSync(nginx)).toEqual(["operator.conf"]);
    expect(fs.existsSync(lock)).toBe(false);
    expect(fs.readFileSync(log, "utf8")).toBe("daemon-reload\nreset-failed dynoform* dyno-*\n");
});

test("the control role's delete: build users by their comment, git with its home, the state (a mount point's contents on aws)", () => {
    const script = removeControlUsersScript();
    expect(script).toContain(`awk -F: '$5 == "dynoform build user" { print $1 }' /etc/passwd`);
    expect(script).toContain("userdel -r git");
    expect(script).toContain(`{ rm -rf ${STATE_DIR} || mountpoint -q ${STATE_DIR}; }`);
});
