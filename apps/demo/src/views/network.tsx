import { useState } from 'preact/hooks'
import { KIND_LABELS } from '../node.ts'
import type { NodeView } from '../node.ts'

export function short(id: string): string {
  return id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id
}

function age(since: number): string {
  const s = Math.max(0, Math.round((Date.now() - since) / 1000))
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${Math.floor(s / 3600)}h`
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [copied, setCopied] = useState(false)
  return (
    <button
      type="button"
      class="small"
      onClick={() => {
        navigator.clipboard?.writeText(text).then(
          () => {
            setCopied(true)
            setTimeout(() => setCopied(false), 1_500)
          },
          () => setCopied(false)
        )
      }}
    >
      {copied ? 'Copied' : label}
    </button>
  )
}

export function NetworkView({ view }: { view: NodeView }) {
  const peers = view.connections.filter((c) => !c.isRelay)
  return (
    <div class="stack">
      <section class="card">
        <h2>This peer</h2>
        <p class="muted">
          Its id is the hash of its public key: nobody can claim it without the private key, which never
          leaves this browser.
        </p>
        <div class="row">
          <code class="peer-id" data-testid="peer-id">
            {view.peerId}
          </code>
          <CopyButton text={view.peerId} />
        </div>
      </section>

      <section class="card">
        <h2>Relays</h2>
        <p class="muted">
          A relay only introduces peers: it carries the few kilobytes of WebRTC signaling, then the peers talk
          directly. When it goes away, existing connections stay up and this page keeps trying to reach it
          again.
        </p>
        <table data-testid="relays">
          <thead>
            <tr>
              <th>Relay</th>
              <th>State</th>
              <th>Detail</th>
            </tr>
          </thead>
          <tbody>
            {view.relays.map((relay) => (
              <tr data-testid="relay-row" data-state={relay.state}>
                <td title={relay.addr}>
                  <code>{short(relay.peerId)}</code>
                </td>
                <td>
                  <span
                    class={`pill ${relay.state === 'reserved' ? 'good' : relay.state === 'waiting' ? 'bad' : 'wait'}`}
                  >
                    {relay.state === 'reserved'
                      ? 'Reserved'
                      : relay.state === 'waiting'
                        ? 'Unreachable'
                        : relay.state === 'connecting'
                          ? 'Connecting'
                          : 'Stopped'}
                  </span>
                </td>
                <td class="muted">
                  {relay.state === 'waiting' && relay.nextAttemptAt != null
                    ? `${relay.lastError ?? 'failed'} — retrying in ${Math.max(0, Math.ceil((relay.nextAttemptAt - Date.now()) / 1000))}s`
                    : relay.state === 'reserved'
                      ? 'other peers can reach this one through it'
                      : ''}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {!view.reachable && (
          <p data-testid="fallback-relays" data-count={view.fallbackRelays.length}>
            {view.fallbackRelays.length > 0 ? (
              <>
                No relay is reachable, so room members relay the signaling instead: a member linked to one of{' '}
                {view.fallbackRelays.map((f, i) => (
                  <>
                    {i > 0 && ', '}
                    <strong title={f.peer}>{f.name ?? short(f.peer)}</strong>
                  </>
                ))}{' '}
                can reconnect to this device through them.
              </>
            ) : (
              <span class="muted">
                No relay is reachable, and no room member is linked to this device to relay for it:
                connections that are up stay up, a lost one waits for a relay or a member.
              </span>
            )}
          </p>
        )}
      </section>

      <section class="card">
        <h2>Connections</h2>
        {view.connections.length === 0 ? (
          <p class="muted">No connections yet.</p>
        ) : (
          <table data-testid="connections">
            <thead>
              <tr>
                <th>Peer</th>
                <th>Type</th>
                <th>Direction</th>
                <th>Round trip</th>
                <th>Open for</th>
              </tr>
            </thead>
            <tbody>
              {view.connections.map((c) => (
                <tr data-testid="connection-row" data-peer={c.peer} data-kind={c.kind}>
                  <td title={c.remoteAddr}>
                    <code>{short(c.peer)}</code>
                    {c.isRelay && <span class="tag">relay</span>}
                  </td>
                  <td>
                    <span class={`kind kind-${c.kind}`}>{KIND_LABELS[c.kind]}</span>
                  </td>
                  <td>{c.direction}</td>
                  <td>{c.rttMs != null ? `${c.rttMs} ms` : '—'}</td>
                  <td>{age(c.openedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {peers.length === 0 && view.connections.length > 0 && (
          <p class="muted">
            Open this page in another window and chat with it to see a direct WebRTC connection.
          </p>
        )}
      </section>
    </div>
  )
}
