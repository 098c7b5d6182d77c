import * as pulumi from "@pulumi/pulumi";
import { aptPackagesProvider } from "./apt-provider";
import type { SshConnection } from "./connection";
import { providerVersion } from "./provider-version";
import { remoteModule, remoteResourceOptions } from "./resource-options";

export interface AptPackagesArgs {
    connection: pulumi.Input<SshConnection>;
    /** Debian package names; installed with --no-install-recommends. */
    packages: pulumi.Input<pulumi.Input<string>[]>;
    /**
     * Purge the packages on destroy and when they leave the list. Default false: packages are
     * shared (other roles, the base image) and removing them can break the host.
     */
    purgeOnDelete?: pulumi.Input<boolean>;
}

/** Debian packages installed on a host (apt-get update only when the lists are stale). */
export class AptPackages extends pulumi.dynamic.Resource {
    public readonly packages!: pulumi.Output<string[]>;
    /** Installed version per package. */
    public readonly versions!: pulumi.Output<Record<string, string>>;

    constructor(name: string, args: AptPackagesArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            aptPackagesProvider,
            name,
            {
                connection: args.connection, packages: args.packages, purgeOnDelete: args.purgeOnDelete,
                versions: undefined, providerVersion,
            },
            remoteResourceOptions(opts),
            remoteModule,
            "Packages",
        );
    }
}
