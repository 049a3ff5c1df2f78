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

/**
 * A dial stopped because the peer's own dial of this device opened a connection first, and the two ends keep the
 * connection the lower peer id dialed: the peer's. The connection that stays is in `getConnections(peer)`.
 */
export class DialSupersededError extends Error {
  static override name = 'DialSupersededError'

  constructor(
    message = "the peer's own connection to this device superseded the dial",
    options?: ErrorOptions
  ) {
    super(message, options)
    this.name = 'DialSupersededError'
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

/**
 * A connection's liveness check failed: a ping went unanswered within the timeout (the connection is closed with this
 * error), or the remote broke the liveness protocol (its stream is reset and the connection watched by ping streams).
 */
export class LivenessError extends Error {
  static override name = 'LivenessError'

  constructor(message = 'the peer did not answer a liveness ping', options?: ErrorOptions) {
    super(message, options)
    this.name = 'LivenessError'
  }
}
