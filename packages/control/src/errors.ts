// Errors a user can fix. The CLI prints `message` as one line and exits non-zero; every message
// names what to do about it. Anything else thrown is a bug or an infrastructure failure.
export class UserError extends Error {
    constructor(message: string, readonly exitCode = 1) {
        super(message);
        this.name = "UserError";
    }
}

export function isUserError(err: unknown): err is UserError {
    return err instanceof UserError;
}
