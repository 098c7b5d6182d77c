// The LabHost dynamic resource. What Pulumi serializes into the state is only the small loader
// below: each call requires ./provider-impl.ts from the dynoform checkout (the working directory
// of the engine's provider process = the project dir, falling back to where the checkout was at
// creation). So a moved checkout keeps working, and delete/read always run the current code.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import type { LabImage, LabHostOutputs } from "./config";

/** Path of the implementation inside a dynoform checkout. */
const IMPL = "components/hosts/lab/provider-impl.ts";

/**
 * The provider object Pulumi serializes. Self-contained on purpose: it captures only two
 * strings, and loads TypeScript with the checkout's own `typescript` package (the dynamic-provider
 * process runs plain node, without ts-node).
 */
export function labHostLoader(fallbackRoot: string): pulumi.dynamic.ResourceProvider {
    const implPath = IMPL;
    const load = (): pulumi.dynamic.ResourceProvider => {
        const fs = require("fs");
        const nodePath = require("path");
        const Module = require("module");
        const roots = [process.env.DYNOFORM_ROOT, process.cwd(), fallbackRoot].filter((r): r is string => !!r);
        const root = roots.find((r) => fs.existsSync(nodePath.join(r, implPath)));
        if (!root) {
            throw new Error(`dynoform lab provider: ${implPath} not found under ${roots.join(" or ")}; run pulumi from the dynoform checkout (or set DYNOFORM_ROOT)`);
        }
        const file = nodePath.join(root, implPath);
        const req = Module.createRequire(file);
        const extensions = Module._extensions as Record<string, unknown>;
        if (!extensions[".ts"]) {
            const ts = req("typescript");
            extensions[".ts"] = (m: { _compile(code: string, filename: string): void }, filename: string) => {
                const out = ts.transpileModule(fs.readFileSync(filename, "utf8"), {
                    fileName: filename,
                    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, inlineSourceMap: true },
                });
                m._compile(out.outputText, filename);
            };
        }
        return req(file).labHostProvider;
    };
    return {
        check: (olds, news) => load().check!(olds, news),
        diff: (id, olds, news) => load().diff!(id, olds, news),
        create: (inputs) => load().create(inputs),
        read: (id, props) => load().read!(id, props),
        delete: (id, props) => load().delete!(id, props),
    };
}

const provider = labHostLoader(path.resolve(__dirname, "..", "..", ".."));

export interface LabNetworkArgs {
    /** Short network name (≤ 10 chars): the bridge is `dfbr-<name>`. */
    name: string;
    /** A /24 inside 10.213.0.0/16. */
    subnet: string;
    /** Default `dfbr-<name>`. */
    bridge?: string;
    /** Default: .1 of the subnet. */
    gateway?: string;
}

export interface LabHostArgs {
    network: pulumi.Input<LabNetworkArgs>;
    name: pulumi.Input<string>;
    address: pulumi.Input<string>;
    /** "base" (bare Debian) or "packages" (with nginx, varnish, memcached, postgresql preinstalled). */
    image?: pulumi.Input<LabImage>;
    /** e.g. "1G"; applied through this process's memory cgroup when one is available. */
    memoryMax?: pulumi.Input<string>;
}

/** A local Debian bookworm machine (systemd under systemd-nspawn): `pulumi-nodejs:dynamic/hosts:LabHost`. */
export class LabHost extends pulumi.dynamic.Resource {
    declare public readonly address: pulumi.Output<string>;
    declare public readonly hostKey: pulumi.Output<string>;
    declare public readonly privateKey: pulumi.Output<string>;
    declare public readonly machineName: pulumi.Output<string>;
    declare public readonly dir: pulumi.Output<string>;
    declare public readonly network: pulumi.Output<LabHostOutputs["network"]>;

    constructor(name: string, args: LabHostArgs, opts?: pulumi.CustomResourceOptions) {
        super(
            provider,
            name,
            {
                network: args.network,
                name: args.name,
                address: args.address,
                image: args.image ?? "base",
                memoryMax: args.memoryMax,
                hostKey: undefined,
                privateKey: undefined,
                machineName: undefined,
                dir: undefined,
            },
            { ...opts, additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "privateKey"] },
            "hosts",
            "LabHost",
        );
    }
}
