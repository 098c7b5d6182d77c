export * from "./log_router";
