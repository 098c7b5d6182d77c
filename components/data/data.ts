import * as pulumi from "@pulumi/pulumi";
import { Host } from "../hosts/host";
import { AptPackages, RemoteCommand, RemoteFile, SystemdService } from "../remote";
import { renderOutput } from "../templates/render";

export const POSTGRES_VERSION = "15"; // Debian bookworm's
export const ADMIN_ROLE = "dynoform_admin";

export interface DataArgs {
    host: Host;
    privateSubnet: pulumi.Input<string>;
    /** Addresses inside the subnet that must not connect (the lab gateway: everything outside comes through it). */
    rejectAddresses: string[];
    memcachedMemoryMb: number;
    adminPassword: pulumi.Input<string>;
}

export function pgHbaRejects(addresses: string[]): string {
    return addresses.map((a) => `host    all       all   ${a}/32  reject`).join("\n");
}

/** SQL run as postgres: the platform's admin role (creates per-app databases and roles). */
export const ADMIN_ROLE_SCRIPT = [
    "set -e",
    'runuser -u postgres -- psql -v ON_ERROR_STOP=1 -q -v pw="$DYNOFORM_ADMIN_PASSWORD" <<\'SQL\'',
    `SELECT 'CREATE ROLE ${ADMIN_ROLE} LOGIN CREATEDB CREATEROLE' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ADMIN_ROLE}') \\gexec`,
    `SELECT format('ALTER ROLE ${ADMIN_ROLE} PASSWORD %L', :'pw') \\gexec`,
    "SQL",
].join("\n");

/**
 * The data role: PostgreSQL (scram-sha-256, private subnet only) and Memcached, both bound to
 * the host's private address.
 */
export class Data extends pulumi.ComponentResource {
    public readonly databaseAdminUrl: pulumi.Output<string>;
    public readonly memcacheServers: pulumi.Output<string>;

    constructor(name: string, args: DataArgs, opts?: pulumi.ComponentResourceOptions) {
        super("dynoform:data:Data", name, {}, opts);
        const connection = args.host.ssh;
        const packages = new AptPackages(`${name}-packages`, { connection, packages: ["postgresql", "memcached"] }, { parent: this });
        const afterPackages = { parent: this, dependsOn: [packages] };

        const memcachedConf = new RemoteFile(
            `${name}-memcached-conf`,
            {
                connection,
                path: "/etc/memcached.conf",
                content: renderOutput("memcached/memcached.conf", {
                    listenAddress: args.host.privateAddress,
                    memoryMb: args.memcachedMemoryMb,
                    maxConnections: 1024,
                }),
            },
            afterPackages,
        );
        new SystemdService(`${name}-memcached`, { connection, unit: "memcached", restartTriggers: [memcachedConf.sha256] }, { parent: this, dependsOn: [memcachedConf] });

        const pgDir = `/etc/postgresql/${POSTGRES_VERSION}/main`;
        const pgConf = new RemoteFile(
            `${name}-postgresql-conf`,
            {
                connection,
                path: `${pgDir}/conf.d/dynoform.conf`,
                owner: "postgres:postgres",
                content: renderOutput("postgresql/dynoform.conf", { listenAddress: args.host.privateAddress, maxConnections: 200 }),
            },
            afterPackages,
        );
        const pgHba = new RemoteFile(
            `${name}-pg-hba`,
            {
                connection,
                path: `${pgDir}/pg_hba.conf`,
                owner: "postgres:postgres",
                mode: "0640",
                content: renderOutput("postgresql/pg_hba.conf", { privateSubnet: args.privateSubnet, rejects: pgHbaRejects(args.rejectAddresses) }),
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
        new RemoteFile(
            `${name}-pg-app-helper`,
            {
                connection,
                path: "/usr/local/sbin/dynoform-pg-app",
                mode: "0755",
                content: renderOutput("postgresql/dynoform-pg-app", { listenAddress: args.host.privateAddress }),
            },
            { parent: this, dependsOn: [adminRole] },
        );

        this.databaseAdminUrl = pulumi.secret(pulumi.interpolate`postgres://${ADMIN_ROLE}:${args.adminPassword}@${args.host.privateAddress}:5432/postgres`);
        this.memcacheServers = pulumi.interpolate`${args.host.privateAddress}:11211`;
        this.registerOutputs({ databaseAdminUrl: this.databaseAdminUrl, memcacheServers: this.memcacheServers });
    }
}
