import { userIdFromRoot } from '@kith/identity'
import { useState } from 'preact/hooks'
import { explainPairing } from './identity.tsx'
import type { DemoNode } from '../node.ts'
import type { PairingOffer } from '@kith/identity'

/** Shown when this browser opened a pairing link: join the user who made it, as a new device. */
export function PairView({
  node,
  offer,
  error,
  dismiss
}: {
  node: DemoNode
  offer?: PairingOffer
  error?: string
  dismiss: () => void
}) {
  const [name, setName] = useState(`browser ${node.identity.deviceId.toString().slice(-4)}`)
  const [state, setState] = useState<{ busy: boolean; error?: string }>({ busy: false })
  const pair = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (offer == null) return
    setState({ busy: true })
    try {
      await node.pairWith(offer, name.trim())
      location.reload()
    } catch (err: unknown) {
      setState({ busy: false, error: explainPairing(err) })
    }
  }
  return (
    <section class="card sas" data-testid="pair-view">
      <h2>Join as one of your devices</h2>
      {offer == null ? (
        <p class="field-error" role="alert">
          {error ?? 'That pairing link is damaged.'}
        </p>
      ) : (
        <>
          <p>
            This browser opened a pairing link from device <code>{offer.device.toString().slice(-10)}</code>.
            Pairing makes it a device of that identity: it replaces this browser’s current identity (
            <code>{userIdFromRoot(node.identity.user).slice(0, 10)}</code>), its contacts stay.
          </p>
          <form class="row" onSubmit={(e) => void pair(e)}>
            <input
              data-testid="pair-name"
              value={name}
              maxLength={64}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
              style={{ maxWidth: '16rem' }}
              aria-label="Name for this device"
            />
            <button type="submit" data-testid="pair-join" disabled={name.trim() === '' || state.busy}>
              {state.busy ? 'Waiting for your other device to allow it…' : 'Pair this browser'}
            </button>
            <button type="button" class="secondary" onClick={dismiss} disabled={state.busy}>
              Not now
            </button>
          </form>
        </>
      )}
      {state.error != null && (
        <p class="field-error" role="alert" data-testid="pair-error">
          {state.error}
        </p>
      )}
    </section>
  )
}
