import { lpStream } from '@libp2p/utils'
import { MAX_SAS_MESSAGE_BYTES, initiateSas, respondSas } from './sas.ts'
import type { SasChannel, SasExchange } from './sas.ts'
import type { Identity } from './identity.ts'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'

export const SAS_PROTOCOL = '/kith/identity/sas/1.0.0'

/** Each protocol step before the people compare codes. */
export const DEFAULT_SAS_STEP_TIMEOUT_MS = 10_000

/** The whole exchange, people included. */
export const DEFAULT_SAS_TIMEOUT_MS = 300_000

/**
 * A message channel over a libp2p stream: length-prefixed messages of at most `maxBytes` (4 KiB by default), each
 * read and write bounded by `signal`.
 */
export function channelFromStream(
  stream: Stream,
  signal: AbortSignal,
  maxBytes = MAX_SAS_MESSAGE_BYTES
): SasChannel {
  const lp = lpStream(stream, { maxDataLength: maxBytes })
  return {
    read: async () => (await lp.read({ signal })).subarray(),
    write: async (bytes) => {
      await lp.write(bytes, { signal })
    }
  }
}

export interface SasOptions {
  /** @default 300_000 */
  timeoutMs?: number
  signal?: AbortSignal
}

function exchangeOn(stream: Stream, exchange: SasExchange): SasExchange {
  const done = (): void => {
    stream.close().catch((err: unknown) => stream.abort(err as Error))
  }
  return {
    ...exchange,
    confirm: async () => exchange.confirm().finally(done),
    cancel: async (reason) => exchange.cancel(reason).finally(done)
  }
}

/** Opens a SAS exchange with `target` (a device the peer can dial). */
export async function startSas(
  peer: Libp2p,
  identity: Identity,
  target: PeerId,
  options: SasOptions = {}
): Promise<SasExchange> {
  const signal = AbortSignal.any([
    AbortSignal.timeout(options.timeoutMs ?? DEFAULT_SAS_TIMEOUT_MS),
    ...(options.signal != null ? [options.signal] : [])
  ])
  const stream = await peer.dialProtocol(target, SAS_PROTOCOL, {
    signal: AbortSignal.any([signal, AbortSignal.timeout(DEFAULT_SAS_STEP_TIMEOUT_MS)])
  })
  try {
    return exchangeOn(stream, await initiateSas(channelFromStream(stream, signal), identity, target))
  } catch (err: unknown) {
    stream.abort(err as Error)
    throw err
  }
}

export interface SasHandlers {
  /** Gets each exchange once its code is known: show the code, then call `confirm()` or `cancel()`. */
  onExchange: (exchange: SasExchange) => void
  /** Exchanges that failed before their code was known. */
  onError?: (err: Error) => void
  /** @default 300_000 */
  timeoutMs?: number
}

/** Answers SAS exchanges other devices start. */
export async function handleSas(peer: Libp2p, identity: Identity, handlers: SasHandlers): Promise<void> {
  await peer.handle(
    SAS_PROTOCOL,
    (stream, connection) => {
      const signal = AbortSignal.timeout(handlers.timeoutMs ?? DEFAULT_SAS_TIMEOUT_MS)
      respondSas(channelFromStream(stream, signal), identity, connection.remotePeer).then(
        (exchange) => handlers.onExchange(exchangeOn(stream, exchange)),
        (err: unknown) => {
          stream.abort(err as Error)
          handlers.onError?.(err as Error)
        }
      )
    },
    { maxInboundStreams: 4 }
  )
}
