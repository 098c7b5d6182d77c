// LabHost provider logic that needs no machine: input normalization, diff, and the serialized
// loader (what Pulumi stores in the state) running in a plain node process like the engine's.
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as machine from "../../components/hosts/lab/machine";
import { labHostProvider, normalizeInputs, replacedKeys } from "../../components/hosts/lab/provider-impl";

const root = path.resolve(__dirname, "..", "..");
const news = { network: { name: "local", subnet: "10.213.1.0/24" }, name: "edge-1", address: "10.213.1.10", image: "packages" };

describe("LabHost inputs", () => {
    test("normalize fills bridge and gateway", () => {
        expect(normalizeInputs(news)).toEqual({
            network: { name: "local", subnet: "10.213.1.0/24", bridge: "dfbr-local", gateway: "10.213.1.1" },
            name: "edge-1",
            address: "10.213.1.10",
            image: "packages",
        });
        expect(normalizeInputs({ ...news, image: undefined }).image).toBe("base");
    });

    test("check reports a bad address with its fix", async () => {
        const r = await labHostProvider.check({}, { ...news, address: "10.213.2.10" });
        expect(r.failures?.[0].reason).toMatch(/address 10\.213\.2\.10 is not a host address of 10\.213\.1\.0\/24/);
    });

    test("check lets unknown (preview) values through", async () => {
        const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
        const r = await labHostProvider.check({}, { ...news, address: unknown });
        expect(r.failures).toBeUndefined();
    });
});

describe("LabHost diff", () => {
    const olds = { ...normalizeInputs(news), hostKey: "ssh-ed25519 A", privateKey: "k", machineName: "local-edge-1", dir: "/x" };
    let alive: jest.SpyInstance;
    let bridge: jest.SpyInstance;
    beforeEach(() => {
        alive = jest.spyOn(machine, "machineAlive").mockReturnValue(true);
        bridge = jest.spyOn(machine, "bridgeUp").mockReturnValue(true);
    });
    afterEach(() => jest.restoreAllMocks());
    test("a machine that is gone is replaced by a plain up (no SSH to it is tried)", async () => {
        alive.mockReturnValue(false);
        expect(await labHostProvider.diff("local-edge-1", olds, normalizeInputs(news))).toEqual({ changes: true, replaces: ["machineName"], deleteBeforeReplace: true });
        expect(await labHostProvider.read("local-edge-1", olds)).toEqual({ id: "", props: {} });
    });
    test("a machine whose bridge is gone is replaced too", async () => {
        bridge.mockReturnValue(false);
        expect((await labHostProvider.diff("local-edge-1", olds, normalizeInputs(news))).replaces).toEqual(["machineName"]);
        expect(bridge).toHaveBeenCalledWith("dfbr-local");
    });
    test("same inputs (outputs aside): no change", async () => {
        expect(replacedKeys(olds, normalizeInputs(news))).toEqual([]);
        const d = await labHostProvider.diff("local-edge-1", olds, normalizeInputs(news));
        expect(d.changes).toBe(false);
    });
    test("any input change replaces the machine, deleting first (same name and address)", async () => {
        const d = await labHostProvider.diff("local-edge-1", olds, { ...normalizeInputs(news), address: "10.213.1.11", image: "base" });
        expect(d).toEqual({ changes: true, replaces: ["address", "image"], deleteBeforeReplace: true });
        expect(replacedKeys(olds, { ...normalizeInputs(news), network: { ...olds.network, subnet: "10.213.3.0/24" } })).toEqual(["network"]);
        expect(replacedKeys(olds, { ...normalizeInputs(news), memoryMax: "1G" })).toEqual(["memoryMax"]);
    });
});

describe("the serialized loader", () => {
    // Serialize the provider as pulumi.dynamic.Resource does, then run it as the engine's
    // dynamic-provider process would (require-from-string in plain node, no ts-node).
    jest.setTimeout(60_000);

    async function serialized(fallbackRoot: string): Promise<string> {
        const { labHostLoader } = await import("../../components/hosts/lab/provider");
        const { serializeFunction } = await import("@pulumi/pulumi/runtime/closure/serializeClosure");
        const provider = labHostLoader(fallbackRoot);
        return (await serializeFunction(() => provider, { allowSecrets: true })).text;
    }

    function runProvider(text: string, cwd: string): Promise<string> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dynoform-loader-"));
        const file = path.join(dir, "provider.js");
        fs.writeFileSync(file, text);
        const script = `
            const requireFromString = require(${JSON.stringify(path.join(root, "node_modules/require-from-string"))});
            const p = requireFromString(require("fs").readFileSync(${JSON.stringify(file)}, "utf8")).handler();
            p.diff("id", ${JSON.stringify(normalizeInputs(news))}, ${JSON.stringify({ ...normalizeInputs(news), address: "10.213.1.99" })})
              .then((d) => console.log(JSON.stringify(d)), (e) => { console.error(e.message); process.exit(3); });`;
        return new Promise((resolve, reject) => {
            execFile(process.execPath, ["-e", script], { cwd, env: { ...process.env, DYNOFORM_ROOT: "" } }, (err, stdout, stderr) => {
                fs.rmSync(dir, { recursive: true, force: true });
                if (err) reject(new Error(stderr || err.message));
                else resolve(stdout.trim());
            });
        });
    }

    test("is small and captures no implementation", async () => {
        const text = await serialized(root);
        expect(text.length).toBeLessThan(8_000);
        expect(text).not.toContain("systemd-nspawn");
    });

    test("loads the implementation from the checkout it runs in (a moved checkout)", async () => {
        const text = await serialized("/nonexistent/old-checkout");
        expect(JSON.parse(await runProvider(text, root))).toEqual({ changes: true, replaces: ["address"], deleteBeforeReplace: true });
    });

    test("falls back to the checkout recorded at creation", async () => {
        const text = await serialized(root);
        expect(JSON.parse(await runProvider(text, os.tmpdir())).replaces).toEqual(["address"]);
    });

    test("says what to do when no checkout is found", async () => {
        const text = await serialized("/nonexistent/old-checkout");
        await expect(runProvider(text, os.tmpdir())).rejects.toThrow(/run pulumi from the dynoform checkout/);
    });
});
