// A swarm of Kith DHT server peers in their own process, for the discovery benchmark: the peers looking up run in
// the benchmark's process, so what they measure is the network's answer, not the servers' share of one event loop.
// Usage: node src/dht-swarm.ts <count> <relay multiaddr>… — prints one line `ready <count>` once routing tables
// have filled, and runs until SIGTERM.
import { DISCOVERY_NAMESPACE, discoveryNamespace } from '@kith/identity'
import { createKithPeer } from '@kith/peer'
import type { KithPeer } from '@kith/peer'

const [count, ...relays] = process.argv.slice(2)
const peers: KithPeer[] = []
for (let i = 0; i < Number(count); i++) {
  peers.push(
    await createKithPeer({
      relays: [relays[i % relays.length]!],
      listen: ['/ip4/127.0.0.1/tcp/0'],
      dhtServer: true,
      allowPrivateAddresses: true,
      // liveness pings on ~900 connections in one process would only measure the CPU
      livenessIntervalMs: 30_000,
      livenessTimeoutMs: 10_000,
      dhtNamespaces: { [DISCOVERY_NAMESPACE]: discoveryNamespace() }
    })
  )
}
const size = (peer: KithPeer): number =>
  (peer.services.dht as unknown as { routingTable: { size: number } }).routingTable.size
const deadline = Date.now() + 30_000
while (Date.now() < deadline && peers.some((peer) => size(peer) < Math.min(10, peers.length - 1))) {
  await new Promise((resolve) => setTimeout(resolve, 250))
}
process.stdout.write(`ready ${peers.length}\n`)
process.once('SIGTERM', () => {
  void Promise.all(peers.map(async (peer) => peer.stop())).finally(() => process.exit(0))
})
