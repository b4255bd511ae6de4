/** A topology that cannot be built as configured, with what to do about it. */
export class SetupError extends Error {
  override name = 'SetupError';

  constructor(message: string) {
    super(message);
  }
}
