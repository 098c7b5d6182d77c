// control-backup's path for real over OpenSSH (a throwaway sshd standing for two hosts of a stack):
// StackHosts.pipe streams the snapshot from one host's `bash -s` into the other's receiving command,
// run() seals it there; then control-restore's copy and restore into a temp root — the ssh_config,
// pinned host keys and quoting the runbooks use.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { startSshd, TestSshd } from "../support/sshd";

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, "../..");
let sshd: TestSshd;
let dir: string;

beforeAll(async () => {
    sshd = await startSshd();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "runbook-pipe-"));
    fs.mkdirSync(path.join(dir, "state/apps/shop/releases"), { recursive: true });
    fs.writeFileSync(path.join(dir, "state/apps/shop/app.json"), '{"name":"shop"}');
    fs.writeFileSync(path.join(dir, "state/apps/shop/config.json"), '{"GREETING":"hi"}');
});

afterAll(async () => {
    await sshd?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
});

/** Runs `body` (an async function body) in a child node with StackHosts over the sshd as hosts a and b. */
function withHosts(body: string): string {
    const script = `
const { StackHosts } = await import(${JSON.stringify(`file://${ROOT}/runbooks/lib/ssh.mjs`)});
const archive = await import(${JSON.stringify(`file://${ROOT}/runbooks/lib/control_archive.mjs`)});
const [connection, dir] = JSON.parse(process.argv[1]);
const hosts = new StackHosts({ a: { ...connection, name: "a" }, b: { ...connection, name: "b" } });
const out = await (async () => { ${body} })();
process.stdout.write(JSON.stringify(out));
process.exit(0);`;
    return execFileSync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify([sshd.connection, dir])], { cwd: ROOT, encoding: "utf8" });
}

test("a snapshot streams from one host into the backup directory of another, and seals there", () => {
    const out = JSON.parse(
        withHosts(`
const backups = dir + "/backups";
const piped = await hosts.pipe("a", archive.snapshotScript(dir + "/state"), "b", archive.receiveCommand("20261130T000000Z", backups));
const sealed = await hosts.run("b", archive.sealScript("20261130T000000Z", 7, backups));
const listed = await hosts.run("a", archive.listScript(backups));
// control-restore's copy onto the host it restores, and the restore there (a unit no machine has)
const copied = await hosts.pipe("a", archive.sendScript("20261130T000000Z", backups), "b", archive.restoreReceiveCommand(dir + "/restore.tgz"));
const restored = await hosts.run("b", archive.restoreScript(dir + "/target", dir + "/restore.tgz", "dynoform-test-absent.service"));
return { piped, sealed, listed, copied, restored };`),
    );
    expect(out.piped.code).toBe(0);
    expect(out.piped.stderr).toContain("a: control-backup: 1 apps snapshotted");
    expect(out.sealed).toMatchObject({ code: 0, stdout: "shop\n" });
    expect(out.listed.stdout).toMatch(/^20261130T000000Z \d+\n$/);
    expect(out.copied.code).toBe(0);
    expect(out.restored).toMatchObject({ code: 0, stdout: expect.stringMatching(/^aside: .*\nservice: absent\n$/) });
    expect(fs.readFileSync(path.join(dir, "target/apps/shop/config.json"), "utf8")).toBe('{"GREETING":"hi"}');
    const files = execFileSync("tar", ["-tzf", path.join(dir, "backups/20261130T000000Z.tar.gz")], { encoding: "utf8" });
    expect(files).toContain("apps/shop/config.json");
});

test("a side that fails shows in the code and its stderr, named by host", () => {
    const out = JSON.parse(withHosts(`return hosts.pipe("a", "echo partial; exit 3\\n", "b", "cat >/dev/null");`));
    expect(out.code).toBe(3);
    const sink = JSON.parse(withHosts(`return hosts.pipe("a", "echo data\\n", "b", "cat >/dev/null; echo refused >&2; exit 4");`));
    expect(sink).toEqual({ code: 4, stderr: "b: refused\n" });
});
