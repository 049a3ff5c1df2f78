// Measurement functions the runner calls in each page. Each page is one peer; the raw RTCDataChannel anchor runs
// between the same two pages, signaled by the runner, so both paths share browser, machine and moment.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { connectionKind, createKithPeer, protocolId } from '@kith/peer'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { measureIdentity } from '../src/identity-ops.ts'
import { measureCPace } from '../src/trust-ops.ts'
import { createIdentity } from '@kith/identity'
import { Rooms } from '@kith/trust'
import type { Identity } from '@kith/identity'
import type { Libp2p } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { byteStream } from '@libp2p/utils'
import type { KithPeer } from '@kith/peer'
import { kithSync, probeCalls, yWebrtc } from './sync.ts'

const ECHO = protocolId('bench', 'echo', '1.0.0')
const SINK = protocolId('bench', 'sink', '1.0.0')
const ECHO_BYTES = 32
const CHUNK_BYTES = 64 * 1024

let peer: KithPeer | undefined
let identity: Identity | undefined
let rooms: Rooms | undefined
let relayList: string[] = []
/** The anchor for connect: js-libp2p 3 as its docs configure a browser peer, with none of Kith's fixes. */
let plain: Libp2p | undefined
let raw: { pc: RTCPeerConnection; channel?: RTCDataChannel; ready: Promise<RTCDataChannel> } | undefined

function need(): KithPeer {
  if (peer == null) throw new TypeError('peer not started')
  return peer
}

async function start(
  relays: string[],
  options: {
    livenessIntervalMs?: number
    livenessTimeoutMs?: number
    meshDegree?: number
    attestIntervalMs?: number
  } = {}
): Promise<string> {
  const { meshDegree, attestIntervalMs, ...peerOptions } = options
  identity = await createIdentity({ deviceName: 'bench' })
  relayList = relays
  peer = await createKithPeer({
    appId: 'bench',
    relays,
    allowPrivateAddresses: true,
    privateKey: identity.device,
    ...peerOptions
  })
  rooms = new Rooms({
    peer,
    identity,
    relays: () => relayList,
    ...(meshDegree != null ? { meshDegree } : {}),
    ...(attestIntervalMs != null ? { attestIntervalMs } : {})
  })
  await rooms.start()
  await peer.handle(ECHO, async (stream) => {
    for await (const chunk of stream) {
      if (!stream.send(chunk)) await stream.onDrain()
    }
    await stream.close()
  })
  await peer.handle(SINK, async (stream) => {
    let total = 0
    for await (const chunk of stream) total += chunk.byteLength
    const bs = byteStream(stream)
    await bs.write(new TextEncoder().encode(String(total)))
    await stream.close()
  })
  while (!peer.getMultiaddrs().some((ma) => ma.toString().includes('/p2p-circuit'))) {
    await new Promise((resolve) => peer?.addEventListener('self:peer:update', resolve, { once: true }))
  }
  return peer.peerId.toString()
}

/** A plain js-libp2p node reserved on the first relay; resolves with its WebRTC address through that relay. */
async function startPlain(relays: string[]): Promise<string> {
  const relay = relays[0] ?? ''
  plain = await createLibp2p({
    addresses: { listen: [`${relay}/p2p-circuit`, '/webrtc'] },
    transports: [webSockets(), webRTC({ rtcConfiguration: { iceServers: [] } }), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
    services: { identify: identify() }
  })
  const node = plain
  while (!node.getMultiaddrs().some((ma) => ma.toString().includes('/p2p-circuit/webrtc'))) {
    await new Promise((resolve) => node.addEventListener('self:peer:update', resolve, { once: true }))
  }
  return `${relay}/p2p-circuit/webrtc/p2p/${node.peerId.toString()}`
}

/** One fresh plain js-libp2p dial to `addr`, after closing any connection to that peer. */
async function dialPlain(addr: string): Promise<{ ok: boolean; ms: number; kind?: string; error?: string }> {
  if (plain == null) throw new TypeError('plain node not started')
  const ma = multiaddr(addr)
  const id = ma.getComponents().findLast((c) => c.name === 'p2p')?.value ?? ''
  await plain.hangUp(peerIdFromString(id))
  const started = performance.now()
  try {
    const connection = await plain.dial(ma)
    return { ok: true, ms: performance.now() - started, kind: connectionKind(connection) }
  } catch (err: unknown) {
    return {
      ok: false,
      ms: performance.now() - started,
      error: `${(err as Error).name}: ${(err as Error).message}`
    }
  }
}

/** Closes every connection to `target`. */
async function hangUp(target: string): Promise<void> {
  await need().hangUp(peerIdFromString(target))
}

/** Resolves once no connection to `target` is left (the other side noticed a hang-up), or after `ms`. */
async function waitGone(target: string, ms: number): Promise<number> {
  const started = performance.now()
  const p = need()
  while (p.getConnections(peerIdFromString(target)).length > 0 && performance.now() - started < ms) {
    await new Promise((resolve) => p.addEventListener('connection:close', resolve, { once: true }))
  }
  return performance.now() - started
}

/** One dial. Resolves with its time or its error. */
async function dial(target: string): Promise<{ ok: boolean; ms: number; kind?: string; error?: string }> {
  const p = need()
  const id = peerIdFromString(target)
  const started = performance.now()
  try {
    const connection = await p.dial(id, { signal: AbortSignal.timeout(30_000) })
    return { ok: true, ms: performance.now() - started, kind: connectionKind(connection) }
  } catch (err: unknown) {
    const inner = (err as { errors?: Error[] }).errors?.map((e) => `${e.name}: ${e.message}`) ?? []
    const cause = (err as Error).cause as Error | undefined
    return {
      ok: false,
      ms: performance.now() - started,
      error: [
        `${(err as Error).name}: ${(err as Error).message}`,
        ...inner,
        ...(cause != null ? [`cause ${cause.name}: ${cause.message}`] : [])
      ].join(' / ')
    }
  }
}

async function echo(target: string, count: number): Promise<number[]> {
  const stream = await need().dialProtocol(peerIdFromString(target), ECHO)
  const bs = byteStream(stream)
  const payload = crypto.getRandomValues(new Uint8Array(ECHO_BYTES))
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    await bs.write(payload)
    await bs.read({ bytes: ECHO_BYTES })
    times.push(performance.now() - started)
  }
  await stream.close()
  return times
}

async function throughput(target: string, bytes: number): Promise<number> {
  const stream = await need().dialProtocol(peerIdFromString(target), SINK)
  const replies = byteStream(stream)
  const chunk = crypto.getRandomValues(new Uint8Array(CHUNK_BYTES))
  const started = performance.now()
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
  const answer = await replies.read({ signal: AbortSignal.timeout(60_000) })
  const reply = answer == null ? '' : new TextDecoder().decode(answer.subarray())
  const ms = performance.now() - started
  if (Number(reply) < bytes) throw new RangeError(`sink received ${reply} of ${bytes} bytes`)
  return ms
}

/** Raw RTCDataChannel: offer side. Candidates are gathered fully, so one offer and one answer suffice. */
async function rawOffer(): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [] })
  const channel = pc.createDataChannel('bench')
  channel.binaryType = 'arraybuffer'
  const ready = new Promise<RTCDataChannel>((resolve) =>
    channel.addEventListener('open', () => resolve(channel))
  )
  raw = { pc, channel, ready }
  await pc.setLocalDescription(await pc.createOffer())
  await gathered(pc)
  return JSON.stringify(pc.localDescription)
}

async function rawAnswer(offer: string): Promise<string> {
  const pc = new RTCPeerConnection({ iceServers: [] })
  const ready = new Promise<RTCDataChannel>((resolve) => {
    pc.addEventListener('datachannel', (evt) => {
      const channel = evt.channel
      channel.binaryType = 'arraybuffer'
      let total = 0
      channel.addEventListener('message', (msg: MessageEvent<ArrayBuffer | string>) => {
        if (typeof msg.data === 'string') {
          // control: 'end' asks for the byte count
          channel.send(String(total))
          total = 0
        } else if (msg.data.byteLength === ECHO_BYTES) {
          channel.send(msg.data)
        } else {
          total += msg.data.byteLength
        }
      })
      resolve(channel)
    })
  })
  raw = { pc, ready }
  await pc.setRemoteDescription(JSON.parse(offer) as RTCSessionDescriptionInit)
  await pc.setLocalDescription(await pc.createAnswer())
  await gathered(pc)
  return JSON.stringify(pc.localDescription)
}

async function rawAccept(answer: string): Promise<void> {
  if (raw == null) throw new TypeError('no offer made')
  await raw.pc.setRemoteDescription(JSON.parse(answer) as RTCSessionDescriptionInit)
  await raw.ready
}

async function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return
  await new Promise<void>((resolve) => {
    pc.addEventListener('icegatheringstatechange', () => {
      if (pc.iceGatheringState === 'complete') resolve()
    })
  })
}

function nextMessage(channel: RTCDataChannel): Promise<ArrayBuffer | string> {
  return new Promise((resolve) =>
    channel.addEventListener('message', (msg: MessageEvent<ArrayBuffer | string>) => resolve(msg.data), {
      once: true
    })
  )
}

async function rawEcho(count: number): Promise<number[]> {
  const channel = await (raw?.ready ?? Promise.reject(new TypeError('no raw channel')))
  const payload = crypto.getRandomValues(new Uint8Array(ECHO_BYTES))
  const times: number[] = []
  for (let i = 0; i < count; i++) {
    const started = performance.now()
    const reply = nextMessage(channel)
    channel.send(payload)
    await reply
    times.push(performance.now() - started)
  }
  return times
}

async function rawThroughput(bytes: number): Promise<number> {
  const channel = await (raw?.ready ?? Promise.reject(new TypeError('no raw channel')))
  const chunk = crypto.getRandomValues(new Uint8Array(CHUNK_BYTES))
  channel.bufferedAmountLowThreshold = 1024 * 1024
  const started = performance.now()
  for (let sent = 0; sent < bytes; sent += CHUNK_BYTES) {
    if (channel.bufferedAmount > 4 * 1024 * 1024) {
      await new Promise((resolve) => channel.addEventListener('bufferedamountlow', resolve, { once: true }))
    }
    channel.send(chunk)
  }
  const reply = nextMessage(channel)
  channel.send('end')
  const total = Number(await reply)
  const ms = performance.now() - started
  if (total < bytes) throw new RangeError(`raw sink received ${total} of ${bytes} bytes`)
  return ms
}

/** A new room, and an invite to it: the link and the PIN. */
async function roomInvite(): Promise<{ link: string; pin: string }> {
  if (rooms == null) throw new TypeError('rooms not started')
  const room = await rooms.create('bench')
  const created = rooms.invite(room, { base: 'https://bench.example/' })
  return { link: created.link, pin: created.pin }
}

/** From opening an invite link (no connection to the inviter yet) to being a member holding the room log. */
async function roomJoin(link: string, pin: string, inviter: string): Promise<number> {
  if (rooms == null) throw new TypeError('rooms not started')
  await need().hangUp(peerIdFromString(inviter))
  const started = performance.now()
  const room = await rooms.join(link, pin)
  const ms = performance.now() - started
  if (room.me == null) throw new TypeError('joined but not a member')
  return ms
}

function parts(): { peer: KithPeer; identity: Identity; rooms: Rooms } {
  if (peer == null || identity == null || rooms == null) throw new TypeError('peer not started')
  return { peer, identity, rooms }
}

Object.assign(window, {
  bench: {
    ...kithSync(parts),
    ...yWebrtc,
    ...probeCalls,
    measureCPace,
    roomInvite,
    roomJoin,
    measureIdentity,
    start,
    startPlain,
    dialPlain,
    hangUp,
    waitGone,
    dial,
    echo,
    throughput,
    rawOffer,
    rawAnswer,
    rawAccept,
    rawEcho,
    rawThroughput
  }
})
