// Discovery lookups on a DHT of Node peers plus relays: time and hops, against the DHT's own provider lookup.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { startRelayProcess } from '@kith/devtools'
import { createIdentity, Discovery, DISCOVERY_NAMESPACE, discoveryNamespace } from '@kith/identity'
import { createKithPeer } from '@kith/peer'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { summarize } from './stats.ts'
import type { Summary } from './stats.ts'
import type { KithPeer } from '@kith/peer'

export interface DiscoveryFigures {
  peers: number
  relays: number
  lookups: number
  /** Lookups that found the published claim. */
  found: number
  /** The identifier hash (scrypt), on an idle event loop. */
  hashMs: Summary
  /** A whole lookup: until three DHT servers answered with a record. */
  lookupMs: Summary
  /** Until the first server's record. */
  firstAnswerMs: Summary
  hops: Summary
  /** ⌈log2 N⌉ with N = DHT peers + relays. */
  hopBound: number
  /** Anchor: the same DHT's provider lookup (until the publisher is named) for keys of the same kind. */
  providerMs: Summary
}

const SWARM = fileURLToPath(new URL('./dht-swarm.ts', import.meta.url))

async function startSwarm(count: number, relays: string[]): Promise<{ stop(): Promise<void> }> {
  const child = spawn(process.execPath, [SWARM, String(count), ...relays], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the DHT swarm exited with ${String(code)}`)))
    createInterface({ input: child.stdout }).once('line', () => resolve())
  })
  return {
    async stop() {
      child.kill('SIGTERM')
      await exited
    }
  }
}

/** A DHT client, as a browser is: every answer it gets comes from a server over the network. */
async function client(relay: string): Promise<KithPeer> {
  return createKithPeer({
    relays: [relay],
    listen: ['/ip4/127.0.0.1/tcp/0'],
    allowPrivateAddresses: true,
    dhtNamespaces: { [DISCOVERY_NAMESPACE]: discoveryNamespace() }
  })
}

export async function measureDiscovery(
  dir: string,
  options: { peers: number; lookups: number; progress: (line: string) => void }
): Promise<DiscoveryFigures> {
  const first = await startRelayProcess({ keyFile: join(dir, 'dht-relay-1.key') })
  const second = await startRelayProcess({
    keyFile: join(dir, 'dht-relay-2.key'),
    args: ['--bootstrap', first.multiaddrs[0]!]
  })
  const relays = [first.multiaddrs[0]!, second.multiaddrs[0]!]
  const clients: KithPeer[] = []
  options.progress(`discovery: starting ${options.peers} DHT peers…`)
  const swarm = await startSwarm(options.peers, relays)
  try {
    clients.push(await client(relays[0]!), await client(relays[1]!))
    const identities = await Promise.all(
      Array.from({ length: options.lookups }, async () => createIdentity())
    )
    const hashMs: number[] = []
    const lookupMs: number[] = []
    const firstMs: number[] = []
    const hops: number[] = []
    const providerMs: number[] = []
    let found = 0
    for (let i = 0; i < options.lookups; i++) {
      options.progress(`discovery: lookup ${i + 1}/${options.lookups}…`)
      // Alice publishes from one client, Bob looks her up from the other, on the other relay
      const [alice, bob] = i % 2 === 0 ? [clients[0]!, clients[1]!] : [clients[1]!, clients[0]!]
      const identity = identities[i]!
      const identifier = `person-${i}-${Date.now()}@example.com`
      const publisher = new Discovery(alice.services.dht)
      const started = performance.now()
      const hash = await publisher.hash(identifier)
      hashMs.push(performance.now() - started)
      await publisher.publish(identity, identifier)
      const cid = CID.createV1(0x55, await sha256.digest(hash))
      await alice.contentRouting.provide(cid, { signal: AbortSignal.timeout(30_000) })

      const lookup = async (): Promise<void> => {
        const result = await new Discovery(bob.services.dht).lookupHash(hash)
        lookupMs.push(result.durationMs)
        if (result.firstAnswerMs != null) firstMs.push(result.firstAnswerMs)
        if (result.hops != null) hops.push(result.hops)
        if (result.claims.some((claim) => equals(claim.user, identity.user))) found++
      }
      const providers = async (): Promise<void> => {
        const providerStarted = performance.now()
        for await (const provider of bob.contentRouting.findProviders(cid, {
          signal: AbortSignal.timeout(30_000)
        })) {
          if (provider.id.equals(alice.peerId)) break
        }
        providerMs.push(performance.now() - providerStarted)
      }
      // alternate which goes first: the first may open connections the second reuses
      if (i % 2 === 0) {
        await lookup()
        await providers()
      } else {
        await providers()
        await lookup()
      }
    }
    return {
      peers: options.peers,
      relays: relays.length,
      lookups: options.lookups,
      found,
      hashMs: summarize(hashMs),
      lookupMs: summarize(lookupMs),
      firstAnswerMs: summarize(firstMs),
      hops: summarize(hops),
      hopBound: Math.ceil(Math.log2(options.peers + relays.length)),
      providerMs: summarize(providerMs)
    }
  } finally {
    await Promise.all(clients.map(async (peer) => peer.stop()))
    await swarm.stop()
    await Promise.all([first.kill('SIGTERM'), second.kill('SIGTERM')])
  }
}
