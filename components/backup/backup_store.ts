import * as pulumi from "@pulumi/pulumi";
import { BACKUP_DIR, BACKUP_STORE_COMMAND, BACKUP_USER, backupAuthorizedKeyLine, backupStoreScript } from "../data/pg_backups";
import { Host } from "../hosts/host";
import { RemoteCommand, RemoteFile } from "../remote";

export interface BackupStoreArgs {
    /** The host whose disk keeps the backups: never the data host. */
    host: Host;
    /** The data host's backup key (public): may run only the store command, from the data host's private address. */
    publicKey: pulumi.Input<string>;
    dataAddress: pulumi.Input<string>;
}

/**
 * The backup host's side of PostgreSQL's backups (README "PostgreSQL backups"): a system user with
 * no password whose one authorized key runs dynoform-backup-store (restrict, from the data host
 * only), which puts and gets files in its home, /var/lib/dynoform-backups, and nothing else.
 */
export class BackupStore extends pulumi.ComponentResource {
    constructor(name: string, args: BackupStoreArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:backup:BackupStore", name, {}, opts);
        const connection = args.host.ssh;
        // "*": no password, yet not locked ("!"), which sshd would refuse even a key for.
        const user = new RemoteCommand(
            `${name}-user`,
            {
                connection,
                create: [
                    "set -e",
                    `id -u ${BACKUP_USER} >/dev/null 2>&1 || useradd --system --user-group --comment "dynoform backups" --home-dir ${BACKUP_DIR} --shell /bin/sh ${BACKUP_USER}`,
                    `usermod -p '*' ${BACKUP_USER}`,
                    `install -d -m 0700 -o ${BACKUP_USER} -g ${BACKUP_USER} ${BACKUP_DIR} ${BACKUP_DIR}/.ssh`,
                ].join("\n"),
                // The backups go with the platform, as the control host's app state does.
                delete: `pkill -u ${BACKUP_USER} 2>/dev/null || true; userdel ${BACKUP_USER} 2>/dev/null || true; rm -rf ${BACKUP_DIR}`,
            },
            { parent: this },
        );
        const script = new RemoteFile(`${name}-command`, { connection, path: BACKUP_STORE_COMMAND, mode: "0755", content: backupStoreScript() }, { parent: this });
        new RemoteFile(
            `${name}-authorized-key`,
            {
                connection,
                path: `${BACKUP_DIR}/.ssh/authorized_keys`,
                owner: `${BACKUP_USER}:${BACKUP_USER}`,
                mode: "0600",
                content: pulumi.all([args.publicKey, args.dataAddress]).apply(([key, address]) => `${backupAuthorizedKeyLine(key, address)}\n`),
            },
            { parent: this, dependsOn: [user, script] },
        );
        this.registerOutputs({});
    }
}
