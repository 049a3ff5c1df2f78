import { safetyNumber, userIdFromRoot } from '@kith/identity'
import { useState } from 'preact/hooks'
import { explain } from '../verification.ts'
import { CopyButton } from './network.tsx'
import { DemoNode } from '../node.ts'

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
        </dl>
        <div class="row">
          <CopyButton text={identity.deviceId.toString()} label="Copy device id" />
        </div>
      </section>

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
