export * from "./control";
