/** A flag or environment variable has a value the relay cannot use. */
export class ConfigError extends Error {
  static override name = 'ConfigError'

  constructor(message: string) {
    super(message)
    this.name = 'ConfigError'
  }
}

/** The key file exists but cannot be read or parsed, or cannot be created. */
export class KeyFileError extends Error {
  static override name = 'KeyFileError'

  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'KeyFileError'
  }
}

/** A listen address or the HTTP port is already taken. */
export class AddressInUseError extends Error {
  static override name = 'AddressInUseError'

  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'AddressInUseError'
  }
}
