// Plain Debian machines for the servers target's lab test: lab machines (systemd under
// systemd-nspawn on their own bridge) booted outside any Pulumi stack, knowing nothing of dynoform —
// only sshd, root's authorized key and a host key, as a rented server comes. One of them can be
// turned into a cloud image instead: cloud-init from Debian, no keys at all, and a NoCloud seed
// holding the aws target's user data, which prepares SSH at the next boot as on EC2.
import * as fs from "fs";
import * as path from "path";
import { createMachine, stopMachine } from "../../components/hosts/lab/machine";
import { labNetwork } from "../../components/hosts/lab/config";
import type { SshConnection } from "../../components/remote/connection";
import { connectWithRetries, openSession } from "../../components/remote/ssh";

export interface PlainMachine {
    name: string;
    address: string;
    /** The machine's own lab directory (for stopMachine). */
    dir: string;
    /** root over SSH with the key the machine was booted with, host key pinned. */
    connection: SshConnection;
}

export async function bootPlainMachine(network: { name: string; subnet: string }, name: string, address: string): Promise<PlainMachine> {
    const out = await createMachine({ network: labNetwork(network), name, address, image: "base" });
    return {
        name,
        address,
        dir: out.dir,
        connection: { name, host: address, port: 22, user: "root", privateKey: out.privateKey, hostKey: out.hostKey },
    };
}

export async function stopPlainMachines(machines: PlainMachine[]): Promise<void> {
    for (const m of machines) await stopMachine(m.dir).catch((err) => console.warn(`stopping ${m.name}: ${(err as Error).message}`));
}

/** Runs `command` as root on the machine; throws with its output when it fails. */
export async function onMachine(c: SshConnection, command: string, stdin?: string): Promise<string> {
    const session = await openSession(c, { timeoutMs: 60_000 });
    try {
        return (await session.run(command, stdin !== undefined ? { stdin } : undefined)).stdout.trim();
    } finally {
        session.close();
    }
}

/**
 * Makes `machine` a cloud image booting with `userData`: installs Debian's cloud-init, writes the
 * user data into a NoCloud seed, removes every key (root's authorized keys, the host keys) and
 * cloud-init's memory of earlier boots, and reboots. At boot cloud-init finds the seed, applies it
 * before sshd starts, and the machine answers only with the host key the user data carries, to the
 * root key it authorizes. Returns the connection that now works.
 */
export async function bootWithUserData(machine: PlainMachine, userData: string, keys: { rootPrivateKey: string; hostPublicKey: string }): Promise<SshConnection> {
    const c = machine.connection;
    await onMachine(c, "{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends cloud-init; } >/tmp/cloud-init-install.log 2>&1 || { tail -n 30 /tmp/cloud-init-install.log; exit 1; }");
    await onMachine(
        c,
        [
            "set -e",
            "install -d -m 0755 /var/lib/cloud/seed/nocloud /etc/cloud/cloud.cfg.d",
            "cat >/var/lib/cloud/seed/nocloud/user-data",
            `printf 'instance-id: ${machine.name}-1\\nlocal-hostname: ${machine.name}\\n' >/var/lib/cloud/seed/nocloud/meta-data`,
            // The image's own cloud-init settings, as a cloud vendor's image carries them: only the
            // seed as datasource; the lab network gives the address (the machine's networkd file),
            // not DHCP; the locale the image has (no `locales` package, so C.UTF-8).
            "printf 'datasource_list: [ NoCloud, None ]\\nnetwork: {config: disabled}\\nlocale: C.UTF-8\\n' >/etc/cloud/cloud.cfg.d/90-dynoform-lab.cfg",
            "cloud-init clean --logs >/dev/null",
            "rm -f /root/.ssh/authorized_keys /etc/ssh/ssh_host_*",
            // In this session: sshd takes no new connection without host keys. The launcher boots
            // the machine again after the reboot.
            "systemd-run --on-active=1 systemctl reboot >/dev/null 2>&1",
        ].join("\n"),
        userData,
    );
    // Until the old sshd is gone it resets every connection (no host keys), and until cloud-init
    // has run nobody is authorized: both are retried until the budget ends.
    const after: SshConnection = { ...c, privateKey: keys.rootPrivateKey, hostKey: keys.hostPublicKey };
    const deadline = Date.now() + 240_000;
    for (;;) {
        try {
            const client = await connectWithRetries(after, { timeoutMs: 20_000 });
            client.end();
            return after;
        } catch (err) {
            if (Date.now() > deadline) throw new Error(`${machine.name} did not come back prepared by its user data: ${(err as Error).message}`);
            await new Promise((r) => setTimeout(r, 2_000));
        }
    }
}

/** The lab's copy of a key file, made readable only by us (ssh refuses keys others can read). */
export function writeKey(dir: string, name: string, privateKey: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, privateKey.endsWith("\n") ? privateKey : `${privateKey}\n`, { mode: 0o600 });
    return file;
}
