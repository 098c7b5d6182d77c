export * from "./host_firewall";
