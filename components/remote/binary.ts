import * as pulumi from "@pulumi/pulumi";
import { remoteBinaryProvider } from "./binary-provider";
import type { SshConnection } from "./connection";
import { providerVersion } from "./provider-version";
import { remoteModule, remoteResourceOptions } from "./resource-options";

export interface RemoteBinaryArgs {
    connection: pulumi.Input<SshConnection>;
    /** Local path of the file to ship (a service binary built by `npm run build:binaries`). */
    source: pulumi.Input<string>;
    /** sha256 of `source`: the state keeps this, never the bytes. */
    sha256: pulumi.Input<string>;
    /** Absolute path on the host. */
    path: pulumi.Input<string>;
    /** Octal, default "0755". */
    mode?: pulumi.Input<string>;
}

/** A large file (an executable) uploaded by hash: re-sent only when its sha256 changes. */
export class RemoteBinary extends pulumi.dynamic.Resource {
    public readonly path!: pulumi.Output<string>;
    public readonly sha256!: pulumi.Output<string>;

    constructor(name: string, args: RemoteBinaryArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            remoteBinaryProvider,
            name,
            { connection: args.connection, source: args.source, sha256: args.sha256, path: args.path, mode: args.mode ?? "0755", providerVersion },
            remoteResourceOptions(opts),
            remoteModule,
            "Binary",
        );
    }
}
