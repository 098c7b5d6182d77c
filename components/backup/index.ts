export * from "./backup_store";
