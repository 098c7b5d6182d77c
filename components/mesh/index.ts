export * from "./routing_mesh";
