import { expect, test } from '@playwright/test'
import { Person, Stack } from '../fixtures/demo.ts'
import type { Page } from '@playwright/test'

/** Creates an invite in the open room and returns its link and PIN. */
async function invite(page: Page): Promise<{ link: string; pin: string }> {
  await page.getByTestId('invite-create').click()
  const link = (await page.getByTestId('invite-link').textContent()) ?? ''
  const pin = (await page.getByTestId('invite-pin').textContent()) ?? ''
  expect(link).toContain('#kith=')
  expect(pin).toMatch(/^\d{6}$/)
  return { link, pin }
}

async function join(person: Person, pin: string): Promise<void> {
  await expect(person.page.getByTestId('join-view')).toBeVisible()
  // the fragment was read and removed from the address bar
  expect(person.page.url()).not.toContain('kith=')
  await person.page.getByTestId('join-pin').fill(pin)
  await person.page.getByTestId('join-submit').click()
}

const members = (page: Page) => page.getByTestId('member')

test.describe('rooms by invitation', () => {
  let stack: Stack
  const people: Person[] = []
  const requests: string[] = []

  test.beforeEach(async () => {
    stack = await Stack.start()
  })

  test.afterEach(async () => {
    await Promise.all(people.splice(0).map(async (p) => p.close()))
    await stack.stop()
  })

  async function open(
    browser: Parameters<typeof Person.open>[0],
    name: string,
    url?: string
  ): Promise<Person> {
    const person = await Person.open(browser, stack, name, url)
    person.page.on('request', (r) => requests.push(r.url()))
    people.push(person)
    return person
  }

  test('A invites B, B invites C; a thief burns an invite, an impostor makes the real invitee see INVITE_USED; removed B loses the room', async ({
    browser
  }) => {
    const a = await open(browser, 'alice')
    await a.page.getByTestId('nav-rooms').click()
    await a.page.getByTestId('room-name-input').fill('Trip to the coast')
    await a.page.getByTestId('create-room').click()
    await expect(a.page.getByTestId('room-title')).toHaveText('Trip to the coast')

    // A → B with the right PIN
    const toB = await invite(a.page)
    const b = await open(browser, 'bob', toB.link)
    await join(b, toB.pin)
    await expect(b.page.getByTestId('room-title')).toHaveText('Trip to the coast')
    await expect(members(b.page)).toHaveCount(2)

    // B → C
    const toC = await invite(b.page)
    const c = await open(browser, 'carol', toC.link)
    await join(c, toC.pin)
    await expect(c.page.getByTestId('room-title')).toHaveText('Trip to the coast')
    for (const p of [a, b, c]) await expect(members(p.page)).toHaveCount(3)

    // a note reaches every member
    await a.page.getByTestId('note-input').fill('meet at the station at 9')
    await a.page.getByTestId('note-send').click()
    await expect(c.page.getByTestId('note').filter({ hasText: 'meet at the station' })).toBeVisible()
    await expect(b.page.getByTestId('note').filter({ hasText: 'meet at the station' })).toBeVisible()

    // D has a stolen link but not the PIN: three tries burn it
    const stolen = await invite(a.page)
    const d = await open(browser, 'dave', stolen.link)
    const wrong = stolen.pin === '000000' ? '111111' : '000000'
    for (const expected of ['WRONG_PIN', 'WRONG_PIN', 'INVITE_BURNED']) {
      await join(d, wrong)
      await expect(d.page.getByTestId('join-error')).toHaveAttribute('data-code', expected)
    }
    await expect(a.page.getByTestId('room-alert').filter({ hasText: 'no longer works' })).toBeVisible()

    // D has link and PIN and uses them first: the real invitee E is told, A sees who got in
    const intercepted = await invite(a.page)
    const d2 = await open(browser, 'dave-again', intercepted.link)
    await join(d2, intercepted.pin)
    await expect(d2.page.getByTestId('room-title')).toHaveText('Trip to the coast')
    const e = await open(browser, 'erin', intercepted.link)
    await join(e, intercepted.pin)
    await expect(e.page.getByTestId('join-error')).toHaveAttribute('data-code', 'INVITE_USED')
    await expect(e.page.getByTestId('join-error')).toContainText('intercepted')
    await expect(a.page.getByTestId('impostor-safety-number')).toBeVisible()

    // A removes B: B's view says so, new notes reach C but not B, and B's notes reach nobody
    await expect(members(a.page)).toHaveCount(4)
    await a.page
      .getByTestId('member')
      .filter({ hasText: 'browser' })
      .nth(1)
      .getByTestId('remove-member')
      .click()
    await expect(members(a.page)).toHaveCount(3)
    await expect(b.page.getByTestId('not-member')).toBeVisible()
    await a.page.getByTestId('note-input').fill('plan B is secret')
    await a.page.getByTestId('note-send').click()
    await expect(c.page.getByTestId('note').filter({ hasText: 'plan B is secret' })).toBeVisible()
    const bWrites = await b.page.evaluate(() => {
      const kith = (window as unknown as { kith: any }).kith
      const room = kith.rooms.list()[0]
      return (kith.roomChat.send(room, 'let me back in') as Promise<{ delivered: number }>).then(
        (note: { delivered: number }) => `delivered ${note.delivered}`,
        (err: Error) => err.name
      )
    })
    expect(bWrites).toMatch(/RoomError|delivered 0/)
    await expect(b.page.getByTestId('note').filter({ hasText: 'plan B is secret' })).toHaveCount(0)
    await expect(c.page.getByTestId('note').filter({ hasText: 'let me back in' })).toHaveCount(0)

    // the topology shows the members' mutual links
    await expect(a.page.locator('[data-testid="topology-edge"][data-mutual="true"]').first()).toBeVisible({
      timeout: 30_000
    })

    // no request any page made carried an invite fragment or a PIN
    for (const url of requests) {
      expect(url).not.toContain('kith=')
      for (const pin of [toB.pin, toC.pin, stolen.pin, intercepted.pin]) expect(url).not.toContain(pin)
    }
  })
})
