// A build's source_blob.url is whatever an API token holder typed, and the control host that fetches
// it sits inside the private network: it must never GET what only that host or that network reaches
// (its own API on loopback, the data host, a cloud's metadata service), however the URL leads there:
// by address, by a name, by a redirect, or by a name that answers differently the second time.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import * as tls from "node:tls";
import { PublicAddresses } from "../src/api/public_addresses";
import { checkSourceUrl, fetchSourceBlob, SourceUrlError, type SourcePolicy } from "../src/api/source_blob_fetch";

jest.setTimeout(20_000);

// The tests' stand-in for the public internet is 127.0.0.1 (allowed by name, as the drains' tests
// allow the lab's gateway); 127.0.0.2 stands for the inside, refused as all of 127/8 is.
const OUTSIDE = "127.0.0.1";
const INSIDE = "127.0.0.2";

/** A resolver of made-up names: `names[host]` is the list of answers, one per lookup (the last repeats). */
function fakeResolver(names: Record<string, string[][]>) {
    const calls: string[] = [];
    const resolve = async (host: string) => {
        calls.push(host);
        const answers = names[host];
        if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
        const n = calls.filter((c) => c === host).length;
        const list = answers[Math.min(n, answers.length) - 1];
        return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
    };
    return { resolve, calls };
}

/** Names resolved by `names`; `allowed`: the outside's stand-in (none: the policy as deployed). */
function policy(names: Record<string, string[][]> = {}, allowed = [OUTSIDE]): SourcePolicy & { calls: string[] } {
    const r = fakeResolver(names);
    return { addresses: new PublicAddresses({ allowed }), resolve: r.resolve, calls: r.calls };
}

/** An HTTP server on `host`, counting the requests it gets. */
async function serve(host: string, handler: http.RequestListener, port = 0) {
    const server = http.createServer((req, res) => {
        served.requests.push(req.url ?? "");
        handler(req, res);
    });
    const served = { server, requests: [] as string[], port: 0, url: "" };
    await new Promise<void>((r) => server.listen(port, host, r));
    served.port = (server.address() as AddressInfo).port;
    served.url = `http://${host}:${served.port}`;
    return served;
}

let dir: string;
let servers: http.Server[];
beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "source-blob-"));
    servers = [];
});
afterEach(async () => {
    for (const s of servers) {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
    }
    fs.rmSync(dir, { recursive: true, force: true });
});
async function server(host: string, handler: http.RequestListener, port = 0) {
    const s = await serve(host, handler, port);
    servers.push(s.server);
    return s;
}
const fetchTo = (url: string, p: SourcePolicy, opts: { limit?: number; timeoutMs?: number } = {}) =>
    fetchSourceBlob(url, path.join(dir, "source.tgz"), { limit: opts.limit ?? 1024 * 1024, timeoutMs: opts.timeoutMs ?? 5000, policy: p });

describe("which addresses are refused", () => {
    const addresses = new PublicAddresses();
    test.each([
        ["127.0.0.1", "loopback"],
        ["127.8.9.10", "loopback"],
        ["10.213.1.5", "private"],
        ["172.16.0.1", "private"],
        ["172.31.255.254", "private"],
        ["192.168.1.1", "private"],
        ["100.64.0.1", "shared (CGNAT)"],
        ["169.254.169.254", "link-local"],
        ["0.0.0.0", "unspecified"],
        ["224.0.0.18", "multicast"],
        ["255.255.255.255", "reserved"],
        ["::1", "loopback"],
        ["::", "unspecified"],
        ["::ffff:127.0.0.1", "loopback"],
        ["::ffff:7f00:1", "loopback"],
        ["::ffff:10.0.0.30", "private"],
        ["::ffff:169.254.169.254", "link-local"],
        ["64:ff9b::a9fe:a9fe", "link-local"],
        ["fd00::1", "unique-local"],
        ["fc00::5", "unique-local"],
        ["fe80::1", "link-local"],
        ["ff02::1", "multicast"],
        ["fd00:ec2::254", "unique-local"],
    ])("%s is refused as %s", (address, kind) => {
        expect(addresses.refusal(address)).toContain(kind);
    });
    test.each(["93.184.215.14", "140.82.112.3", "172.32.0.1", "100.128.0.1", "2606:4700::6810:84e5", "::ffff:93.184.215.14"])("%s is public", (address) => {
        expect(addresses.refusal(address)).toBeUndefined();
    });
    test("an address that is not one is refused", () => {
        expect(addresses.refusal("example.com")).toMatch(/not an IP address/);
    });
});

describe("a URL refused before anything is fetched", () => {
    test.each([
        ["file:///etc/passwd", /http or https/],
        ["ftp://example.com/source.tgz", /http or https/],
        ["gopher://example.com/", /http or https/],
        ["data:application/gzip;base64,H4sI", /http or https/],
        ["not a url", /not a URL/],
        ["https://user:secret@example.com/source.tgz", /user name or password/],
        ["https://token@example.com/source.tgz", /user name or password/],
        ["http://127.0.0.1:5200/apps", /127\.0\.0\.1 is a loopback address/],
        ["http://2130706433/", /127\.0\.0\.1 is a loopback address/],
        ["http://0x7f.1/", /127\.0\.0\.1 is a loopback address/],
        ["http://127.1/", /127\.0\.0\.1 is a loopback address/],
        ["http://10.213.1.30:5432/", /private/],
        ["http://169.254.169.254/latest/meta-data/iam/security-credentials/", /link-local/],
        ["http://[::1]:5200/", /loopback/],
        ["http://[::ffff:127.0.0.1]:5200/", /loopback/],
        ["http://[::ffff:a9fe:a9fe]/latest/meta-data/", /link-local/],
        ["http://[fd00:ec2::254]/latest/meta-data/", /unique-local/],
        ["http://0.0.0.0:5200/", /unspecified/],
        ["http://inside.example.com/source.tgz", /inside\.example\.com resolves to 10\.0\.0\.5, a private address/],
        ["http://metadata.example.com/", /metadata\.example\.com resolves to 169\.254\.169\.254, a link-local address/],
        ["http://nowhere.example.com/", /nowhere\.example\.com does not resolve/],
    ])("%s", async (url, why) => {
        const p = policy({ "inside.example.com": [["10.0.0.5"]], "metadata.example.com": [["169.254.169.254"]] }, []);
        const err = await checkSourceUrl(url, p).catch((e: Error) => e);
        expect(err).toBeInstanceOf(SourceUrlError);
        expect((err as Error).message).toMatch(why);
    });

    test("localhost, by the system's own resolver, is refused", async () => {
        const err = await checkSourceUrl("http://localhost:5200/apps", { addresses: new PublicAddresses() }).catch((e: Error) => e);
        expect((err as Error).message).toMatch(/localhost resolves to .*loopback/);
    });

    test("a name with a public and a private address is taken only at the public one", async () => {
        const p = policy({ "mixed.example.com": [["10.0.0.5", "93.184.215.14"]] });
        expect(await checkSourceUrl("https://mixed.example.com/source.tgz", p)).toMatchObject({ host: "mixed.example.com", addresses: [{ address: "93.184.215.14", family: 4 }] });
    });
});

describe("fetching", () => {
    test("a public URL is fetched into the file", async () => {
        const blob = await server(OUTSIDE, (_req, res) => res.end("tarball"));
        await fetchTo(`${blob.url}/source.tgz`, policy());
        expect(fs.readFileSync(path.join(dir, "source.tgz"), "utf8")).toBe("tarball");
        expect(blob.requests).toEqual(["/source.tgz"]);
    });

    test("a name is connected to at the address that was checked, whatever it resolves to next (DNS rebinding)", async () => {
        const outside = await server(OUTSIDE, (_req, res) => res.end("tarball"));
        // The inside listens on the same port: the first answer passes the check, every later one points there.
        const inside = await server(INSIDE, (_req, res) => res.end("secret"), outside.port);
        const p = policy({ "rebind.example.com": [[OUTSIDE], [INSIDE]] });
        await fetchTo(`http://rebind.example.com:${outside.port}/source.tgz`, p);
        expect(fs.readFileSync(path.join(dir, "source.tgz"), "utf8")).toBe("tarball");
        expect(p.calls).toEqual(["rebind.example.com"]);
        expect(inside.requests).toEqual([]);
    });

    test("https goes to the checked address, and its certificate is still checked against the URL's host name", async () => {
        const key = path.join(dir, "blob.key");
        const cert = path.join(dir, "blob.crt");
        execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=blob.example.com", "-addext", "subjectAltName=DNS:blob.example.com"], { stdio: "ignore" });
        const context = tls.createSecureContext({ key: fs.readFileSync(key), cert: fs.readFileSync(cert) });
        const names: string[] = [];
        const blob = https.createServer({ SNICallback: (name, cb) => (names.push(name), cb(null, context)) }, (_req, res) => res.end("tarball"));
        servers.push(blob);
        await new Promise<void>((r) => blob.listen(0, OUTSIDE, r));
        const p = policy({ "blob.example.com": [[OUTSIDE]] });
        // Nobody vouches for the certificate: the fetch is refused, having reached the pinned address with the URL's name.
        await expect(fetchTo(`https://blob.example.com:${(blob.address() as AddressInfo).port}/source.tgz`, p)).rejects.toThrow(/self-signed certificate/);
        expect(names).toEqual(["blob.example.com"]);
    });

    test("a redirect to an inside address is refused before it is followed", async () => {
        const inside = await server(INSIDE, (_req, res) => res.end("secret"));
        const blob = await server(OUTSIDE, (_req, res) => res.writeHead(302, { Location: `${inside.url}/latest/meta-data/` }).end());
        await expect(fetchTo(`${blob.url}/source.tgz`, policy())).rejects.toThrow(/redirected to http:\/\/127\.0\.0\.2:\d+\/latest\/meta-data\/: 127\.0\.0\.2 is a loopback address/);
        expect(inside.requests).toEqual([]);
        expect(fs.existsSync(path.join(dir, "source.tgz"))).toBe(false);
    });

    test("a redirect to a name that resolves inside, to another scheme or with credentials is refused", async () => {
        const p = policy({ "inside.example.com": [["10.0.0.5"]] });
        for (const [location, why] of [
            ["http://inside.example.com/x", /resolves to 10\.0\.0\.5, a private address/],
            ["file:///etc/shadow", /http or https/],
            ["http://user:pw@example.com/x", /user name or password/],
            ["http://169.254.169.254/latest/meta-data/", /link-local/],
            ["http://[::ffff:127.0.0.1]:5200/apps", /loopback/],
        ] as const) {
            const blob = await server(OUTSIDE, (_req, res) => res.writeHead(307, { Location: location }).end());
            await expect(fetchTo(`${blob.url}/source.tgz`, p)).rejects.toThrow(why);
        }
    });

    test("redirects between public places are followed, relative ones too, up to a bound", async () => {
        const blob = await server(OUTSIDE, (req, res) => {
            if (req.url === "/a") return void res.writeHead(301, { Location: "/b" }).end();
            if (req.url === "/b") return void res.writeHead(302, { Location: `http://${OUTSIDE}:${blob.port}/c` }).end();
            if (req.url === "/c") return void res.end("tarball");
            res.writeHead(302, { Location: "/loop" }).end();
        });
        await fetchTo(`${blob.url}/a`, policy());
        expect(fs.readFileSync(path.join(dir, "source.tgz"), "utf8")).toBe("tarball");
        await expect(fetchTo(`${blob.url}/loop`, policy())).rejects.toThrow(/more than 5 redirects/);
    });

    test("a blob larger than the limit is refused, by its Content-Length or as it streams", async () => {
        const big = await server(OUTSIDE, (_req, res) => res.writeHead(200, { "Content-Length": 2048 }).end(Buffer.alloc(2048)));
        await expect(fetchTo(`${big.url}/`, policy(), { limit: 1024 })).rejects.toThrow(/larger than 1024 bytes/);
        const chunked = await server(OUTSIDE, (_req, res) => {
            res.write(Buffer.alloc(1000));
            res.end(Buffer.alloc(1000));
        });
        await expect(fetchTo(`${chunked.url}/`, policy(), { limit: 1024 })).rejects.toThrow(/larger than 1024 bytes/);
    });

    test("a server that never answers, or answers forever, is given up on at the deadline", async () => {
        const silent = await server(OUTSIDE, () => undefined);
        const started = Date.now();
        await expect(fetchTo(`${silent.url}/`, policy(), { timeoutMs: 300 })).rejects.toThrow(/did not send the tarball within 0\.3 s/);
        const dribble = await server(OUTSIDE, (_req, res) => {
            res.write("x");
            const t = setInterval(() => res.write("x"), 50);
            res.on("close", () => clearInterval(t));
        });
        await expect(fetchTo(`${dribble.url}/`, policy(), { timeoutMs: 300 })).rejects.toThrow(/within 0\.3 s/);
        expect(Date.now() - started).toBeLessThan(3000);
    });

    test("an answer other than 200 names its status", async () => {
        const gone = await server(OUTSIDE, (_req, res) => res.writeHead(403).end("expired"));
        await expect(fetchTo(`${gone.url}/source.tgz?sig=secret`, policy())).rejects.toThrow(/^GET http:\/\/127\.0\.0\.1:\d+\/source\.tgz answered 403/);
    });
});
