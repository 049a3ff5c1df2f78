/**
 * @packageDocumentation
 *
 * The Kith bootstrap relay as a library: `startRelay()` runs what the `kith-relay` command runs.
 */
export { startRelay } from './relay.ts'
export type { Relay, RelayHealth, RelayInit, RelayServices } from './relay.ts'
export { parseConfig, usage, DEFAULT_CONFIG } from './config.ts'
export type { RelayConfig } from './config.ts'
export { loadOrCreateKey } from './key-file.ts'
export { AddressInUseError, ConfigError, KeyFileError } from './errors.ts'
