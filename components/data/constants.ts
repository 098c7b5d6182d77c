// The data host's PostgreSQL: the version Debian's package installs and the port it listens on.
export const POSTGRES_VERSION = "15"; // Debian bookworm's
/** PostgreSQL's port on the data host's private address. */
export const POSTGRES_PORT = 5432;
