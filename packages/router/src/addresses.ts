// "host:port" strings as the config, dyno registrations and peers write them ("10.0.0.5:8080",
// "[fd00::5]:8080"), and the comma separated lists the config keeps them in.

/** "host:port" / "[v6]:port" split at its last colon, the brackets dropped; port "" without a colon. */
export function splitHostPort(s: string): { host: string; port: string } {
  const i = s.lastIndexOf(":");
  if (i < 0) return { host: s, port: "" };
  let host = s.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: s.slice(i + 1) };
}

/** The host part of an address, lower case: what a dyno host's credential is compared with. */
export function hostOf(address: string): string {
  return splitHostPort(address).host.toLowerCase();
}

/** A listen address: "host:port", or a bare port on every interface. */
export function parseHostPort(s: string): { host: string; port: number } {
  if (!s.includes(":")) return { host: "0.0.0.0", port: Number(s) };
  const { host, port } = splitHostPort(s);
  return { host: host || "0.0.0.0", port: Number(port) };
}

/** "a, b,,c" -> ["a", "b", "c"]. */
export function splitList(s: string): string[] {
  return s.split(",").map((p) => p.trim()).filter(Boolean);
}
