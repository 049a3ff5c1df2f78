import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, test } from '@playwright/test'
import { Person, Stack } from '../fixtures/demo.ts'
import type { Page } from '@playwright/test'

const deviceIdOf = async (page: Page): Promise<string> =>
  page.evaluate(() =>
    (
      window as unknown as { kith: { identity: { deviceId: { toString(): string } } } }
    ).kith.identity.deviceId.toString()
  )

const emojiOf = async (page: Page): Promise<string> =>
  (await page.getByTestId('sas-emoji').textContent()) ?? ''

test.describe('identities in the browser', () => {
  let stack: Stack
  const people: Person[] = []

  test.beforeEach(async () => {
    stack = await Stack.start()
  })

  test.afterEach(async () => {
    await Promise.all(people.splice(0).map(async (p) => p.close()))
    await stack.stop()
  })

  test('should let two people verify each other with the same seven emoji, and tell them when one says no', async ({
    browser
  }) => {
    const alice = await Person.open(browser, stack, 'alice')
    const bob = await Person.open(browser, stack, 'bob')
    people.push(alice, bob)

    await bob.page.getByTestId('nav-contacts').click()
    await bob.page.getByTestId('verify-device').fill(await deviceIdOf(alice.page))
    await bob.page.getByTestId('verify-start').click()
    for (const p of [alice, bob])
      await expect(p.page.getByTestId('verification')).toHaveAttribute('data-state', 'comparing')
    const seenByBob = await emojiOf(bob.page)
    expect(seenByBob.length).toBeGreaterThan(0)
    expect(await emojiOf(alice.page)).toBe(seenByBob)

    await alice.page.getByTestId('sas-match').click()
    await bob.page.getByTestId('sas-match').click()
    for (const p of [alice, bob]) {
      await expect(p.page.getByTestId('verification')).toHaveAttribute('data-state', 'verified')
      await p.page.getByTestId('nav-contacts').click()
      await expect(p.page.getByTestId('contact-row')).toHaveAttribute('data-verified', 'yes')
    }

    // a second round in which Alice sees different emoji and says so
    await alice.page.getByTestId('verify-device').fill(await deviceIdOf(bob.page))
    await alice.page.getByTestId('verify-start').click()
    await expect(bob.page.getByTestId('verification')).toHaveAttribute('data-state', 'comparing')
    await alice.page.getByTestId('sas-mismatch').click()
    await bob.page.getByTestId('sas-match').click()
    await expect(bob.page.getByTestId('verification')).toHaveAttribute('data-state', 'failed')
    await expect(bob.page.getByTestId('verification-error')).toContainText('did not match')
  })

  test('should restore an identity from a backup on another browser, and refuse a wrong passphrase', async ({
    browser
  }) => {
    const alice = await Person.open(browser, stack, 'alice')
    const carol = await Person.open(browser, stack, 'carol')
    people.push(alice, carol)
    const dir = await mkdtemp(join(tmpdir(), 'kith-backup-'))
    try {
      await alice.page.getByTestId('nav-identity').click()
      const aliceUser = (await alice.page.getByTestId('user-id').textContent()) ?? ''
      await alice.page.getByTestId('backup-passphrase').fill('a long enough passphrase')
      const downloading = alice.page.waitForEvent('download')
      await alice.page.getByTestId('backup-download').click()
      const file = join(dir, 'alice.kithbackup')
      await (await downloading).saveAs(file)

      await carol.page.getByTestId('nav-identity').click()
      const carolUser = (await carol.page.getByTestId('user-id').textContent()) ?? ''
      expect(carolUser).not.toBe(aliceUser)
      await carol.page.getByTestId('restore-file').setInputFiles(file)
      await carol.page.getByTestId('restore-passphrase').fill('not the passphrase')
      await carol.page.getByTestId('restore').click()
      await expect(carol.page.getByTestId('restore-error')).toContainText('Wrong passphrase')
      await expect(carol.page.getByTestId('user-id')).toHaveText(carolUser)

      await carol.page.getByTestId('restore-passphrase').fill('a long enough passphrase')
      await Promise.all([carol.page.waitForEvent('load'), carol.page.getByTestId('restore').click()])
      await carol.page.getByTestId('nav-identity').click()
      await expect(carol.page.getByTestId('user-id')).toHaveText(aliceUser)
      // the same user on a new device: the device ids differ
      expect(await deviceIdOf(carol.page)).not.toBe(await deviceIdOf(alice.page))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('should pair a second browser as the same user by link, and let a friend find both devices by email', async ({
    browser
  }) => {
    const alice = await Person.open(browser, stack, 'alice')
    const bob = await Person.open(browser, stack, 'bob')
    const mallory = await Person.open(browser, stack, 'mallory')
    people.push(alice, bob, mallory)

    await alice.page.getByTestId('nav-identity').click()
    const aliceUser = (await alice.page.getByTestId('user-id').textContent()) ?? ''
    await alice.page.getByTestId('pair-start').click()
    const link = (await alice.page.getByTestId('pair-link').textContent()) ?? ''
    expect(link).toContain('#kith-pair=')

    // the laptop opens the link: the fragment is read, then removed from the address bar
    const laptop = await Person.open(browser, stack, 'laptop', link)
    people.push(laptop)
    expect(new URL(laptop.page.url()).hash).toBe('#identity')
    await laptop.page.getByTestId('pair-name').fill('laptop')
    await laptop.page.getByTestId('pair-join').click()
    await expect(alice.page.getByTestId('pair-approval')).toContainText('laptop')
    await Promise.all([laptop.page.waitForEvent('load'), alice.page.getByTestId('pair-allow').click()])
    await expect(alice.page.getByTestId('pair-done')).toContainText('laptop')
    await laptop.page.getByTestId('nav-identity').click()
    await expect(laptop.page.getByTestId('user-id')).toHaveText(aliceUser)
    await expect(alice.page.getByTestId('device-row')).toHaveCount(2)

    // Alice publishes her address; Bob finds her, with both devices
    await alice.page.getByTestId('publish-email').fill('alice@example.com')
    await alice.page.getByTestId('publish').click()
    await expect(alice.page.getByTestId('publish-status')).toContainText('Published')
    await bob.page.getByTestId('nav-contacts').click()
    await bob.page.getByTestId('find-email').fill('Alice@Example.com')
    await bob.page.getByTestId('find').click()
    await expect(bob.page.getByTestId('find-result')).toHaveCount(1)
    await expect(bob.page.getByTestId('find-result')).toContainText('laptop')

    // Mallory claims the same address: Bob now sees two claimants, never only Mallory
    await mallory.page.getByTestId('nav-identity').click()
    await mallory.page.getByTestId('publish-email').fill('alice@example.com')
    await mallory.page.getByTestId('publish').click()
    await expect(mallory.page.getByTestId('publish-status')).toContainText('Published')
    await bob.page.getByTestId('find').click()
    await expect(bob.page.getByTestId('find-result')).toHaveCount(2)
    await expect(bob.page.getByTestId('find-results')).toContainText(aliceUser.slice(0, 10))
  })
})
