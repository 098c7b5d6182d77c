// @dynoform/contract: the words the control role, the agents and the routers exchange, each
// declared once with the parser that checks it. esbuild bundles it into each binary.
export * from "./errors";
export * from "./names";
export * from "./release";
export * from "./slug";
export * from "./agent_api";
export * from "./router_api";
export * from "./log_api";
export * from "./service_settings";
export * from "./log_batch";
export * from "./accepted_tokens";
