export type { SshConnection, SshConnectionInput } from "./connection";
export { AptPackages } from "./apt";
export type { AptPackagesArgs } from "./apt";
export { RemoteCommand } from "./command";
export type { RemoteCommandArgs } from "./command";
export { RemoteFile } from "./file";
export type { RemoteFileArgs } from "./file";
export { SystemdService } from "./systemd";
export type { SystemdServiceArgs } from "./systemd";
