import * as pulumi from "@pulumi/pulumi";

/** Options for every remote resource: the connection (it holds the private key) is always a secret output. */
export function remoteResourceOptions(
    opts: pulumi.CustomResourceOptions | undefined,
    secretOutputs: string[] = [],
): pulumi.CustomResourceOptions {
    const additionalSecretOutputs = [...(opts?.additionalSecretOutputs ?? []), "connection", ...secretOutputs];
    return { ...opts, additionalSecretOutputs };
}

/** The `module` part of the type tokens: `pulumi-nodejs:dynamic/remote:File` and so on. */
export const remoteModule = "remote";
