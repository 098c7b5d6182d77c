// The systemd units that run the router (templates/router) and the socket-unit commands of the
// RoutingMesh component: the sockets belong to systemd so an upgrade refuses no connection.
import { render } from "../../../components/templates/render";
import { ROUTER_SOCKET_UNIT, socketCommands } from "../../../components/mesh/routing_mesh";

test("socket unit holds traffic then control, for the service", () => {
  const unit = render("router/dynoform-router.socket", { privateAddress: "10.213.1.10", port: 8080, controlPort: 8081 });
  const listens = unit.split("\n").filter((l) => l.startsWith("ListenStream="));
  expect(listens).toEqual(["ListenStream=10.213.1.10:8080", "ListenStream=10.213.1.10:8081"]);
  expect(unit).toContain("Service=dynoform-router.service");
  expect(unit).toContain("WantedBy=sockets.target");
  const service = render("router/dynoform-router.service", {});
  expect(service).toContain("Requires=dynoform-router.socket");
  expect(service).toMatch(/After=.*dynoform-router\.socket/);
});

test("socket commands: enable always, re-bind only when the unit changed", () => {
  const c = socketCommands();
  expect(ROUTER_SOCKET_UNIT).toBe("dynoform-router.socket");
  expect(c.create).toContain("systemctl enable dynoform-router.socket");
  // An active socket is never restarted on create (it is what keeps connections during upgrades).
  expect(c.create).toMatch(/if ! systemctl is-active -q dynoform-router.socket; then/);
  expect(c.update.split("\n").slice(-3)).toEqual([
    "systemctl stop dynoform-router.service",
    "systemctl restart dynoform-router.socket",
    "systemctl start dynoform-router.service",
  ]);
  expect(c.delete).toContain("disable --now dynoform-router.socket");
});

test("router.json gains loadListen/peers and the gossip key's file only when there are other routers", async () => {
  const { withPeers } = await import("../../../components/mesh/routing_mesh");
  const base = '{\n  "listen": "10.0.0.1:8080"\n}\n';
  expect(withPeers(base, "10.0.0.1", [], 8082)).toBe(base);
  expect(withPeers(base, "10.0.0.1", ["10.0.0.1"], 8082)).toBe(base);
  expect(JSON.parse(withPeers(base, "10.0.0.1", ["10.0.0.1", "10.0.0.2", "10.0.0.3"], 8082))).toEqual({
    listen: "10.0.0.1:8080", loadListen: "10.0.0.1:8082", peers: "10.0.0.2:8082,10.0.0.3:8082", gossipKeyFile: "/etc/dynoform/router-gossip.key",
  });
});
