import { safetyNumber, userIdFromRoot } from '@kith/identity'
import { peerIdFromString } from '@libp2p/peer-id'
import { useEffect, useState } from 'preact/hooks'
import { explain } from '../verification.ts'
import type { DemoNode } from '../node.ts'
import type { Contact } from '@kith/identity'

function useContacts(node: DemoNode): Contact[] {
  const [contacts, setContacts] = useState<Contact[]>(node.contacts.list())
  useEffect(() => node.subscribe(() => setContacts(node.contacts.list())), [node])
  return contacts
}

/** The code both people compare, with the buttons to answer; shown on every view while a verification waits. */
export function VerificationPanel({ node }: { node: DemoNode }) {
  const [, setTick] = useState(0)
  useEffect(() => node.subscribe(() => setTick((t) => t + 1)), [node])
  const latest = node.verifications.list[0]
  if (latest == null) return null
  if (latest.state === 'verified') {
    return (
      <div class="card good-card" data-testid="verification" data-state="verified">
        <strong>Verified.</strong> {latest.exchange.remote.deviceName} is who the emoji said. They are in your
        contacts with a shield.
      </div>
    )
  }
  return (
    <section
      class={`card ${latest.state === 'failed' ? 'error' : 'sas'}`}
      data-testid="verification"
      data-state={latest.state}
    >
      <h2>
        {latest.direction === 'in' ? 'Someone wants to verify you' : 'Verifying'}:{' '}
        {latest.exchange.remote.deviceName}
      </h2>
      {latest.state === 'failed' ? (
        <p role="alert" data-testid="verification-error">
          {latest.error}
        </p>
      ) : (
        <>
          <p class="muted">
            Compare with the other screen, out loud or side by side. Only say they match if every emoji is the
            same, in the same order.
          </p>
          <div class="sas-emoji" data-testid="sas-emoji">
            {latest.exchange.emoji.map((e) => (
              <figure>
                <span aria-hidden="true">{e.emoji}</span>
                <figcaption>{e.name}</figcaption>
              </figure>
            ))}
          </div>
          <p class="muted">Or compare numbers: {latest.exchange.decimal.join(' · ')}</p>
          {latest.state === 'waiting' ? (
            <p class="muted">Waiting for the other person to confirm…</p>
          ) : (
            <div class="row">
              <button
                type="button"
                data-testid="sas-match"
                onClick={() => void node.verifications.confirm(latest.id)}
              >
                They match
              </button>
              <button
                type="button"
                class="secondary"
                data-testid="sas-mismatch"
                onClick={() => void node.verifications.reject(latest.id)}
              >
                They don’t match
              </button>
            </div>
          )}
        </>
      )}
    </section>
  )
}

export function ContactsView({ node }: { node: DemoNode }) {
  const contacts = useContacts(node)
  const [device, setDevice] = useState('')
  const [status, setStatus] = useState<{ busy: boolean; error?: string }>({ busy: false })
  let deviceError: string | undefined
  if (device.trim() !== '') {
    try {
      peerIdFromString(device.trim())
      if (device.trim() === node.identity.deviceId.toString()) deviceError = 'That is this device.'
    } catch {
      deviceError = 'That is not a device id (they start with 12D3Koo…).'
    }
  }

  const start = async (e: Event): Promise<void> => {
    e.preventDefault()
    setStatus({ busy: true })
    try {
      await node.verify(device.trim())
      setDevice('')
      setStatus({ busy: false })
    } catch (err: unknown) {
      setStatus({ busy: false, error: explain(err) })
    }
  }

  return (
    <div class="stack">
      <section class="card">
        <h2>Verify someone</h2>
        <p class="muted">
          Paste the device id from the other person’s Identity page. Both screens then show seven emoji; if
          they match, each of you knows the other’s key is the real one, with no one in the middle.
        </p>
        <form class="row" onSubmit={(e) => void start(e)}>
          <input
            data-testid="verify-device"
            placeholder="12D3Koo…"
            value={device}
            onInput={(e) => setDevice((e.target as HTMLInputElement).value)}
            style={{ maxWidth: '34rem' }}
            spellcheck={false}
          />
          <button
            type="submit"
            data-testid="verify-start"
            disabled={device.trim() === '' || deviceError != null || status.busy}
          >
            {status.busy ? 'Connecting…' : 'Verify'}
          </button>
        </form>
        {deviceError != null && <p class="field-error">{deviceError}</p>}
        {status.error != null && (
          <p class="field-error" role="alert">
            {status.error}
          </p>
        )}
      </section>

      <section class="card">
        <h2>Contacts</h2>
        {contacts.length === 0 ? (
          <p class="muted">No contacts yet. People you verify appear here.</p>
        ) : (
          <table data-testid="contacts">
            <thead>
              <tr>
                <th>Name</th>
                <th>User id</th>
                <th>Devices</th>
                <th>Safety number</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {contacts.map((c) => {
                const number = safetyNumber(node.identity.user, c.user)
                return (
                  <tr data-testid="contact-row" data-verified={c.verified != null ? 'yes' : 'no'}>
                    <td>{c.displayName}</td>
                    <td>
                      <code>{userIdFromRoot(c.user).slice(0, 10)}</code>
                    </td>
                    <td>{c.devices.map((d) => d.name).join(', ')}</td>
                    <td>
                      <code class="small-code">{number.groups.slice(0, 4).join(' ')}…</code>
                    </td>
                    <td>
                      {c.verified != null ? (
                        <span class="pill good">Verified ({c.verified.method.toUpperCase()})</span>
                      ) : (
                        <span class="pill neutral">Not verified</span>
                      )}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        )}
      </section>
    </div>
  )
}
