// The backup channel end to end on this machine: the data host's dynoform-pg-backup with its real
// `ssh` (the backup key, the backup host's pinned host key) → a real sshd whose authorized_keys line
// is the backup host's (restrict, from=, forced command) → the real dynoform-backup-store (temp
// directory). Anything but the store's verbs is refused, and the key from another address is not
// accepted at all.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { knownHostsLine } from "../../components/control/control";
import { BACKUP_STORE_COMMAND, backupAuthorizedKeyLine, backupStoreScript } from "../../components/data/pg_backups";
import { render } from "../../components/templates/render";
import { prepareSshd, TestSshd } from "../support/sshd";

jest.setTimeout(60_000);

const missing = fs.existsSync("/usr/sbin/sshd") ? undefined : "/usr/sbin/sshd is missing (openssh-server)";
const describeReal = missing || process.getuid?.() !== 0 ? describe.skip : describe;
if (missing) test.todo(`backups over a real sshd: skipped, ${missing}`);

describeReal("backups over a real sshd and the backup host's forced command", () => {
    let sshd: TestSshd;
    let store: string;
    const keyFile = () => path.join(sshd.dir, "client");
    const knownHostsFile = () => path.join(sshd.dir, "backup.known_hosts");
    const pgBackup = () => path.join(sshd.dir, "dynoform-pg-backup");

    function authorize(from: string) {
        const publicKey = fs.readFileSync(path.join(sshd.dir, "client.pub"), "utf8");
        const line = backupAuthorizedKeyLine(publicKey, from).replace(`command="${BACKUP_STORE_COMMAND}"`, `command="env DYNOFORM_BACKUP_ROOT=${store} ${path.join(sshd.dir, "dynoform-backup-store")}"`);
        fs.writeFileSync(path.join(sshd.dir, "authorized_keys"), `${line}\n`);
    }

    /** The client's command line through the real ssh, as the data host's script would send it. */
    const ssh = (command: string, input = "") =>
        spawnSync("ssh", ["-F", "/dev/null", "-i", keyFile(), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", `UserKnownHostsFile=${knownHostsFile()}`, "-o", "StrictHostKeyChecking=yes", "-p", String(sshd.port), "root@127.0.0.1", command], { input, encoding: "utf8" });

    beforeAll(async () => {
        sshd = await prepareSshd({ name: "control-1" });
        store = path.join(sshd.dir, "store");
        fs.mkdirSync(store, { mode: 0o700 });
        fs.writeFileSync(path.join(sshd.dir, "dynoform-backup-store"), backupStoreScript("/nonexistent"), { mode: 0o755 });
        // the data host's script with this sshd as the backup host (root here: the test's sshd has no other user)
        fs.writeFileSync(
            pgBackup(),
            render("data/dynoform-pg-backup", { storeHost: "127.0.0.1", storePort: sshd.port, storeUser: "root", keyFile: keyFile(), knownHostsFile: knownHostsFile(), retentionDays: 7, defaultSchedule: "02:00", postgresVersion: "15", postgresPort: 5432 }),
            { mode: 0o755 },
        );
        fs.writeFileSync(knownHostsFile(), knownHostsLine("127.0.0.1", sshd.port, sshd.connection.hostKey));
        authorize("127.0.0.1");
        await sshd.start();
    });

    afterAll(() => sshd?.stop());

    test("archive_command's wal-push and restore_command's wal-fetch go through the real ssh and the forced command", () => {
        const segment = path.join(sshd.dir, "000000010000000000000007");
        fs.writeFileSync(segment, "wal bytes");
        const pushed = spawnSync(pgBackup(), ["wal-push", segment, "000000010000000000000007"], { encoding: "utf8" });
        expect(pushed).toMatchObject({ status: 0, stderr: "" });
        expect(fs.readFileSync(path.join(store, "wal", "000000010000000000000007"), "utf8")).toBe("wal bytes");
        const back = path.join(sshd.dir, "fetched");
        expect(spawnSync(pgBackup(), ["wal-fetch", "000000010000000000000007", back], { encoding: "utf8" }).status).toBe(0);
        expect(fs.readFileSync(back, "utf8")).toBe("wal bytes");
        // a segment the archive does not have: restore_command's "not found", nothing left behind
        expect(spawnSync(pgBackup(), ["wal-fetch", "000000010000000000000009", path.join(sshd.dir, "absent")], { encoding: "utf8" }).status).not.toBe(0);
        expect(fs.existsSync(path.join(sshd.dir, "absent"))).toBe(false);
    });

    test("a shell, another program or a path gets nothing but the store's refusal", () => {
        for (const [command, message] of [
            ["id", "unknown command id"],
            ["sh -c 'cat /etc/shadow'", "unknown command sh"],
            ["rsync --server -e.LsfxC . /root/.ssh", "unknown command rsync"],
            ["scp -t /root/.ssh/authorized_keys", "unknown command scp"],
            ["wal-get ../../../etc/shadow", "not a WAL file name"],
        ]) {
            const r = ssh(command);
            expect([command, r.status]).toEqual([command, 2]);
            expect(r.stderr).toContain(message);
            expect(r.stdout).toBe("");
        }
    });

    test("the key from another address is refused by sshd itself", () => {
        authorize("192.0.2.7");
        const r = ssh("base-list");
        expect(r.status).toBe(255);
        expect(r.stderr).toMatch(/Permission denied/);
        authorize("127.0.0.1");
        expect(ssh("base-list").status).toBe(0);
    });
});
