import { Libp2pRecord } from '@libp2p/record'
import { toString } from 'uint8arrays/to-string'
import { DHT_DATASTORE_PREFIX } from './constants.ts'
import type { Datastore, Key } from 'interface-datastore'

/**
 * Rules for one namespace of DHT records (keys of the form `/<namespace>/…`). Every Kith DHT server (relays and Node
 * peers started with `dhtServer`) applies them to what others ask it to store, and every client to what it reads.
 */
export interface DhtNamespace {
  /** Throws when `value` may not be stored under `key`: such a record is refused by servers and ignored by readers. */
  validate(key: Uint8Array, value: Uint8Array): Promise<void> | void
  /** The index of the best of several valid values for one key. */
  select(key: Uint8Array, values: Uint8Array[]): number
  /**
   * What a server keeps when it holds `stored` and is asked to store `incoming` (both valid). Without it the
   * incoming value replaces the stored one, as in any libp2p DHT; with it a namespace can refuse to go back to an
   * older version, or keep the union of several writers' values.
   */
  merge?(key: Uint8Array, stored: Uint8Array, incoming: Uint8Array): Uint8Array
}

export type DhtNamespaces = Record<string, DhtNamespace>

/** `/<namespace>/…` → namespace, or undefined for a key without one. */
export function namespaceOf(key: Uint8Array): string | undefined {
  const parts = toString(key).split('/')
  return parts.length >= 3 && parts[0] === '' ? parts[1] : undefined
}

/** The validators and selectors kad-dht takes, built from namespaces. */
export function dhtRecordRules(namespaces: DhtNamespaces): {
  validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>>
  selectors: Record<string, (key: Uint8Array, values: Uint8Array[]) => number>
} {
  const validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>> = {}
  const selectors: Record<string, (key: Uint8Array, values: Uint8Array[]) => number> = {}
  for (const [name, namespace] of Object.entries(namespaces)) {
    validators[name] = async (key, value) => {
      await namespace.validate(key, value)
    }
    selectors[name] = (key, values) => namespace.select(key, values)
  }
  return { validators, selectors }
}

/**
 * kad-dht stores whatever valid record it is sent, replacing the one it had. This wraps the node's datastore so
 * that a record in a namespace with a `merge` rule is merged with the stored one instead, on every path that stores
 * records (a remote PUT, a local put, a correction after a get).
 */
export function mergingDatastore(
  datastore: Datastore,
  namespaces: DhtNamespaces,
  prefix = DHT_DATASTORE_PREFIX
): Datastore {
  const recordPrefix = `${prefix}/record/`
  const merged = async (key: Key, value: Uint8Array): Promise<Uint8Array> => {
    if (!key.toString().startsWith(recordPrefix)) return value
    const incoming = Libp2pRecord.deserialize(value)
    const name = namespaceOf(incoming.key)
    const namespace = name == null ? undefined : namespaces[name]
    if (namespace == null) return value
    // kad-dht validates what others send before storing it, but not what this node puts itself
    await namespace.validate(incoming.key, incoming.value)
    if (namespace.merge == null || !(await datastore.has(key))) return value
    let stored: Libp2pRecord
    try {
      stored = Libp2pRecord.deserialize(await datastore.get(key))
      await namespace.validate(stored.key, stored.value)
    } catch {
      // an unreadable or no longer valid stored record is simply replaced
      return value
    }
    const next = namespace.merge(incoming.key, stored.value, incoming.value)
    return new Libp2pRecord(incoming.key, next, incoming.timeReceived).serialize()
  }
  return new Proxy(datastore, {
    get(target, property, receiver) {
      if (property === 'put') {
        return async (key: Key, value: Uint8Array, options?: unknown) =>
          target.put(key, await merged(key, value), options as never)
      }
      const member: unknown = Reflect.get(target, property, receiver)
      return typeof member === 'function' ? (member as (...args: unknown[]) => unknown).bind(target) : member
    }
  })
}
