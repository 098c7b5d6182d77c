export * from "./data";
