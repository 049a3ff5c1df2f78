import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { CHROMIUM_ARGS, chromiumPath } from '@kith/devtools'
import { chromium, expect, test } from '@playwright/test'
import { Person, Stack } from '../fixtures/demo.ts'
import type { Page } from '@playwright/test'

async function invite(page: Page): Promise<{ link: string; pin: string }> {
  await page.getByTestId('invite-create').click()
  const link = (await page.getByTestId('invite-link').textContent()) ?? ''
  const pin = (await page.getByTestId('invite-pin').textContent()) ?? ''
  return { link, pin }
}

async function join(person: Person, pin: string): Promise<void> {
  await person.page.getByTestId('join-pin').fill(pin)
  await person.page.getByTestId('join-submit').click()
  await expect(person.page.getByTestId('room-title')).toHaveText('Household')
}

const notes = (page: Page) => page.getByTestId('notes-editor')

/** Types `text` at the end of the shared notes. */
async function append(page: Page, text: string): Promise<void> {
  await page.getByTestId('tab-notes').click()
  await notes(page).click()
  await page.keyboard.press('Control+End')
  // one input event, as a paste or an IME commit: people typing at the same spot key by key interleave (that is
  // what a text CRDT does), which would make the check below depend on timing
  await page.keyboard.insertText(text)
}

async function draw(page: Page, from: [number, number], to: [number, number]): Promise<void> {
  await page.getByTestId('tab-canvas').click()
  const box = await page.getByTestId('canvas').boundingBox()
  if (box == null) throw new Error('no canvas')
  await page.mouse.move(box.x + from[0], box.y + from[1])
  await page.mouse.down()
  for (let i = 1; i <= 5; i++) {
    await page.mouse.move(
      box.x + from[0] + ((to[0] - from[0]) * i) / 5,
      box.y + from[1] + ((to[1] - from[1]) * i) / 5
    )
  }
  await page.mouse.up()
}

test.describe('shared documents in a room', () => {
  let stack: Stack
  const people: Person[] = []
  const profiles: string[] = []

  test.beforeEach(async () => {
    stack = await Stack.start()
  })

  test.afterEach(async () => {
    await Promise.all(people.splice(0).map(async (p) => p.close().catch(() => undefined)))
    await stack.stop()
    await Promise.all(profiles.map(async (d) => rm(d, { recursive: true, force: true })))
  })

  test('six browsers edit notes, a list and a drawing together, lose the relay, one goes away and comes back, a late joiner catches up', async ({
    browser
  }) => {
    test.setTimeout(240_000)
    const open = async (name: string, url?: string): Promise<Person> => {
      const person = await Person.open(browser, stack, name, url)
      people.push(person)
      return person
    }
    const alice = await open('alice')
    await alice.page.getByTestId('nav-rooms').click()
    await alice.page.getByTestId('room-name-input').fill('Household')
    await alice.page.getByTestId('create-room').click()
    await expect(alice.page.getByTestId('room-title')).toHaveText('Household')

    // four more people join by invitation; frank's browser keeps its profile on disk
    const others: Person[] = []
    for (const name of ['bob', 'carol', 'dave']) {
      const { link, pin } = await invite(alice.page)
      const person = await open(name, link)
      await join(person, pin)
      others.push(person)
    }
    const profile = await mkdtemp(joinPath(tmpdir(), 'kith-frank-'))
    profiles.push(profile)
    const launch = async (url: string): Promise<Person> => {
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: chromiumPath(),
        args: CHROMIUM_ARGS
      })
      // the demo keeps one identity per tab (sessionStorage); a browser restart is the same tab here
      await context.addInitScript(() => sessionStorage.setItem('kith-tab', 'frank'))
      const person = await Person.inContext(context, 'frank', url)
      people.push(person)
      return person
    }
    const toFrank = await invite(alice.page)
    let frank = await launch(toFrank.link)
    await join(frank, toFrank.pin)
    const [bob, carol, dave] = others as [Person, Person, Person]
    const everyone = [alice, bob, carol, dave, frank]
    for (const p of everyone) await expect(p.page.getByTestId('member')).toHaveCount(5)
    for (const p of everyone)
      await expect(p.page.getByTestId('sync-status')).toHaveAttribute('data-state', 'online')

    // concurrent edits in the notes: everyone types at once; all end with the same text holding every line
    await Promise.all(everyone.map(async (p) => append(p.page, `[${p.name}] `)))
    const expectSame = async (check: (text: string) => boolean): Promise<string> => {
      for (const p of everyone) await p.page.getByTestId('tab-notes').click()
      let agreed = ''
      await expect
        .poll(async () => {
          const values = await Promise.all(everyone.map(async (p) => notes(p.page).inputValue()))
          agreed = values[0] ?? ''
          return values.every((v) => v === agreed) && check(agreed)
        })
        .toBe(true)
      return agreed
    }
    await expectSame((t) => everyone.every((p) => t.includes(`[${p.name}]`)))
    // a remote caret shows with a name
    await expect(alice.page.getByTestId('remote-caret').first()).toBeVisible()

    // the list: everyone adds; then one checks, one reorders, one deletes
    for (const p of everyone) {
      await p.page.getByTestId('tab-list').click()
      await p.page.getByTestId('list-input').fill(`${p.name}'s item`)
      await p.page.getByTestId('list-add').click()
    }
    for (const p of everyone) await expect(p.page.getByTestId('list-item')).toHaveCount(5)
    await bob.page
      .getByTestId('list-item')
      .filter({ hasText: "alice's item" })
      .getByTestId('list-check')
      .check()
    await carol.page.getByTestId('list-item').last().getByTestId('list-up').click()
    await dave.page
      .getByTestId('list-item')
      .filter({ hasText: "dave's item" })
      .getByTestId('list-delete')
      .click()
    const order = async (p: Person): Promise<string> =>
      (
        await p.page
          .getByTestId('list-item')
          .evaluateAll((items) => items.map((i) => `${i.dataset.text}:${i.dataset.done}`))
      ).join('|')
    await expect.poll(async () => new Set(await Promise.all(everyone.map(order))).size).toBe(1)
    const agreedList = await order(alice)
    expect(agreedList).toContain("alice's item:true")
    expect(agreedList).not.toContain("dave's item")

    // the canvas: three draw at once; every canvas shows three strokes
    await Promise.all(
      [alice, carol, frank].map(async (p, i) => draw(p.page, [40 + i * 60, 40], [200 + i * 60, 200]))
    )
    for (const p of everyone) {
      await p.page.getByTestId('tab-canvas').click()
      await expect(p.page.getByTestId('canvas-strokes')).toHaveAttribute('data-count', '3')
    }

    // the relay dies mid-session: edits still converge over the members' direct links
    await stack.relay.kill('SIGKILL')
    await append(alice.page, 'after the relay died ')
    await append(dave.page, 'dave too ')
    await expectSame((t) => t.includes('after the relay died') && t.includes('dave too'))

    // a link lost while the relay is dead comes back, signaled through a member linked to both ends
    const lost = await alice.page.evaluate(async () => {
      const kith = (window as unknown as { kith: { peer: any; rooms: any } }).kith
      const room = kith.rooms.list()[0]
      const relays = kith.peer.services.relays
      if (relays.getFallbackRelays().length === 0) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no member holds a reservation for alice')), 30_000)
          relays.addEventListener('relay:fallbacks', function granted(event: CustomEvent<string[]>) {
            if (event.detail.length === 0) return
            clearTimeout(timer)
            relays.removeEventListener('relay:fallbacks', granted)
            resolve()
          })
        })
      }
      const direct = (peer: unknown): boolean =>
        kith.peer.getConnections(peer).some((c: { limits?: unknown }) => c.limits == null)
      const neighbour = kith.rooms.meshNeighboursOf(room).find(direct)
      if (neighbour == null) throw new Error('alice has no direct mesh link')
      for (const c of kith.peer.getConnections(neighbour)) c.abort(new Error('the network changed'))
      return neighbour.toString() as string
    })
    await alice.page.waitForFunction(
      (id) =>
        (window as unknown as { kith: { peer: any } }).kith.peer
          .getConnections()
          .some((c: any) => c.remotePeer.toString() === id && c.limits == null),
      lost,
      { timeout: 40_000 }
    )
    await alice.page.getByTestId('nav-network').click()
    await expect(alice.page.getByTestId('fallback-relays')).not.toHaveAttribute('data-count', '0')
    await alice.page.getByTestId('nav-rooms').click()
    await alice.page.getByTestId('room-item').filter({ hasText: 'Household' }).click()

    // frank drops his links, edits with no way to reach anyone, and closes his browser
    await frank.page.getByTestId('tab-notes').click()
    await frank.page.getByTestId('sync-sleep').click()
    await expect(frank.page.getByTestId('sync-status')).toHaveAttribute('data-state', 'asleep')
    await append(frank.page, 'frank offline ')
    await expect(frank.page.getByTestId('sync-pending')).not.toHaveAttribute('data-pending', '0')
    await frank.close()
    people.splice(people.indexOf(frank), 1)
    everyone.splice(everyone.indexOf(frank), 1)
    await append(bob.page, 'bob while frank was away ')

    // the relay returns; frank's browser comes back with his profile and his offline edit, and everything merges
    await stack.restartRelay()
    frank = await launch(stack.demo.url)
    await frank.page.getByTestId('nav-rooms').click()
    await frank.page.getByTestId('room-item').filter({ hasText: 'Household' }).click()
    await frank.page.getByTestId('tab-notes').click()
    await expect(notes(frank.page)).toHaveValue(/frank offline/)
    everyone.push(frank)
    await expectSame((t) => t.includes('frank offline') && t.includes('bob while frank was away'))
    await expect(frank.page.getByTestId('sync-pending')).toHaveAttribute('data-pending', '0')
    // and everyone holds a reservation on the relay again, without a reload (a waiting peer retries at once when it
    // meets one that reserved already, or within 10 s)
    for (const p of everyone) await expect(p.page.getByTestId('reachability')).toHaveText('Reachable')

    // a late joiner catches up on a large document (a megabyte of notes)
    await alice.page.evaluate(async () => {
      const kith = (window as unknown as { kith: { sync: any; rooms: any } }).kith
      const room = kith.rooms.list()[0]
      const doc = await kith.sync.doc(room, 'notes')
      doc.getText('body').insert(0, `${'a big page of notes '.repeat(50_000)}\n`)
    })
    const big = (await notes(alice.page).inputValue()).length
    expect(big).toBeGreaterThan(1_000_000)
    const toGrace = await invite(alice.page)
    const grace = await open('grace', toGrace.link)
    const started = Date.now()
    await join(grace, toGrace.pin)
    const member = Date.now()
    await grace.page.getByTestId('tab-notes').click()
    // checked in the page every 50 ms (expect.poll's default backs off to a second, and reading a megabyte out of
    // the page on every poll would load the machine)
    await grace.page.waitForFunction(
      (length) =>
        document.querySelector<HTMLTextAreaElement>('[data-testid="notes-editor"]')?.value.length === length,
      big,
      { polling: 50, timeout: 30_000 }
    )
    console.log(
      `late joiner: PIN submitted → 1 MB of notes shown in ${Date.now() - started} ms (a member after ${member - started} ms)`
    )
  })
})
