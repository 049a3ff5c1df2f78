import { safetyNumber, userIdFromRoot } from '@kith/identity'
import { peerIdFromString } from '@libp2p/peer-id'
import { useEffect, useState } from 'preact/hooks'
import { explain } from '../verification.ts'
import { CopyButton } from './network.tsx'
import { QrCode } from './qr.tsx'
import type { DemoNode } from '../node.ts'
import type { Contact, LookupResult } from '@kith/identity'

export const CONTACT_FRAGMENT = 'kith-contact'

/** A device id from a pasted id or contact link (`…#kith-contact=12D3Koo…`). */
export function deviceFromInput(input: string): string {
  const text = input.trim()
  const marker = `#${CONTACT_FRAGMENT}=`
  return text.includes(marker) ? text.slice(text.indexOf(marker) + marker.length) : text
}

/** Look a friend up by email address on the DHT, then verify the result. */
function FindByEmail({ node }: { node: DemoNode }) {
  const [email, setEmail] = useState('')
  const [state, setState] = useState<{
    busy: boolean
    result?: LookupResult
    error?: string
    asked?: string
  }>({
    busy: false
  })
  const find = async (e: Event): Promise<void> => {
    e.preventDefault()
    setState({ busy: true })
    try {
      const result = await node.lookupEmail(email)
      setState({ busy: false, result, asked: email })
    } catch (err: unknown) {
      setState({ busy: false, error: explain(err) })
    }
  }
  const verify = async (deviceId: string): Promise<void> => {
    try {
      await node.verify(deviceId)
    } catch (err: unknown) {
      setState((s) => ({ ...s, error: explain(err) }))
    }
  }
  return (
    <section class="card">
      <h2>Find by email</h2>
      <p class="muted">
        Finds everyone who published a claim to that address. A claim is a hint, not proof: anyone can claim
        any address, so verify the person before you trust them.
      </p>
      <form class="row" onSubmit={(e) => void find(e)}>
        <input
          type="email"
          data-testid="find-email"
          placeholder="friend@example.com"
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
          style={{ maxWidth: '22rem' }}
        />
        <button type="submit" data-testid="find" disabled={email.trim() === '' || state.busy}>
          {state.busy ? 'Hashing and searching…' : 'Find'}
        </button>
      </form>
      {state.result != null && state.result.claims.length === 0 && (
        <p class="muted" data-testid="find-none">
          Nobody published {state.asked} (asked {state.result.queried} DHT server(s)).
        </p>
      )}
      {state.result != null && state.result.claims.length > 0 && (
        <>
          <p class="muted">
            {state.result.claims.length === 1 ? 'One claim' : `${state.result.claims.length} claims`} for{' '}
            {state.asked}, in {Math.round(state.result.durationMs)} ms
            {state.result.claims.length > 1 && ': more than one person claims it — only verification tells'}.
          </p>
          <ul class="device-list" data-testid="find-results">
            {state.result.claims.map((claim) => {
              const known = node.contacts.list().find((c) => userIdFromRoot(c.user) === claim.userId)
              return (
                <li data-testid="find-result">
                  <span>
                    <code>{claim.userId.slice(0, 10)}</code> · {claim.devices.map((d) => d.name).join(', ')}
                    {known?.verified != null ? (
                      <span class="pill good">verified contact</span>
                    ) : (
                      <span class="pill neutral">unverified</span>
                    )}
                  </span>
                  {claim.devices[0] != null && (
                    <button
                      type="button"
                      data-testid="find-verify"
                      onClick={() => void verify(claim.devices[0]!.deviceId.toString())}
                    >
                      Verify {claim.devices[0].name}
                    </button>
                  )}
                </li>
              )
            })}
          </ul>
        </>
      )}
      {state.error != null && (
        <p class="field-error" role="alert">
          {state.error}
        </p>
      )}
    </section>
  )
}

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

export function ContactsView({ node, initialDevice }: { node: DemoNode; initialDevice?: string }) {
  const contacts = useContacts(node)
  const [device, setDevice] = useState(initialDevice ?? '')
  const [open, setOpen] = useState<string | undefined>()
  const [status, setStatus] = useState<{ busy: boolean; error?: string }>({ busy: false })
  const target = deviceFromInput(device)
  const myLink = `${location.origin}${location.pathname}#${CONTACT_FRAGMENT}=${node.identity.deviceId.toString()}`
  let deviceError: string | undefined
  if (target !== '') {
    try {
      peerIdFromString(target)
      if (target === node.identity.deviceId.toString()) deviceError = 'That is this device.'
    } catch {
      deviceError = 'That is not a device id or contact link (ids start with 12D3Koo…).'
    }
  }

  const start = async (e: Event): Promise<void> => {
    e.preventDefault()
    setStatus({ busy: true })
    try {
      await node.verify(target)
      setDevice('')
      setStatus({ busy: false })
    } catch (err: unknown) {
      setStatus({ busy: false, error: explain(err) })
    }
  }

  return (
    <div class="stack">
      <section class="card">
        <h2>Add and verify someone</h2>
        <p class="muted">
          Paste their contact link or device id. Both screens then show seven emoji; if they match, each of
          you knows the other’s key is the real one, with no one in the middle, and they join your contacts.
        </p>
        <form class="row" onSubmit={(e) => void start(e)}>
          <input
            data-testid="verify-device"
            placeholder="Contact link or device id (12D3Koo…)"
            value={device}
            onInput={(e) => setDevice((e.target as HTMLInputElement).value)}
            style={{ maxWidth: '34rem' }}
            spellcheck={false}
          />
          <button
            type="submit"
            data-testid="verify-start"
            disabled={target === '' || deviceError != null || status.busy}
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
        <div class="row">
          <span class="muted">Your contact link, to send to a friend:</span>
          <CopyButton text={myLink} label="Copy my contact link" />
        </div>
      </section>

      <FindByEmail node={node} />

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
                      <button
                        type="button"
                        class="link"
                        data-testid="safety-toggle"
                        onClick={() => setOpen(open === c.userId ? undefined : c.userId)}
                      >
                        <code class="small-code">{number.groups.slice(0, 4).join(' ')}…</code>
                      </button>
                      {open === c.userId && (
                        <div class="safety" data-testid="safety-number">
                          <QrCode data={number.qr} label="Safety number as a QR code" size={140} />
                          <div>
                            <code class="small-code">{number.groups.join(' ')}</code>
                            <div class="emoji-row">
                              {number.emoji.map((e) => (
                                <span title={e.name}>{e.emoji}</span>
                              ))}
                            </div>
                            <p class="muted">The same on both screens: compare in person or on a call.</p>
                          </div>
                        </div>
                      )}
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
