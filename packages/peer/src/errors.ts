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

/** A second direct connection to a peer was closed: the two ends keep the one the lower peer id dialed. */
export class DuplicateConnectionError extends Error {
  static override name = 'DuplicateConnectionError'

  constructor(message = 'a duplicate connection to the same peer', options?: ErrorOptions) {
    super(message, options)
    this.name = 'DuplicateConnectionError'
  }
}
