import { safetyNumber } from '@kith/identity'
import { explain, InviteError, InviteFlags } from '@kith/trust'
import { useState } from 'preact/hooks'
import { equals } from 'uint8arrays/equals'
import { QrCode } from './qr.tsx'
import { SharedSpace } from './shared.tsx'
import type { DemoNode } from '../node.ts'
import type { CreatedInvite, Member, Room, Topology } from '@kith/trust'

const short = (text: string, n = 8): string => (text.length > n ? `${text.slice(0, n)}…` : text)

/** Rooms: create one, open one, or see why joining failed. */
export function RoomsView({
  node,
  open,
  setOpen
}: {
  node: DemoNode
  open?: string
  setOpen: (id?: string) => void
}) {
  const rooms = node.rooms.list()
  const current = open != null ? node.rooms.get(open) : undefined
  const [name, setName] = useState('')
  const [error, setError] = useState<string>()
  const create = async (e: Event): Promise<void> => {
    e.preventDefault()
    setError(undefined)
    try {
      const room = await node.rooms.create(name.trim() || 'Untitled room')
      setName('')
      setOpen(room.id)
    } catch (err: unknown) {
      setError((err as Error).message)
    }
  }
  return (
    <div class="stack">
      <Alerts node={node} />
      <section class="card">
        <h2>Rooms</h2>
        <p class="muted">
          A room is a group only its members can join: by an invite link plus a PIN told out of band. Every
          member checks every admission; data is sealed with a key a removed member never gets.
        </p>
        <form class="row" onSubmit={(e) => void create(e)}>
          <input
            data-testid="room-name-input"
            placeholder="Name of a new room"
            maxLength={80}
            value={name}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
          <button type="submit" data-testid="create-room">
            Create room
          </button>
        </form>
        {error != null && <p class="field-error">{error}</p>}
        {rooms.length === 0 ? (
          <p class="muted">No rooms yet. Create one, or open an invite link someone sent you.</p>
        ) : (
          <ul class="device-list">
            {rooms.map((room) => (
              <li>
                <button
                  type="button"
                  class={room.id === open ? 'nav active' : 'nav'}
                  data-testid="room-item"
                  data-room={room.id}
                  onClick={() => setOpen(room.id)}
                >
                  <span class="nav-label">{room.name}</span>
                  <span class="nav-hint">
                    {room.me == null ? 'you are no longer a member' : `${room.state.members.length} members`}
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      {current != null && <RoomDetail node={node} room={current} />}
    </div>
  )
}

function Alerts({ node }: { node: DemoNode }) {
  if (node.alerts.length === 0) return null
  return (
    <section class="card error" role="alert">
      <h2>Invite alerts</h2>
      {node.alerts.map((a) => (
        <div data-testid="room-alert">
          <p>{a.text}</p>
          {a.impostor != null && (
            <p class="small-code" data-testid="impostor-safety-number">
              Safety number of the admitted person:{' '}
              {safetyNumber(node.identity.user, a.impostor).groups.join(' ')}
            </p>
          )}
        </div>
      ))}
    </section>
  )
}

function verificationOf(node: DemoNode, member: Member): { label: string; cls: string } {
  if (equals(member.user, node.identity.user)) return { label: 'you', cls: 'neutral' }
  const contact = node.contacts.get(member.user)
  if (contact?.verified != null) return { label: 'verified by you', cls: 'good' }
  if (contact != null) return { label: 'contact, not verified', cls: 'wait' }
  return { label: 'admitted, not verified by you', cls: 'wait' }
}

function RoomDetail({ node, room }: { node: DemoNode; room: Room }) {
  const me = room.me
  const state = room.state
  return (
    <section class="card" data-testid="room-detail" data-room={room.id}>
      <h2 data-testid="room-title">{room.name}</h2>
      <p class="muted">
        Room id <span class="peer-id">{short(room.id, 16)}</span> · epoch {state.epoch.n} ·{' '}
        {state.order.length} log entries
        {state.needsRotation && ' · key rotation due'}
      </p>
      {me == null && (
        <p class="field-error" role="alert" data-testid="not-member">
          You are no longer a member of this room: you cannot read what is sealed from now on, and members
          refuse what you send.
        </p>
      )}
      <h3>Members</h3>
      <ul class="device-list" data-testid="members">
        {state.members.map((m) => {
          const v = verificationOf(node, m)
          return (
            <li data-testid="member" data-name={m.name}>
              <strong>{m.name}</strong> {m.founder && <span class="tag">founder</span>}{' '}
              {m.admin && <span class="tag">admin</span>}{' '}
              {m.quarantined && <span class="pill bad">quarantined</span>}{' '}
              <span class={`pill ${v.cls}`}>{v.label}</span>
              <span class="muted small-code"> {m.userId}</span>
              {me?.admin === true && m.userKey !== me.userKey && (
                <button
                  type="button"
                  data-testid="remove-member"
                  onClick={() =>
                    void room.remove(m.user).catch((err: unknown) => alert((err as Error).message))
                  }
                >
                  Remove
                </button>
              )}
            </li>
          )
        })}
      </ul>
      {me != null && (
        <button
          type="button"
          data-testid="leave-room"
          onClick={() => {
            if (confirm(`Leave “${room.name}”? You will not be able to read what is written after.`))
              room.leave()
          }}
        >
          Leave room
        </button>
      )}
      {me == null && (
        <button type="button" onClick={() => void node.rooms.forget(room.id)}>
          Forget this room on this browser
        </button>
      )}
      {me?.mayInvite === true && <InvitePanel node={node} room={room} />}
      {me != null && <SharedSpace node={node} room={room} />}
      {me != null && <Messages node={node} room={room} />}
      <TopologyPanel node={node} room={room} />
    </section>
  )
}

function InvitePanel({ node, room }: { node: DemoNode; room: Room }) {
  const [created, setCreated] = useState<CreatedInvite>()
  const [mayInvite, setMayInvite] = useState(true)
  const [error, setError] = useState<string>()
  const make = (): void => {
    setError(undefined)
    try {
      setCreated(
        node.rooms.invite(room, {
          base: `${location.origin}${location.pathname}`,
          flags: mayInvite ? InviteFlags.MayInvite : 0
        })
      )
    } catch (err: unknown) {
      setError((err as Error).message)
    }
  }
  const invites = room.state.invites.filter((i) => i.byDevice.equals(node.identity.deviceId))
  return (
    <div class="stack">
      <h3>Invite someone</h3>
      <label class="check">
        <input
          type="checkbox"
          checked={mayInvite}
          onChange={(e) => setMayInvite((e.target as HTMLInputElement).checked)}
        />
        They may invite others too
      </label>
      <button type="button" data-testid="invite-create" onClick={make}>
        New invite link
      </button>
      {error != null && <p class="field-error">{error}</p>}
      {created != null && (
        <div class="stack" data-testid="invite">
          <p>
            Send this link (email, message), then tell them the PIN another way — a call, in person. The link
            alone does not let anyone in; three wrong PINs burn it.
          </p>
          <div class="link-box" data-testid="invite-link">
            {created.link}
          </div>
          <button type="button" onClick={() => void navigator.clipboard?.writeText(created.link)}>
            Copy link
          </button>
          <p>
            PIN:{' '}
            <strong class="sas-emoji" data-testid="invite-pin">
              {created.pin}
            </strong>
          </p>
          <QrCode data={created.link} label="Invite link as a QR code" />
        </div>
      )}
      {invites.length > 0 && (
        <ul class="device-list">
          {invites.map((i) => (
            <li data-testid="held-invite" data-status={i.status}>
              Invite {short(i.idKey)} — {i.status}
              {i.failures > 0 && ` (${i.failures} wrong PIN${i.failures > 1 ? 's' : ''})`}
              {i.status === 'open' && room.heldInvite(i.idKey) != null && (
                <button type="button" onClick={() => room.revokeInvite(i.idKey)}>
                  Withdraw
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  )
}

function Messages({ node, room }: { node: DemoNode; room: Room }) {
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const send = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (text.trim() === '') return
    setBusy(true)
    try {
      await node.roomChat.send(room, text)
      setText('')
    } finally {
      setBusy(false)
    }
  }
  const notes = node.roomChat.list(room.id)
  return (
    <div class="stack">
      <h3>Messages</h3>
      <p class="muted">
        Sealed with epoch {room.state.epoch.n}'s key and sent straight to each member device.
      </p>
      <div class="messages">
        {notes.map((n) => (
          <div class={`message ${n.mine ? 'out' : 'in'}`} data-testid="note" data-mine={String(n.mine)}>
            <strong>{n.name}</strong>: {n.text}
            <span class="muted">
              {' '}
              · epoch {n.epoch}
              {n.mine && n.tried != null && ` · delivered to ${n.delivered ?? 0} of ${n.tried}`}
            </span>
          </div>
        ))}
      </div>
      <form class="row" onSubmit={(e) => void send(e)}>
        <input
          data-testid="note-input"
          maxLength={1000}
          value={text}
          placeholder="Write to the room"
          onInput={(e) => setText((e.target as HTMLInputElement).value)}
        />
        <button type="submit" data-testid="note-send" disabled={busy}>
          Send
        </button>
      </form>
    </div>
  )
}

function TopologyPanel({ node, room }: { node: DemoNode; room: Room }) {
  const topology = node.rooms.topology(room)
  const denials = node.gater.denials.slice(-5)
  return (
    <div class="stack">
      <h3>Who is connected to whom</h3>
      <p class="muted">
        Each member device signs the list of peers it is connected to. A line both ends report is solid; a
        line only one end reports is dashed; a peer that is not a member is red. This catches a member
        relaying the room to an outsider through the network; it cannot catch someone copying what they read
        by other means.
      </p>
      <TopologyGraph topology={topology} self={node.identity.deviceId.toString()} />
      <ul data-testid="topology-flags">
        {topology.flags.map((f) => (
          <li data-testid="topology-flag" data-kind={f.kind}>
            {f.kind === 'outsider' &&
              `${short(f.reportedBy, 12)} is connected to ${short(f.device, 12)}, who is not a member`}
            {f.kind === 'one-sided' &&
              `${short(f.from, 12)} reports ${short(f.to, 12)}, who does not report it back`}
            {f.kind === 'silent' && `${short(f.device, 12)} has not reported its connections lately`}
          </li>
        ))}
      </ul>
      {denials.length > 0 && (
        <p class="muted" data-testid="gater-denials">
          Refused connections: {denials.map((d) => `${short(d.peer.toString(), 12)} (${d.hook})`).join(', ')}
        </p>
      )}
      <label class="check">
        <input
          type="checkbox"
          data-testid="members-only"
          checked={!node.openToAll}
          onChange={(e) => node.setOpenToAll(!(e.target as HTMLInputElement).checked)}
        />
        Only let room members, contacts and my devices connect to this browser
      </label>
    </div>
  )
}

function TopologyGraph({ topology, self }: { topology: Topology; self: string }) {
  const size = 260
  const r = 100
  const positions = new Map(
    topology.nodes.map((n, i) => {
      const angle = (2 * Math.PI * i) / Math.max(1, topology.nodes.length) - Math.PI / 2
      return [n.deviceId, { x: size / 2 + r * Math.cos(angle), y: size / 2 + r * Math.sin(angle) }]
    })
  )
  return (
    <svg
      class="topology"
      data-testid="topology"
      viewBox={`0 0 ${size} ${size}`}
      width={size}
      height={size}
      role="img"
      aria-label="Room topology"
    >
      {topology.edges.map((e) => {
        const a = positions.get(e.from)
        const b = positions.get(e.to)
        if (a == null || b == null) return null
        return (
          <line
            x1={a.x}
            y1={a.y}
            x2={b.x}
            y2={b.y}
            stroke={e.mutual ? '#3a7' : '#c44'}
            stroke-dasharray={e.mutual ? undefined : '4 3'}
            stroke-width="2"
            data-testid="topology-edge"
            data-mutual={String(e.mutual)}
          />
        )
      })}
      {topology.nodes.map((n) => {
        const p = positions.get(n.deviceId) as { x: number; y: number }
        return (
          <g data-testid="topology-node" data-member={String(n.member)}>
            <circle
              cx={p.x}
              cy={p.y}
              r="16"
              fill={n.member ? (n.deviceId === self ? '#468' : '#6a8') : '#c44'}
            />
            <text x={p.x} y={p.y + 30} text-anchor="middle" font-size="11">
              {n.name ?? short(n.deviceId, 10)}
            </text>
          </g>
        )
      })}
    </svg>
  )
}

/** Shown when this browser opened an invite link: asks for the PIN, runs the exchange, explains failures. */
export function JoinView({
  node,
  link,
  error,
  joined,
  dismiss
}: {
  node: DemoNode
  link?: string
  error?: string
  joined: (room: string) => void
  dismiss: () => void
}) {
  const [pin, setPin] = useState('')
  const [state, setState] = useState<{
    busy: boolean
    step?: string
    error?: { code: string; text: string }
  }>({
    busy: false
  })
  const steps: Record<string, string> = {
    hello: 'Reaching the person who invited you…',
    pin: 'Checking the PIN (it never leaves this browser)…',
    claim: 'Presenting your keys…',
    welcome: 'Receiving the room and checking it is the one in the link…'
  }
  const join = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (link == null) return
    setState({ busy: true, step: 'Connecting…' })
    try {
      const room = await node.rooms.join(link, pin, {
        onStep: (step) => setState({ busy: true, step: steps[step] }),
        onRetry: (attempt) =>
          setState({
            busy: true,
            step: `The inviting device is not reachable yet (it may be reconnecting); trying again (${attempt + 1})…`
          })
      })
      joined(room.id)
    } catch (err: unknown) {
      const code = err instanceof InviteError ? err.code : 'PROTOCOL'
      setState({
        busy: false,
        error: { code, text: err instanceof InviteError ? explain(err.code) : (err as Error).message }
      })
    }
  }
  return (
    <section class="card sas" data-testid="join-view">
      <h2>You were invited to a room</h2>
      {link == null ? (
        <p class="field-error" role="alert">
          {error ?? 'That invite link is damaged.'}
        </p>
      ) : (
        <form class="stack" onSubmit={(e) => void join(e)}>
          <p>Enter the PIN the person who invited you told you (not in the same message as the link).</p>
          <input
            data-testid="join-pin"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={32}
            value={pin}
            onInput={(e) => setPin((e.target as HTMLInputElement).value)}
          />
          <button type="submit" data-testid="join-submit" disabled={state.busy || pin.trim().length < 4}>
            Join
          </button>
          {state.busy && (
            <p class="muted" data-testid="join-step">
              <span class="spinner" aria-hidden="true" /> {state.step}
            </p>
          )}
          {state.error != null && (
            <p class="field-error" role="alert" data-testid="join-error" data-code={state.error.code}>
              {state.error.text}
            </p>
          )}
        </form>
      )}
      <button type="button" onClick={dismiss}>
        Close
      </button>
    </section>
  )
}
