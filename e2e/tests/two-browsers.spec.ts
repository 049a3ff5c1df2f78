import { expect, test } from '@playwright/test'
import { Person, Stack } from '../fixtures/demo.ts'

test.describe('two browsers through a relay', () => {
  let stack: Stack
  const people: Person[] = []

  test.beforeEach(async () => {
    stack = await Stack.start()
  })

  test.afterEach(async () => {
    await Promise.allSettled(people.splice(0).map(async (p) => p.close()))
    await stack.stop()
  })

  test('should chat over a direct WebRTC connection, survive the relay being killed, and admit a third peer after it returns', async ({
    browser
  }) => {
    const alice = await Person.open(browser, stack, 'alice')
    const bob = await Person.open(browser, stack, 'bob')
    people.push(alice, bob)

    await alice.openChat(bob)
    await alice.send('hello from alice')
    await bob.expectMessage(alice, 'hello from alice')
    await bob.send('hello back from bob')
    await alice.expectMessage(bob, 'hello back from bob')

    // the chat ran over a direct WebRTC connection, not a limited relayed circuit
    const [link, ...others] = (await alice.connectionsTo(bob)).filter((c) => !c.limited)
    expect(others).toHaveLength(0)
    expect(link?.remoteAddr).toContain('/webrtc')
    // and the relayed circuit that carried the signaling is closed once the direct link is up
    await expect.poll(async () => (await alice.connectionsTo(bob)).some((c) => c.limited)).toBe(false)
    await alice.page.getByTestId('nav-network').click()
    await expect(
      alice.page.locator(`[data-testid="connection-row"][data-peer="${bob.peerId}"]`)
    ).toHaveAttribute('data-kind', 'webrtc')

    // the relay dies without a word; the two keep talking over the same connection
    await stack.relay.kill('SIGKILL')
    await expect(alice.page.getByTestId('relay-row')).toHaveAttribute('data-state', /waiting|connecting/)
    await alice.send('the relay is gone')
    await bob.expectMessage(alice, 'the relay is gone')
    await bob.send('still here')
    await alice.expectMessage(bob, 'still here')
    expect((await alice.connectionsTo(bob)).map((c) => c.id)).toContain(link?.id)

    // a relay comes back at the same address; both reserve again and a newcomer reaches both
    await stack.restartRelay()
    for (const person of [alice, bob]) {
      await person.page.getByTestId('nav-network').click()
      await expect(person.page.getByTestId('relay-row')).toHaveAttribute('data-state', 'reserved')
    }
    const carol = await Person.open(browser, stack, 'carol')
    people.push(carol)
    await carol.openChat(alice)
    await carol.send('hi alice, I am new')
    await alice.expectMessage(carol, 'hi alice, I am new')
    await carol.openChat(bob)
    await carol.send('hi bob, I am new')
    await bob.expectMessage(carol, 'hi bob, I am new')
    for (const other of [alice, bob]) {
      const links = await carol.connectionsTo(other)
      expect(links.some((c) => !c.limited && c.remoteAddr.includes('/webrtc'))).toBe(true)
    }
  })
})
