import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'

export interface RelayProcessInit {
  keyFile: string
  /** WebSockets port; 0 picks a free one. Pass the same port again to restart a relay at the same address. */
  wsPort?: number
  /** Extra flags for kith-relay. */
  args?: string[]
  /** How long to wait for the relay to say it started. @default 15_000 */
  startTimeoutMs?: number
}

export interface RelayProcess {
  peerId: string
  /** Its WebSockets multiaddrs, with `/p2p/…`. */
  multiaddrs: string[]
  wsPort: number
  httpUrl: string
  pid: number
  /** Kills the process with `signal` and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
}

/** The `kith-relay` command as a child process: what an operator runs, and what a test can SIGKILL. */
export async function startRelayProcess(init: RelayProcessInit): Promise<RelayProcess> {
  const bin = createRequire(import.meta.url).resolve('@kith/relay/bin')
  const child = spawn(
    process.execPath,
    [
      bin,
      '--key-file',
      init.keyFile,
      '--listen',
      `/ip4/127.0.0.1/tcp/${init.wsPort ?? 0}/ws`,
      '--http-port',
      '0',
      '--allow-private-addresses',
      '--log-level',
      'info',
      ...(init.args ?? [])
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] }
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })

  const started = await new Promise<{ peerId: string; multiaddrs: string[]; http: string }>(
    (resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`kith-relay did not start within ${init.startTimeoutMs ?? 15_000} ms: ${stderr}`))
      }, init.startTimeoutMs ?? 15_000)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`kith-relay exited with ${String(code)}: ${stderr.trim()}`))
      })
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          const entry = JSON.parse(line) as {
            msg?: string
            peerId?: string
            multiaddrs?: string[]
            http?: string
          }
          if (entry.msg === 'relay started' && entry.peerId != null && entry.http != null) {
            clearTimeout(timer)
            resolve({ peerId: entry.peerId, multiaddrs: entry.multiaddrs ?? [], http: entry.http })
          }
        } catch {
          // not a log line of ours
        }
      })
    }
  )
  const wsPort = Number(/\/tcp\/(\d+)\/ws/.exec(started.multiaddrs[0] ?? '')?.[1] ?? 0)
  return {
    peerId: started.peerId,
    multiaddrs: started.multiaddrs,
    wsPort,
    httpUrl: started.http,
    pid: child.pid ?? -1,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode == null && child.signalCode == null) child.kill(signal)
      await exited
    }
  }
}

/** A `kith-relay` process with its own key in a temporary folder, restartable at the same address. */
export class TempRelay {
  private constructor(
    private readonly dir: string,
    public process: RelayProcess
  ) {}

  static async start(args: string[] = []): Promise<TempRelay> {
    const dir = await mkdtemp(join(tmpdir(), 'kith-relay-'))
    return new TempRelay(dir, await startRelayProcess({ keyFile: join(dir, 'relay.key'), args }))
  }

  /** Its first WebSockets address, with `/p2p/…`. */
  get addr(): string {
    const addr = this.process.multiaddrs[0]
    if (addr == null) throw new TypeError('relay has no address')
    return addr
  }

  /** A relay again with the same key and port: the address every peer was configured with. */
  async restart(): Promise<void> {
    this.process = await startRelayProcess({
      keyFile: join(this.dir, 'relay.key'),
      wsPort: this.process.wsPort
    })
  }

  async stop(): Promise<void> {
    await this.process.kill('SIGKILL')
    await rm(this.dir, { recursive: true, force: true })
  }
}
