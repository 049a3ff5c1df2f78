/** An init field or argument has a value Kith cannot use. */
export class InvalidParametersError extends Error {
  static override name = 'InvalidParametersError'

  constructor(message = 'Invalid parameters') {
    super(message)
    this.name = 'InvalidParametersError'
  }
}

/** Every attempt to reach a peer failed; `cause` holds the last attempt's error. */
export class DialFailedError extends Error {
  static override name = 'DialFailedError'
  readonly attempts: number

  constructor(message: string, attempts: number, options?: ErrorOptions) {
    super(message, options)
    this.name = 'DialFailedError'
    this.attempts = attempts
  }
}

/** A peer id has no known address to dial and no relay could be used to reach it. */
export class NoAddressError extends Error {
  static override name = 'NoAddressError'

  constructor(message = 'No address known for peer') {
    super(message)
    this.name = 'NoAddressError'
  }
}
