import { NAME_PATTERN, SEMVER_PATTERN } from './constants.ts'
import { InvalidParametersError } from './errors.ts'

/** A protocol id of the form `/kith/<appId>/<name>/<semver>`. */
export type ProtocolId = string & { readonly __protocolId: true }

export function assertName(kind: string, value: string): void {
  if (!NAME_PATTERN.test(value)) {
    throw new InvalidParametersError(
      `${kind} "${value}" must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit`
    )
  }
}

/**
 * Build the protocol id an application protocol is registered under. Two apps with different `appId`s never
 * open each other's protocols, even on one network.
 *
 * @example protocolId('chat-demo', 'chat', '1.0.0') // '/kith/chat-demo/chat/1.0.0'
 */
export function protocolId(appId: string, name: string, version: string): ProtocolId {
  assertName('appId', appId)
  assertName('protocol name', name)
  if (!SEMVER_PATTERN.test(version)) {
    throw new InvalidParametersError(`protocol version "${version}" must be major.minor.patch`)
  }
  return `/kith/${appId}/${name}/${version}` as ProtocolId
}
