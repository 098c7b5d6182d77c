// What every parser of the contract throws when a request or a state file is malformed: the
// services answer it with 400 and its message, which says what is wrong and what is wanted.
export class ValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValidationError";
  }
}
