import * as pulumi from "@pulumi/pulumi";
import { remoteCommandProvider } from "./command-provider";
import type { SshConnection } from "./connection";
import { providerVersion } from "./provider-version";
import { remoteModule, remoteResourceOptions } from "./resource-options";

export interface RemoteCommandArgs {
    connection: pulumi.Input<SshConnection>;
    /** Shell command run on create (as root, /bin/sh). */
    create: pulumi.Input<string>;
    /**
     * Run when `create`, `update`, `triggers`, `environment` or the host's address/key change.
     * Without it `create` runs again, so commands should be idempotent.
     */
    update?: pulumi.Input<string>;
    /** Run on destroy (and on replacement, for the old host); idempotent: it runs again when its connection is lost midway. */
    delete?: pulumi.Input<string>;
    /** Any change re-runs the command (see `update`). */
    triggers?: pulumi.Input<unknown[]>;
    /** Exported to the command through stdin, never on a command line; may be a secret. */
    environment?: pulumi.Input<Record<string, pulumi.Input<string>>>;
    /** Names the command in errors ("preflight of edge-1") instead of its text. */
    label?: pulumi.Input<string>;
}

/** A command run on a host at create/update/delete, with its output tail as outputs. */
export class RemoteCommand extends pulumi.dynamic.Resource {
    /** Last 4000 characters of the last run's stdout / stderr. */
    public readonly stdout!: pulumi.Output<string>;
    public readonly stderr!: pulumi.Output<string>;

    constructor(name: string, args: RemoteCommandArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            remoteCommandProvider,
            name,
            {
                connection: args.connection, create: args.create, update: args.update, delete: args.delete,
                triggers: args.triggers, environment: args.environment, label: args.label,
                stdout: undefined, stderr: undefined, providerVersion,
            },
            remoteResourceOptions(opts, ["environment"]),
            remoteModule,
            "Command",
        );
    }
}
