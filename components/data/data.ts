import * as pulumi from "@pulumi/pulumi";
import { Host } from "../hosts/host";
import { AptPackages, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { render, renderOutput } from "../templates/render";
import { knownHostsLine } from "../control/control";
import { archiveSettings, PG_BACKUP_COMMAND, PG_BACKUP_KEY_FILE, PG_BACKUP_KNOWN_HOSTS_FILE, pgBackupScript } from "./pg_backups";

import { POSTGRES_PORT, POSTGRES_VERSION } from "./constants";
export { POSTGRES_PORT, POSTGRES_VERSION } from "./constants";
export const ADMIN_ROLE = "dynoform_admin";
/** The forced command of the control role's add-ons key (templates/data/dynoform-addons). */
export const ADDONS_COMMAND = "/usr/local/sbin/dynoform-addons";
/** Ports of the per-app Memcached instances (one each, picked by dynoform-addons). */
export const MEMCACHED_PORTS = { first: 11300, last: 11999 } as const;
const ADDONS_KEY_MARK = "dynoform-addons";
/** Each app's Memcached instance: its port, SASL config and database (templates/data/dynoform-addons). */
export const MEMCACHED_INSTANCES_DIR = "/etc/dynoform-memcached";

export interface DataArgs {
    host: Host;
    privateSubnet: pulumi.Input<string>;
    /** Addresses inside the subnet that stand for the outside (the lab gateway: everything outside comes through it): refused. */
    outsideAddresses: string[];
    /** Memory cap of each app's Memcached (memcached -m), in MB. */
    memcachedMemoryMb: number;
    adminPassword: pulumi.Input<string>;
    /** Public key of the control role's add-ons key: may run only dynoform-addons, as root. */
    addonsPublicKey: pulumi.Input<string>;
    /** The control host's private address: the only source the add-ons key is accepted from. */
    controlAddress: pulumi.Input<string>;
    /** Where PostgreSQL's backups go (README "PostgreSQL backups"). */
    backup: PgBackupTarget;
}

/** The backup host as the data host reaches it: its private address, SSH port and pinned host key, and the backup key. */
export interface PgBackupTarget {
    address: pulumi.Input<string>;
    port: pulumi.Input<number>;
    hostKey: pulumi.Input<string>;
    privateKey: pulumi.Input<string>;
    retentionDays: number;
    /** HH:MM, UTC: the daily base backup until pg:backups:schedule changes it. */
    schedule: string;
}

export function pgHbaRejects(addresses: string[]): string {
    return addresses.map((a) => `host    all       all   ${a}/32  reject`).join("\n");
}

/** On destroy: every app's Memcached instance, stopped, disabled and removed (other directories: tests). */
export function removeAddonsScript(instancesDir = MEMCACHED_INSTANCES_DIR, unitDirectory = "/etc/systemd/system"): string {
    return render("data/remove-addons.sh", { instancesDir, unitDirectory });
}

/** SQL run as postgres: the operators' admin role (stack output databaseAdminUrl); apps' databases are made by dynoform-addons. */
export const ADMIN_ROLE_SCRIPT = [
    "set -e",
    // The password reaches psql through its environment (\getenv), not its arguments.
    "runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q <<'SQL'",
    "\\getenv pw DYNOFORM_ADMIN_PASSWORD",
    `SELECT 'CREATE ROLE ${ADMIN_ROLE} LOGIN CREATEDB CREATEROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ADMIN_ROLE}') \\gexec`,
    `SELECT format('ALTER ROLE ${ADMIN_ROLE} PASSWORD %L', :'pw') \\gexec`,
    // Apps' databases are made by dynoform-addons as postgres; the admin role is a member of no app role.
    `SELECT format('REVOKE %I FROM ${ADMIN_ROLE}', r.rolname) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = '${ADMIN_ROLE}') \\gexec`,
    "SQL",
].join("\n");

/** root's authorized_keys line for the add-ons key: forced command, no forwarding/pty, one source address. */
export function addonsAuthorizedKeyLine(publicKey: string, controlAddress: string): string {
    const key = publicKey.trim().split(/\s+/).slice(0, 2).join(" ");
    if (!/^ssh-ed25519 [A-Za-z0-9+/]+={0,3}$/.test(key)) throw new Error(`add-ons key: not an ed25519 public key: ${key.slice(0, 40)}`);
    if (!/^[0-9a-fA-F.:]+$/.test(controlAddress)) throw new Error(`add-ons key: control address ${controlAddress} is not an IP address`);
    return `restrict,from="${controlAddress}",command="${ADDONS_COMMAND}" ${key} ${ADDONS_KEY_MARK}`;
}

/**
 * Puts the add-ons key's line into root's authorized_keys, replacing an older one (marked by its
 * comment) and keeping every other line: the stack's own provisioning key lives in the same file.
 */
export function addonsKeyScript(line: string): string {
    const file = "/root/.ssh/authorized_keys";
    const drop = `grep -v ' ${ADDONS_KEY_MARK}$' ${file} > ${file}.dynoform || true`;
    return [
        "set -e",
        "install -d -m 0700 /root/.ssh",
        `touch ${file}`,
        drop,
        `printf '%s\\n' '${line}' >> ${file}.dynoform`,
        `chmod 0600 ${file}.dynoform`,
        `mv ${file}.dynoform ${file}`,
    ].join("\n");
}

/** Removes the add-ons key's line (resource deleted). */
export function addonsKeyDeleteScript(): string {
    const file = "/root/.ssh/authorized_keys";
    return `[ -f ${file} ] && { grep -v ' ${ADDONS_KEY_MARK}$' ${file} > ${file}.dynoform || true; chmod 0600 ${file}.dynoform; mv ${file}.dynoform ${file}; } || true`;
}

/**
 * The data role: PostgreSQL (scram-sha-256, private subnet only) and one Memcached per app (SASL,
 * made at apps:create through dynoform-addons), all bound to the host's private address.
 */
export class Data extends pulumi.ComponentResource {
    public readonly databaseAdminUrl: pulumi.Output<string>;

    constructor(name: string, args: DataArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:data:Data", name, {}, opts);
        const connection = args.host.ssh;
        const packages = new AptPackages(`${name}-packages`, { connection, packages: ["postgresql", "memcached", "sasl2-bin"] }, { parent: this });
        const afterPackages = { parent: this, dependsOn: [packages] };

        // The package's shared, unauthenticated memcached.service stays off: any dyno could read,
        // overwrite or flush every app's keys. Apps get their own instances (dynoform-memcached@APP).
        new SystemdService(`${name}-memcached`, { connection, unit: "memcached", enabled: false }, afterPackages);
        const memcachedUnit = new RemoteFile(
            `${name}-memcached-unit`,
            {
                connection,
                path: "/etc/systemd/system/dynoform-memcached@.service",
                content: renderOutput("memcached/dynoform-memcached@.service", {
                    listenAddress: args.host.privateAddress,
                    memoryMb: args.memcachedMemoryMb,
                    maxConnections: 1024,
                }),
            },
            afterPackages,
        );
        // The apps' instances (dynoform-addons makes them at apps:create) have no resource of their own:
        // this one removes them when the host stops being the data host. It depends on the unit
        // template, so a destroy runs it while the template still exists to stop them with.
        new RemoteCommand(
            `${name}-memcached-leftovers`,
            { connection, create: "true", delete: removeAddonsScript() },
            { parent: this, dependsOn: [memcachedUnit] },
        );
        // A new memory size (or unit) reaches the running instances (their caches start empty).
        new RemoteCommand(
            `${name}-memcached-instances`,
            { connection, create: "systemctl daemon-reload && systemctl try-restart 'dynoform-memcached@*.service'", triggers: [memcachedUnit.sha256] },
            { parent: this, dependsOn: [memcachedUnit] },
        );
        // Backups: the script archive_command and the timer run, the backup key (postgres's: archive_command
        // runs as postgres) and the backup host's pinned key, all there before archiving starts.
        const backup = args.backup;
        const backupScript = new RemoteFile(
            `${name}-pg-backup-command`,
            {
                connection,
                path: PG_BACKUP_COMMAND,
                mode: "0755",
                content: pulumi.all([backup.address, backup.port]).apply(([storeHost, storePort]) => pgBackupScript({ storeHost, storePort, retentionDays: backup.retentionDays, schedule: backup.schedule })),
            },
            afterPackages,
        );
        const backupKey = new RemoteFile(`${name}-pg-backup-key`, { connection, path: PG_BACKUP_KEY_FILE, owner: "postgres:postgres", mode: "0600", content: pulumi.secret(backup.privateKey) }, afterPackages);
        const backupKnownHosts = new RemoteFile(
            `${name}-pg-backup-known-hosts`,
            { connection, path: PG_BACKUP_KNOWN_HOSTS_FILE, mode: "0644", content: pulumi.all([backup.address, backup.port, backup.hostKey]).apply(([h, p, k]) => knownHostsLine(h, p, k)) },
            afterPackages,
        );
        const pgDir = `/etc/postgresql/${POSTGRES_VERSION}/main`;
        const pgConf = new RemoteFile(
            `${name}-postgresql-conf`,
            {
                connection,
                path: `${pgDir}/conf.d/dynoform.conf`,
                owner: "postgres:postgres",
                content: renderOutput("postgresql/dynoform.conf", { listenAddress: args.host.privateAddress, maxConnections: 200, archive: archiveSettings() }),
            },
            { parent: this, dependsOn: [packages, backupScript, backupKey, backupKnownHosts] },
        );
        const pgHba = new RemoteFile(
            `${name}-pg-hba`,
            {
                connection,
                path: `${pgDir}/pg_hba.conf`,
                owner: "postgres:postgres",
                mode: "0640",
                // The cluster's own (pg_createcluster's): put back on destroy, so the PostgreSQL left behind still starts.
                keepOriginal: true,
                content: renderOutput("postgresql/pg_hba.conf", { privateSubnet: args.privateSubnet, rejects: pgHbaRejects(args.outsideAddresses) }),
            },
            afterPackages,
        );
        const postgres = new SystemdService(
            `${name}-postgresql`,
            { connection, unit: `postgresql@${POSTGRES_VERSION}-main`, restartTriggers: [pgConf.sha256], reloadTriggers: [pgHba.sha256] },
            { parent: this, dependsOn: [pgConf, pgHba] },
        );
        const adminRole = new RemoteCommand(
            `${name}-postgresql-admin`,
            {
                connection,
                create: ADMIN_ROLE_SCRIPT,
                environment: { DYNOFORM_ADMIN_PASSWORD: pulumi.secret(args.adminPassword) },
                triggers: [pulumi.secret(args.adminPassword)],
            },
            { parent: this, dependsOn: [postgres] },
        );
        const timerUnits = ["service", "timer"].map(
            (kind) =>
                new RemoteFile(
                    `${name}-pg-basebackup-${kind}`,
                    { connection, path: `/etc/systemd/system/dynoform-pg-basebackup.${kind}`, content: render(`data/dynoform-pg-basebackup.${kind}`, { command: PG_BACKUP_COMMAND, schedule: backup.schedule }) },
                    { parent: this, dependsOn: [backupScript] },
                ),
        );
        // pg:backups:schedule's drop-in (dynoform-pg-backup schedule) is the operators' and outlives an update.
        new RemoteCommand(
            `${name}-pg-basebackup-timer-enabled`,
            {
                connection,
                // and a first base backup now, in the background: the point-in-time window opens at once
                create: "systemctl daemon-reload && systemctl enable --quiet dynoform-pg-basebackup.timer && systemctl restart dynoform-pg-basebackup.timer && systemctl start --no-block dynoform-pg-basebackup.service",
                delete: "systemctl disable --now --quiet dynoform-pg-basebackup.timer 2>/dev/null || true; rm -rf /etc/systemd/system/dynoform-pg-basebackup.timer.d; systemctl daemon-reload",
                triggers: timerUnits.map((u) => u.sha256),
            },
            { parent: this, dependsOn: [...timerUnits, postgres] },
        );
        const addonsScript = new RemoteFile(
            `${name}-addons-command`,
            {
                connection,
                path: ADDONS_COMMAND,
                mode: "0700",
                content: renderOutput("data/dynoform-addons", { listenAddress: args.host.privateAddress, firstPort: MEMCACHED_PORTS.first, lastPort: MEMCACHED_PORTS.last }),
            },
            { parent: this, dependsOn: [packages, memcachedUnit, adminRole] },
        );
        new RemoteCommand(
            `${name}-addons-key`,
            {
                connection,
                create: pulumi.all([args.addonsPublicKey, args.controlAddress]).apply(([key, address]) => addonsKeyScript(addonsAuthorizedKeyLine(key, address))),
                delete: addonsKeyDeleteScript(),
            },
            { parent: this, dependsOn: [addonsScript] },
        );

        this.databaseAdminUrl = pulumi.secret(pulumi.interpolate`postgres://${ADMIN_ROLE}:${args.adminPassword}@${args.host.privateAddress}:${POSTGRES_PORT}/postgres`);
        this.registerOutputs({ databaseAdminUrl: this.databaseAdminUrl });
    }
}
