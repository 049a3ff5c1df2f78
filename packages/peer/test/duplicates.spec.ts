import { TypedEventEmitter } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { dialSuperseded, redundantConnections } from '../src/duplicates.ts'
import { DialSupersededError } from '../src/errors.ts'
import type { Connection, Libp2pEvents, PeerId } from '@libp2p/interface'

const RELAY = '/ip4/127.0.0.1/tcp/4003/ws/p2p/12D3KooWJSS3L3hLhhwNLUiwensY2CPiPgXTqgQGMvaxkYcrhsaF'
const LOW = '12D3KooWAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const HIGH = '12D3KooWZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ'

function connection(
  name: string,
  direction: 'inbound' | 'outbound',
  open: number,
  extra: { limits?: { bytes: bigint }; status?: 'open' | 'closing'; addr?: string } = {}
) {
  return {
    name,
    direction,
    status: extra.status ?? 'open',
    limits: extra.limits,
    remoteAddr: multiaddr(extra.addr ?? `${RELAY}/p2p-circuit/webrtc`),
    timeline: { open }
  }
}

const names = (list: Array<{ name: string }>): string[] => list.map((c) => c.name)

describe('redundantConnections', () => {
  it('should have both ends of a mutual dial close the connection the higher peer id dialed', () => {
    // the same two connections as each end sees them: LOW's outbound is HIGH's inbound
    const atLow = [connection('low-dialed', 'outbound', 2), connection('high-dialed', 'inbound', 1)]
    const atHigh = [connection('low-dialed', 'inbound', 2), connection('high-dialed', 'outbound', 1)]
    expect(names(redundantConnections(LOW, HIGH, atLow))).toEqual(['high-dialed'])
    expect(names(redundantConnections(HIGH, LOW, atHigh))).toEqual(['high-dialed'])
  })

  it('should keep the newest of several connections one end dialed (an abandoned attempt left at the answerer)', () => {
    const atAnswerer = [connection('abandoned', 'inbound', 1), connection('retry', 'inbound', 5)]
    expect(names(redundantConnections(LOW, HIGH, atAnswerer))).toEqual(['abandoned'])
    expect(names(redundantConnections(HIGH, LOW, atAnswerer))).toEqual(['abandoned'])
  })

  it('should prefer the lower id’s dial even when it is older than the other end’s', () => {
    const atLow = [
      connection('low-old', 'outbound', 1),
      connection('high-1', 'inbound', 3),
      connection('high-2', 'inbound', 4)
    ]
    expect(names(redundantConnections(LOW, HIGH, atLow))).toEqual(['high-1', 'high-2'])
  })

  it('should leave relayed circuits, connections of other transports and closing ones alone', () => {
    const list = [
      connection('direct', 'outbound', 1),
      connection('circuit', 'inbound', 2, { limits: { bytes: 131_072n }, addr: `${RELAY}/p2p-circuit` }),
      connection('tcp', 'inbound', 3, { addr: '/ip4/127.0.0.1/tcp/4001' }),
      connection('closing', 'inbound', 4, { status: 'closing' })
    ]
    expect(redundantConnections(LOW, HIGH, list)).toEqual([])
    expect(redundantConnections(HIGH, LOW, list)).toEqual([])
  })

  it('should find nothing to close with a single connection', () => {
    expect(redundantConnections(LOW, HIGH, [connection('only', 'inbound', 1)])).toEqual([])
    expect(redundantConnections(LOW, HIGH, [])).toEqual([])
  })
})

describe('dialSuperseded', () => {
  const peerIdFromString = (id: string): PeerId => ({ toString: () => id }) as unknown as PeerId
  const setup = (me: string, existing: ReturnType<typeof connection>[] = []) => {
    const events = new TypedEventEmitter<Libp2pEvents>()
    const connections = existing.map((c) => ({ ...c, remotePeer: peerIdFromString(LOW) }))
    const components = {
      peerId: peerIdFromString(me),
      connectionManager: { getConnections: () => connections as unknown as Connection[] },
      events
    }
    const open = (c: ReturnType<typeof connection>, remote: string): void => {
      events.safeDispatchEvent('connection:open', {
        detail: { ...c, remotePeer: peerIdFromString(remote) } as unknown as Connection
      })
    }
    return { components, open }
  }
  const dialTo = (remote: string) => multiaddr(`${RELAY}/p2p-circuit/webrtc/p2p/${remote}`)

  it("should abort the higher id's dial when the lower id's own connection to it opens", () => {
    const { components, open } = setup(HIGH)
    const superseded = dialSuperseded(components, dialTo(LOW))
    open(connection('relayed', 'inbound', 1, { limits: { bytes: 1n } }), LOW)
    open(connection('other peer', 'inbound', 1), HIGH)
    expect(superseded.signal.aborted).toBe(false)
    open(connection('low-dialed', 'inbound', 2), LOW)
    expect(superseded.signal.aborted).toBe(true)
    expect(superseded.signal.reason).toMatchObject({ name: DialSupersededError.name })
    superseded.dispose()
  })

  it("should never abort the lower id's dial: its dial is the one both ends keep", () => {
    const { components, open } = setup(LOW)
    const superseded = dialSuperseded(components, dialTo(HIGH))
    open(connection('high-dialed', 'inbound', 2), HIGH)
    expect(superseded.signal.aborted).toBe(false)
  })

  it('should abort at once when the winning connection is open already, and not after dispose', () => {
    const already = setup(HIGH, [connection('low-dialed', 'inbound', 2)])
    expect(dialSuperseded(already.components, dialTo(LOW)).signal.aborted).toBe(true)
    const later = setup(HIGH)
    const superseded = dialSuperseded(later.components, dialTo(LOW))
    superseded.dispose()
    later.open(connection('low-dialed', 'inbound', 2), LOW)
    expect(superseded.signal.aborted).toBe(false)
  })
})
