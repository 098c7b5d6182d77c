export * from "./dyno_host";
