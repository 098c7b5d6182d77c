// Heroku's build output style. Lines go to a sink; the git receive hook's stdout becomes
// `remote: ...` on the pusher's terminal.
//
//   -----> Node.js app detected        topic
//          Resolving node version...   info (7 spaces)
//    !     Push rejected, ...          error
export type LineSink = (line: string) => void;

export const TOPIC = "-----> ";
export const INDENT = "       ";
export const ERROR = " !     ";

export class BuildLog {
    constructor(readonly sink: LineSink) {}
    topic(text: string): void {
        this.sink(TOPIC + text);
    }
    info(text: string): void {
        this.sink(text === "" ? "" : INDENT + text);
    }
    /** Output of a command the build runs (npm's own lines), indented under the current topic. */
    output(line: string): void {
        this.info(line);
    }
    error(text: string): void {
        this.sink(ERROR + text);
    }
    blank(): void {
        this.sink("");
    }
}
