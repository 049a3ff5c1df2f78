// Rooms built through the real invite exchange over in-memory channels, for unit and property tests.
import { createIdentity } from '@kith/identity'
import { answerInvite, InviteFlags, readInviteLink, redeemInvite, Room } from '../src/index.ts'
import type { Channel } from '../src/index.ts'
import type { Identity } from '@kith/identity'

export const BASE = 'https://app.example/'

/** Two ends of an in-memory, message-at-a-time connection. */
export function channels(): [Channel, Channel] {
  const queue = (): { push: (b: Uint8Array) => void; pull: () => Promise<Uint8Array> } => {
    const items: Uint8Array[] = []
    const waiting: Array<(b: Uint8Array) => void> = []
    return {
      push: (b) => {
        const wake = waiting.shift()
        if (wake != null) wake(b)
        else items.push(b)
      },
      pull: async () => {
        const next = items.shift()
        return next ?? new Promise((resolve) => waiting.push(resolve))
      }
    }
  }
  const toM = queue()
  const toN = queue()
  return [
    { read: async () => toN.pull(), write: async (b) => Promise.resolve(toM.push(b)) },
    { read: async () => toM.pull(), write: async (b) => Promise.resolve(toN.push(b)) }
  ]
}

export interface Tap {
  toInviter: Uint8Array[]
  toNewcomer: Uint8Array[]
}

export function tapped(tap: Tap): [Channel, Channel] {
  const [n, m] = channels()
  return [
    { read: async () => n.read(), write: async (b) => (tap.toInviter.push(b), n.write(b)) },
    { read: async () => m.read(), write: async (b) => (tap.toNewcomer.push(b), m.write(b)) }
  ]
}

export interface Redemption {
  inviter: PromiseSettledResult<Room>
  newcomer: PromiseSettledResult<Room>
  tap: Tap
}

/** Runs one redemption of `link` by `identity` with `pin` against `room`'s device. */
export async function redeem(room: Room, link: string, pin: string, identity: Identity): Promise<Redemption> {
  const tap: Tap = { toInviter: [], toNewcomer: [] }
  const [n, m] = tapped(tap)
  const [inviter, newcomer] = await Promise.allSettled([
    answerInvite(m, {
      room: (id) => (id === room.id ? room : undefined),
      self: room.identity.deviceId,
      remote: identity.deviceId
    }),
    redeemInvite(n, { invite: readInviteLink(link), pin, identity })
  ])
  return { inviter, newcomer, tap }
}

/** `room`'s member admits `identity`; returns the newcomer's replica. */
export async function admit(room: Room, identity: Identity, flags = InviteFlags.MayInvite): Promise<Room> {
  const created = room.createInvite({ relays: [], base: BASE, flags })
  const result = await redeem(room, created.link, created.pin, identity)
  if (result.newcomer.status === 'rejected') throw result.newcomer.reason
  if (result.inviter.status === 'rejected') throw result.inviter.reason
  return result.newcomer.value
}

/** Copies every entry each way between replicas. */
export function sync(...rooms: Room[]): void {
  for (const a of rooms) for (const b of rooms) if (a !== b) b.add(a.log())
}

export interface Trio {
  a: Room
  b: Room
  c: Room
  ids: { a: Identity; b: Identity; c: Identity }
}

/** A founded the room, admitted B; B admitted C; all three synced. */
export async function trio(): Promise<Trio> {
  const ids = {
    a: await createIdentity({ deviceName: 'alice-laptop' }),
    b: await createIdentity({ deviceName: 'bob-phone' }),
    c: await createIdentity({ deviceName: 'carol-tablet' })
  }
  const a = await Room.create(ids.a, 'Trip')
  const b = await admit(a, ids.b)
  const c = await admit(b, ids.c)
  sync(a, b, c)
  return { a, b, c, ids }
}
