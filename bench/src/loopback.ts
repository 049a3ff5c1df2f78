// Preloaded (`node --import`) into y-webrtc's own signaling server, `y-webrtc/bin/server.js`, which reads only PORT
// and listens on every interface. This binds it to 127.0.0.1 on a port the OS picks and prints that port as
// `LISTENING <port>`, so the benchmark runs the server's code unchanged without exposing it off the machine.
import { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

// eslint-disable-next-line @typescript-eslint/unbound-method -- called with the server as `this` below
const listen = Server.prototype.listen as (this: Server, ...args: unknown[]) => Server
Server.prototype.listen = function (this: Server, ...args: unknown[]) {
  const callback = args.find((arg) => typeof arg === 'function') as (() => void) | undefined
  this.once('listening', () => {
    process.stdout.write(`LISTENING ${(this.address() as AddressInfo).port}\n`)
  })
  return listen.call(this, 0, '127.0.0.1', ...(callback != null ? [callback] : []))
} as typeof Server.prototype.listen
