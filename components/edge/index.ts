export * from "./edge";
