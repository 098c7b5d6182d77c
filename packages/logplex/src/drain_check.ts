// `drains:add` tries the drain before keeping it: a TCP connection for syslog://, a verified TLS
// handshake for syslog+tls:// and https://, within a short timeout. An unreachable host, a closed
// port or a certificate nobody vouches for is an error at once, not silence later.
import net from "node:net";
import tls from "node:tls";
import { drainLabel } from "./drain";
import { DrainDestinationError, type DrainDestinations } from "./drain_destinations";

export class DrainCheckError extends Error {}

export function checkDrain(url: URL, ca: string | undefined, timeoutMs: number, destinations: DrainDestinations): Promise<void> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const useTls = url.protocol !== "syslog:";
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 0));
  const label = drainLabel(url.toString());
  let guard: ReturnType<DrainDestinations["connectOptions"]>;
  try {
    guard = destinations.connectOptions(host);
  } catch (err) {
    return Promise.reject(new DrainCheckError(`Refused ${label}: ${(err as Error).message}`));
  }
  return new Promise((resolve, reject) => {
    const s = useTls
      ? tls.connect({ ...guard, host, port, servername: net.isIP(host) ? undefined : host, ca: ca ? [...tls.rootCertificates, ca] : undefined, ALPNProtocols: url.protocol === "https:" ? ["http/1.1"] : undefined })
      : net.connect({ ...guard, host, port });
    const fail = (why: string) => {
      s.destroy();
      reject(new DrainCheckError(why));
    };
    const timer = setTimeout(() => fail(`Could not connect to ${label} within ${timeoutMs} ms: check the host and port, and that the drain accepts connections from the log router`), timeoutMs);
    s.once(useTls ? "secureConnect" : "connect", () => {
      clearTimeout(timer);
      s.end();
      resolve();
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e instanceof DrainDestinationError) {
        fail(`Refused ${label}: ${e.message}`);
      } else if (useTls && (e.code?.startsWith("ERR_TLS") || /certificate|self.signed|CERT_|UNABLE_TO/i.test(`${e.code} ${e.message}`))) {
        fail(`TLS handshake with ${label} failed: ${e.message}. Use a certificate signed by a public CA for the drain's host, or give the CA that signs it (ca)`);
      } else {
        fail(`Could not connect to ${label}: ${e.code ?? e.message}. Check the host and port, and that the drain accepts ${useTls ? "TLS " : "TCP "}connections`);
      }
    });
  });
}
