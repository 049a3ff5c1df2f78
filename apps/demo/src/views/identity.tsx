import { safetyNumber, userIdFromRoot } from '@kith/identity'
import { useEffect, useState } from 'preact/hooks'
import { explain } from '../verification.ts'
import { CopyButton } from './network.tsx'
import { QrCode } from './qr.tsx'
import { DemoNode } from '../node.ts'

function useTick(node: DemoNode): void {
  const [, setTick] = useState(0)
  useEffect(() => node.subscribe(() => setTick((t) => t + 1)), [node])
}

const PAIRING_ERRORS: Record<string, string> = {
  REJECTED: 'Your other device declined.',
  OFFER_USED: 'That link was already used by another device. Make a new one.',
  OFFER_BURNED: 'Too many wrong attempts: that link is dead. Make a new one.',
  OFFER_EXPIRED: 'That link has expired. Make a new one.',
  UNKNOWN_OFFER: 'Your other device no longer has that offer (it was withdrawn or the page reloaded).',
  WRONG_SECRET: 'The link does not match the offer: copy it again, completely.',
  PROTOCOL: 'The devices did not understand each other: the link may be damaged.'
}

export function explainPairing(err: unknown): string {
  const code = (err as { code?: string }).code
  return (code != null ? PAIRING_ERRORS[code] : undefined) ?? explain(err)
}

/** Devices of this user: pair a new one with a link and QR code, allow it, remove one. */
function DevicesCard({ node }: { node: DemoNode }) {
  useTick(node)
  const { devices } = node
  const [shareRoot, setShareRoot] = useState(false)
  const [error, setError] = useState<string | undefined>()
  const canManage = node.identity.rootSecret != null
  const remove = async (id: string): Promise<void> => {
    setError(undefined)
    try {
      await node.removeDevice(id)
    } catch (err: unknown) {
      setError(explain(err))
    }
  }
  return (
    <section class="card" data-testid="devices">
      <h2>Your devices</h2>
      <p class="muted">
        Each device has its own key, certified by your identity’s root key. A new browser joins by opening a
        one-time link from a device that holds the root key, and you allow it here.
      </p>
      <ul class="device-list">
        {devices.list().map((d) => (
          <li data-testid="device-row" data-removed={d.removed ? 'yes' : 'no'}>
            <span>
              <strong>{d.name}</strong> <code class="small-code">{d.id.slice(-10)}</code>
              {d.thisDevice && <span class="pill neutral">this device</span>}
              {d.removed && <span class="pill bad">removed</span>}
            </span>
            {canManage && !d.thisDevice && !d.removed && (
              <button type="button" class="secondary" onClick={() => void remove(d.id)}>
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {devices.approval != null && (
        <div class="card sas" role="alertdialog" data-testid="pair-approval">
          <p>
            <strong>{devices.approval.request.deviceName}</strong> (
            <code>{devices.approval.request.deviceId.toString().slice(-10)}</code>) opened your pairing link
            and asks to join as your device.
          </p>
          <div class="row">
            <button type="button" data-testid="pair-allow" onClick={() => devices.approval?.decide(true)}>
              Allow
            </button>
            <button type="button" class="secondary" onClick={() => devices.approval?.decide(false)}>
              Deny
            </button>
          </div>
        </div>
      )}
      {devices.lastPaired != null && (
        <p class="good-text" data-testid="pair-done">
          {devices.lastPaired} is now one of your devices.
        </p>
      )}
      {!canManage ? (
        <p class="muted">
          This device does not hold your root key: pair and remove devices from one that does.
        </p>
      ) : devices.offer == null ? (
        <div class="row">
          <button
            type="button"
            data-testid="pair-start"
            onClick={() => {
              try {
                devices.createOffer(node.config.relays, shareRoot)
              } catch (err: unknown) {
                setError(explain(err))
              }
            }}
          >
            Pair a new device
          </button>
          <label class="check">
            <input
              type="checkbox"
              checked={shareRoot}
              onChange={(e) => setShareRoot((e.target as HTMLInputElement).checked)}
            />
            it may pair and remove devices too (gets the root key)
          </label>
        </div>
      ) : (
        <div class="pair-offer">
          <QrCode data={devices.offer.link} label="Pairing link as a QR code" />
          <div class="stack tight">
            <p>
              Open this link on the new device (scan, or copy it there). It works once, for ten minutes, and
              only while this page stays open.
            </p>
            <code class="link-box" data-testid="pair-link">
              {devices.offer.link}
            </code>
            <div class="row">
              <CopyButton text={devices.offer.link} label="Copy link" />
              <button type="button" class="secondary" onClick={() => devices.cancelOffer()}>
                Withdraw
              </button>
            </div>
          </div>
        </div>
      )}
      {error != null && (
        <p class="field-error" role="alert">
          {error}
        </p>
      )}
    </section>
  )
}

/** Publishes "this email address is me" to the DHT so friends can find this user. */
function DiscoverableCard({ node }: { node: DemoNode }) {
  useTick(node)
  const [email, setEmail] = useState(node.published?.email ?? '')
  const published = node.published
  if (node.identity.rootSecret == null) return null
  return (
    <section class="card">
      <h2>Let friends find you</h2>
      <p class="muted">
        Publishes a claim signed by your root key, “this address is me”, under a slow salted hash of the
        address on the Kith DHT. Someone who already knows your address can find your devices; nobody can list
        who published. Anyone can claim any address, so friends should verify you before they trust the
        result.
      </p>
      <form
        class="row"
        onSubmit={(e) => {
          e.preventDefault()
          node.publishEmail(email).catch(() => undefined)
        }}
      >
        <input
          type="email"
          data-testid="publish-email"
          placeholder="you@example.com"
          value={email}
          onInput={(e) => setEmail((e.target as HTMLInputElement).value)}
          style={{ maxWidth: '22rem' }}
        />
        <button
          type="submit"
          data-testid="publish"
          disabled={email.trim() === '' || published?.busy === true}
        >
          {published?.busy === true ? 'Publishing…' : 'Publish'}
        </button>
      </form>
      {published?.result != null && (
        <p class="muted" data-testid="publish-status">
          Published as {published.email} to {published.result.stored} DHT server(s); valid until{' '}
          {new Date(published.result.expiresAt).toLocaleDateString()}, renewed each time this page starts.
        </p>
      )}
      {published?.error != null && (
        <p class="field-error" role="alert">
          Could not publish: {published.error}
        </p>
      )}
    </section>
  )
}

export function IdentityView({ node }: { node: DemoNode }) {
  const { identity } = node
  const [passphrase, setPassphrase] = useState('')
  const [backupState, setBackupState] = useState<{ busy: boolean; message?: string; error?: string }>({
    busy: false
  })
  const [restorePass, setRestorePass] = useState('')
  const [restoreFile, setRestoreFile] = useState<File | undefined>()
  const [restoreState, setRestoreState] = useState<{ busy: boolean; error?: string }>({ busy: false })
  // your own key against itself: a stable picture of your identity to recognise at a glance
  const own = safetyNumber(identity.user, identity.user)

  const download = async (e: Event): Promise<void> => {
    e.preventDefault()
    setBackupState({ busy: true, message: 'Deriving the key from your passphrase (about a second)…' })
    try {
      const bytes = await node.exportBackup(passphrase)
      const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }))
      const a = document.createElement('a')
      a.href = url
      a.download = `kith-identity-${userIdFromRoot(identity.user).slice(0, 8)}.kithbackup`
      a.click()
      setTimeout(() => URL.revokeObjectURL(url), 10_000)
      setPassphrase('')
      setBackupState({ busy: false, message: 'Backup downloaded. Keep the file and the passphrase apart.' })
    } catch (err: unknown) {
      setBackupState({ busy: false, error: explain(err) })
    }
  }

  const restore = async (e: Event): Promise<void> => {
    e.preventDefault()
    if (restoreFile == null) return
    setRestoreState({ busy: true })
    try {
      if (restoreFile.size > 64 * 1024) throw new RangeError('That file is too large to be a Kith backup.')
      await DemoNode.restore(new Uint8Array(await restoreFile.arrayBuffer()), restorePass)
      location.reload()
    } catch (err: unknown) {
      const name = (err as Error).name
      setRestoreState({
        busy: false,
        error:
          name === 'WrongPassphraseError'
            ? 'Wrong passphrase (or the file was changed). Nothing was replaced.'
            : name === 'InvalidBackupError'
              ? 'That is not a Kith identity backup. Nothing was replaced.'
              : explain(err)
      })
    }
  }

  return (
    <div class="stack">
      <section class="card">
        <h2>You</h2>
        <p class="muted">
          Your identity is a key pair that lives in this browser. Contacts recognise you by it; this browser
          is one of your devices.
        </p>
        <dl class="facts">
          <dt>User id</dt>
          <dd>
            <code data-testid="user-id">{userIdFromRoot(identity.user)}</code>
          </dd>
          <dt>This device</dt>
          <dd>
            {identity.deviceName} · <code>{identity.deviceId.toString().slice(-10)}</code>
          </dd>
          <dt>Fingerprint</dt>
          <dd class="emoji-row" aria-label={own.emoji.map((e) => e.name).join(', ')}>
            {own.emoji.slice(0, 6).map((e) => (
              <span title={e.name}>{e.emoji}</span>
            ))}
          </dd>
          <dt>Root key</dt>
          <dd>{identity.rootSecret != null ? 'on this device' : 'on another of your devices'}</dd>
        </dl>
        <div class="row">
          <CopyButton text={identity.deviceId.toString()} label="Copy device id" />
        </div>
      </section>

      <DevicesCard node={node} />
      <DiscoverableCard node={node} />

      <section class="card">
        <h2>Back up</h2>
        <p class="muted">
          Clearing this browser erases your identity. A backup, locked with a passphrase, brings it back here
          or on another computer.
        </p>
        <form class="row" onSubmit={(e) => void download(e)}>
          <input
            type="password"
            data-testid="backup-passphrase"
            placeholder="Passphrase (8 characters or more)"
            value={passphrase}
            minLength={8}
            onInput={(e) => setPassphrase((e.target as HTMLInputElement).value)}
            style={{ maxWidth: '22rem' }}
          />
          <button
            type="submit"
            data-testid="backup-download"
            disabled={passphrase.length < 8 || backupState.busy}
          >
            {backupState.busy ? 'Encrypting…' : 'Download backup'}
          </button>
        </form>
        {backupState.message != null && (
          <p class="muted" data-testid="backup-status">
            {backupState.message}
          </p>
        )}
        {backupState.error != null && (
          <p class="field-error" role="alert">
            {backupState.error}
          </p>
        )}
      </section>

      <section class="card">
        <h2>Restore</h2>
        <p class="muted">
          Restoring makes this browser a new device of the backed-up user, replacing the identity it has now.
        </p>
        <form class="stack tight" onSubmit={(e) => void restore(e)}>
          <input
            type="file"
            data-testid="restore-file"
            accept=".kithbackup,application/octet-stream"
            onChange={(e) => setRestoreFile((e.target as HTMLInputElement).files?.[0])}
          />
          <div class="row">
            <input
              type="password"
              data-testid="restore-passphrase"
              placeholder="Passphrase"
              value={restorePass}
              onInput={(e) => setRestorePass((e.target as HTMLInputElement).value)}
              style={{ maxWidth: '22rem' }}
            />
            <button
              type="submit"
              data-testid="restore"
              disabled={restoreFile == null || restorePass === '' || restoreState.busy}
            >
              {restoreState.busy ? 'Opening…' : 'Restore'}
            </button>
          </div>
        </form>
        {restoreState.error != null && (
          <p class="field-error" role="alert" data-testid="restore-error">
            {restoreState.error}
          </p>
        )}
      </section>
    </div>
  )
}
