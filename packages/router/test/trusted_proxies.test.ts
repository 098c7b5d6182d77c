// The default trustedProxies as components/mesh deploys the router: listen on the private address,
// peers the other edge hosts' load ports.
import { loadConfig } from "../src/config";
import { defaultTrustedProxies, isTrusted, trustedProxyList } from "../src/trusted_proxies";

test("by default the edge hosts (the listen host and the peers' hosts) and loopback are trusted, nothing else", () => {
  const cfg = loadConfig(["--listen", "10.213.1.10:8080", "--load-listen", "10.213.1.10:8082", "--peers", "10.213.1.11:8082,10.213.1.12:8082", "--gossip-key", "k"], {});
  const list = trustedProxyList(defaultTrustedProxies(cfg));
  for (const a of ["10.213.1.10", "10.213.1.11", "10.213.1.12", "127.0.0.1", "127.0.0.2", "::1", "::ffff:10.213.1.11"]) expect([a, isTrusted(list, a)]).toEqual([a, true]);
  for (const a of ["10.213.1.21", "10.213.1.1", "203.0.113.7", "::2", ""]) expect([a, isTrusted(list, a)]).toEqual([a, false]);
});

test("an unspecified listen host adds nothing; CIDRs and IPv6 are accepted, anything else refused", () => {
  expect(defaultTrustedProxies(loadConfig([], {}))).toEqual(["127.0.0.0/8", "::1"]);
  const list = trustedProxyList(["10.0.0.0/24", "fd00::/8"]);
  expect(isTrusted(list, "10.0.0.255")).toBe(true);
  expect(isTrusted(list, "10.0.1.0")).toBe(false);
  expect(isTrusted(list, "fd12::1")).toBe(true);
  for (const bad of ["10.0.0.0/33", "example.com", "10.0.0.1/", "10.0.0.0/8/1", "::/129"]) expect(() => trustedProxyList([bad])).toThrow(/not an address or CIDR/);
});
