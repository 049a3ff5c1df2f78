import { VerificationMethod } from '@kith/identity'
import type { ContactBook, SasExchange } from '@kith/identity'

export type SasState = 'comparing' | 'waiting' | 'verified' | 'failed'

/** One SAS verification as the page shows it. */
export interface Verification {
  id: string
  direction: 'in' | 'out'
  state: SasState
  exchange: SasExchange
  /** Set when the state is `failed`. */
  error?: string
}

const MESSAGES: Record<string, string> = {
  SasCancelledError: 'The other person said the emoji did not match, or gave up.',
  SasMismatchError: 'The keys did not check out: someone may be in the middle. Not verified.',
  SasProtocolError: 'The exchange broke its rules: someone may be in the middle. Not verified.',
  ContactKeyChangedError:
    'This device used to belong to someone with a different key. Not trusted: verify again.',
  TimeoutError: 'The other side did not answer in time.'
}

export function explain(err: unknown): string {
  const name = (err as Error)?.name ?? ''
  return MESSAGES[name] ?? (err as Error)?.message ?? String(err)
}

/** Drives verifications: shows codes, records verified contacts, explains failures. */
export class Verifications {
  readonly list: Verification[] = []

  constructor(
    private readonly contacts: ContactBook,
    private readonly changed: () => void
  ) {}

  add(exchange: SasExchange, direction: 'in' | 'out'): Verification {
    const verification: Verification = { id: crypto.randomUUID(), direction, state: 'comparing', exchange }
    this.list.unshift(verification)
    this.changed()
    return verification
  }

  fail(verification: Verification, err: unknown): void {
    verification.state = 'failed'
    verification.error = explain(err)
    this.changed()
  }

  /** The person saw the same emoji. */
  async confirm(id: string): Promise<void> {
    const verification = this.list.find((v) => v.id === id)
    if (verification == null || verification.state !== 'comparing') return
    verification.state = 'waiting'
    this.changed()
    try {
      const remote = await verification.exchange.confirm()
      await this.contacts.observe(remote.certificate)
      await this.contacts.markVerified(remote.user, VerificationMethod.Sas)
      verification.state = 'verified'
      this.changed()
    } catch (err: unknown) {
      this.fail(verification, err)
    }
  }

  /** The person saw different emoji. */
  async reject(id: string): Promise<void> {
    const verification = this.list.find((v) => v.id === id)
    if (verification == null || verification.state !== 'comparing') return
    await verification.exchange.cancel('mismatch').catch(() => {})
    verification.state = 'failed'
    verification.error = 'You said the emoji did not match. Not verified.'
    this.changed()
  }
}
