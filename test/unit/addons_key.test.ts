// The add-ons key's line in root's authorized_keys on the data host: added beside the stack's own
// key (never over it), replaced when the key changes, removed on delete. Run for real on a temp file.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { addonsAuthorizedKeyLine, addonsKeyDeleteScript, addonsKeyScript } from "../../components/data/data";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAclvHPdBJTN+VPuY33ZgZCeG3YzDxaQWqDOxfLxT8gp";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGzO4jrQOSUCB1SXQkL6b8JDaTUWJbSVpPUpsi36qwNW";
const STACK_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHYiRwNyXl8F3sy1pD0UdQGw2oPTkQ5jt3OT2xLqVt8Y dynoform@lab-data-1";

let root: string;
const file = () => path.join(root, "root/.ssh/authorized_keys");
const run = (script: string) => execFileSync("sh", ["-c", script.split("/root/.ssh").join(`${root}/root/.ssh`)]);

beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-addons-key-"));
    fs.mkdirSync(path.join(root, "root/.ssh"), { recursive: true, mode: 0o700 });
    fs.writeFileSync(file(), `${STACK_KEY}\n`, { mode: 0o600 });
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test("the line: restrict, from the control host only, the forced command", () => {
    expect(addonsAuthorizedKeyLine(`${KEY_A} comment`, "10.213.1.10")).toBe(`restrict,from="10.213.1.10",command="/usr/local/sbin/dynoform-addons" ${KEY_A} dynoform-addons`);
    expect(() => addonsAuthorizedKeyLine("ssh-rsa AAAA", "10.0.0.1")).toThrow(/not an ed25519 public key/);
    expect(() => addonsAuthorizedKeyLine(KEY_A, '10.0.0.1",command="sh')).toThrow(/is not an IP address/);
});

test("added beside the stack's key, replaced (not duplicated) on a new key, removed on delete; 0600", () => {
    run(addonsKeyScript(addonsAuthorizedKeyLine(KEY_A, "10.213.1.10")));
    run(addonsKeyScript(addonsAuthorizedKeyLine(KEY_A, "10.213.1.10")));
    expect(fs.readFileSync(file(), "utf8")).toBe(`${STACK_KEY}\nrestrict,from="10.213.1.10",command="/usr/local/sbin/dynoform-addons" ${KEY_A} dynoform-addons\n`);
    run(addonsKeyScript(addonsAuthorizedKeyLine(KEY_B, "10.213.1.11")));
    expect(fs.readFileSync(file(), "utf8")).toBe(`${STACK_KEY}\nrestrict,from="10.213.1.11",command="/usr/local/sbin/dynoform-addons" ${KEY_B} dynoform-addons\n`);
    expect(fs.statSync(file()).mode & 0o777).toBe(0o600);
    run(addonsKeyDeleteScript());
    expect(fs.readFileSync(file(), "utf8")).toBe(`${STACK_KEY}\n`);
});

test("no authorized_keys yet: made with the line alone", () => {
    fs.rmSync(path.join(root, "root/.ssh"), { recursive: true });
    run(addonsKeyScript(addonsAuthorizedKeyLine(KEY_A, "10.213.1.10")));
    expect(fs.readFileSync(file(), "utf8")).toBe(`restrict,from="10.213.1.10",command="/usr/local/sbin/dynoform-addons" ${KEY_A} dynoform-addons\n`);
});
