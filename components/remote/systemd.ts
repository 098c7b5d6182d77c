import * as pulumi from "@pulumi/pulumi";
import type { SshConnection } from "./connection";
import { providerVersion } from "./provider-version";
import { remoteModule, remoteResourceOptions } from "./resource-options";
import { systemdServiceProvider } from "./systemd-provider";

export interface SystemdServiceArgs {
    connection: pulumi.Input<SshConnection>;
    /** Unit name without ".service": "nginx", "dynoform-router". */
    unit: pulumi.Input<string>;
    /** Full unit file, written to /etc/systemd/system/<unit>.service (for our own services). */
    unitFile?: pulumi.Input<string>;
    /** Drop-in written to /etc/systemd/system/<unit>.service.d/dynoform.conf (mode 0600; may be a secret). */
    dropIn?: pulumi.Input<string>;
    /** Enabled and running (default), or disabled and stopped. */
    enabled?: pulumi.Input<boolean>;
    /** Any change restarts the service, e.g. the `sha256` of the RemoteFiles it reads. */
    restartTriggers?: pulumi.Input<pulumi.Input<string>[]>;
    /** Any change runs `systemctl reload-or-restart`. */
    reloadTriggers?: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * What a new unit file or drop-in does to the running service: "restart" (default), or
     * "reload" (`reload-or-restart`) for a unit whose ExecReload redoes all ExecStart does and
     * whose stop undoes it (the firewall: a restart would leave the host without rules for a moment).
     */
    onUnitChange?: pulumi.Input<"restart" | "reload">;
    /** Where unit files go; default /etc/systemd/system. For tests. */
    systemDirectory?: pulumi.Input<string>;
}

/**
 * A systemd service: our unit file / drop-in, enabled and running (verified with
 * `systemctl is-active`; the journal tail is in the error otherwise). Refresh reports a dead service,
 * and the next `pulumi up` restarts it.
 */
export class SystemdService extends pulumi.dynamic.Resource {
    public readonly unit!: pulumi.Output<string>;
    public readonly enabled!: pulumi.Output<boolean>;
    /** Active at the last apply or refresh. */
    public readonly active!: pulumi.Output<boolean>;

    constructor(name: string, args: SystemdServiceArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            systemdServiceProvider,
            name,
            {
                connection: args.connection, unit: args.unit, unitFile: args.unitFile, dropIn: args.dropIn,
                enabled: args.enabled, restartTriggers: args.restartTriggers, reloadTriggers: args.reloadTriggers,
                onUnitChange: args.onUnitChange, systemDirectory: args.systemDirectory, active: undefined, providerVersion,
            },
            remoteResourceOptions(opts),
            remoteModule,
            "Service",
        );
    }
}
