import * as pulumi from "@pulumi/pulumi";
import type { SshConnection } from "./connection";
import { remoteFileProvider } from "./file-provider";
import { providerVersion } from "./provider-version";
import { remoteModule, remoteResourceOptions } from "./resource-options";

export interface RemoteFileArgs {
    connection: pulumi.Input<SshConnection>;
    /** Absolute path on the host; changing it replaces the file (the old one is removed). */
    path: pulumi.Input<string>;
    /** File content; may be a secret (the state keeps only its sha256). */
    content: pulumi.Input<string>;
    /** Octal, default "0644". */
    mode?: pulumi.Input<string>;
    /** "user:group", default "root:root". */
    owner?: pulumi.Input<string>;
    /**
     * The path holds a Debian package's file (/etc/nginx/nginx.conf): the one found there at the
     * first write is kept beside it (`<path>.dynoform-original`) and put back on destroy, instead
     * of leaving the package without it.
     */
    keepOriginal?: pulumi.Input<boolean>;
}

/** A file on a host, written atomically, removed on destroy (or the package's original put back: keepOriginal). */
export class RemoteFile extends pulumi.dynamic.Resource {
    public readonly path!: pulumi.Output<string>;
    public readonly mode!: pulumi.Output<string>;
    public readonly owner!: pulumi.Output<string>;
    /** sha256 of the content: feed it to `SystemdService.restartTriggers`. */
    public readonly sha256!: pulumi.Output<string>;

    constructor(name: string, args: RemoteFileArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            remoteFileProvider,
            name,
            {
                connection: args.connection, path: args.path, content: args.content, mode: args.mode, owner: args.owner,
                keepOriginal: args.keepOriginal, sha256: undefined, providerVersion,
            },
            remoteResourceOptions(opts),
            remoteModule,
            "File",
        );
    }
}
