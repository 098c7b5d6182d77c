// dynoform:extraCaCertificates: what a user behind a TLS-intercepting proxy sets, validated before
// anything is declared, and what the control host then trusts (Pulumi's mocks).
import { parseStackConfig, type RawStackConfig } from "../../components/config/stack_config";
import { problemsOf } from "../support/stack_problems";
import { platformOnFakeHosts, recordResources } from "../support/platform_mocks";

const created = recordResources();

/** A self-signed CA made for this test (openssl req -x509, prime256v1); its key is gone. */
const PROXY_CA = "-----BEGIN CERTIFICATE-----\nMIIBmTCCAT+gAwIBAgIUZZqm8MaeYGNS9PyiPj1QwF7XOKQwCgYIKoZIzj0EAwIw\nITEfMB0GA1UEAwwWZHlub2Zvcm0gdGVzdCBwcm94eSBDQTAgFw0yNjExMjkyMzEx\nNTlaGA8yMTI2MTEwNTIzMTE1OVowITEfMB0GA1UEAwwWZHlub2Zvcm0gdGVzdCBw\ncm94eSBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABBJwjooSV49pB47kGm5+\n4xTv6B4aPf6njAlPW1JXieM/WMeDksSK3dk2lgb7+3YDCee5abI6Zl9zAALoCiIH\n2NCjUzBRMB0GA1UdDgQWBBRicKe47+Hg+hd77lXIyC6Hedg59zAfBgNVHSMEGDAW\ngBRicKe47+Hg+hd77lXIyC6Hedg59zAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49\nBAMCA0gAMEUCIQDPGy0Gt5kueTZiSs0b49iKyryfShJhcPWtXuOLg8j5ZgIgBwgf\nLrdpFTkUmVkRdttAL+QktYXlvZnndSFzcosFykI=\n-----END CERTIFICATE-----\n";

const base: RawStackConfig = {
    target: "lab",
    lab: { network: "unit", subnet: "10.213.7.0/24" },
    hosts: [
        { name: "edge-1", address: "10.213.7.10", roles: ["edge", "control"] },
        { name: "dyno-1", address: "10.213.7.21", roles: ["dyno"] },
        { name: "data-1", address: "10.213.7.30", roles: ["data"] },
    ],
};


test("one or more PEM certificates are taken, one block per certificate", () => {
    expect(parseStackConfig({ ...base, extraCaCertificates: PROXY_CA }).extraCaCertificates).toBe(PROXY_CA);
    expect(parseStackConfig({ ...base, extraCaCertificates: `\n${PROXY_CA}\n\n${PROXY_CA}` }).extraCaCertificates).toBe(`${PROXY_CA.trim()}\n${PROXY_CA}`);
    expect(parseStackConfig(base).extraCaCertificates).toBeUndefined();
});

test.each([
    ["a file name", "proxy-ca.pem", /holds something other than PEM certificates/],
    ["a private key beside the certificate", `${PROXY_CA}-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n`, /holds something other than PEM certificates/],
    ["a damaged certificate", PROXY_CA.replace(/\n[A-Za-z0-9+/]{20}/, "\nAAAA"), /certificate 1 of 1 cannot be read/],
    ["nothing", "  ", /must be PEM text/],
])("%s is refused before anything is declared, with the command that sets it", (_what, value, message) => {
    const problems = problemsOf({ ...base, extraCaCertificates: value });
    expect(problems).toEqual([expect.stringMatching(message)]);
    expect(problems[0]).toContain('pulumi config set dynoform:extraCaCertificates -- "$(cat proxy-ca.pem)"');
});

test("the control host trusts the configured CA (builds fetch through the proxy), not this machine's", async () => {
    await platformOnFakeHosts(parseStackConfig({ ...base, extraCaCertificates: PROXY_CA }));
    const ca = created.find((c) => c.host === "edge-1" && c.inputs.path === "/usr/local/share/ca-certificates/dynoform-extra.crt");
    expect(ca?.inputs.content).toBe(PROXY_CA);
    const update = created.find((c) => c.host === "edge-1" && String(c.inputs.create ?? "").startsWith("update-ca-certificates"));
    expect(update).toBeDefined();
    // A destroy takes it out of the bundle and its links out of /etc/ssl/certs, before the file's own delete.
    expect(update!.inputs.delete).toBe("rm -f /usr/local/share/ca-certificates/dynoform-extra.crt && update-ca-certificates --fresh >/dev/null");
});
