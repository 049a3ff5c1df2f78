import { PAIRING_FRAGMENT, readPairingLink } from '@kith/identity'
import { INVITE_FRAGMENT, readInviteLink } from '@kith/trust'
import { useEffect, useState } from 'preact/hooks'
import { loadConfig } from './config.ts'
import { DemoNode } from './node.ts'
import { ChatView } from './views/chat.tsx'
import { CONTACT_FRAGMENT, ContactsView, VerificationPanel } from './views/contacts.tsx'
import { IdentityView } from './views/identity.tsx'
import { NetworkView } from './views/network.tsx'
import { PairView } from './views/pair.tsx'
import { JoinView, RoomsView } from './views/rooms.tsx'
import type { NodeView } from './node.ts'
import type { PairingOffer } from '@kith/identity'

type Phase =
  { name: 'loading'; step: string } | { name: 'ready'; node: DemoNode } | { name: 'failed'; error: string }

const VIEWS = [
  { id: 'network', label: 'Network', hint: 'peer, relays, connections' },
  { id: 'identity', label: 'Identity', hint: 'your keys, devices, backup' },
  { id: 'contacts', label: 'Contacts', hint: 'verify people you know' },
  { id: 'rooms', label: 'Rooms', hint: 'invite-only groups' },
  { id: 'chat', label: 'Chat', hint: 'talk to another peer' }
] as const
type ViewId = (typeof VIEWS)[number]['id']

/**
 * A link this page was opened with (`#kith-pair=…` or `#kith-contact=…`), read once and then removed from the
 * address bar: the fragment never reaches a server, and it should not stay in history either.
 */
function takeLink(): {
  pair?: { offer?: PairingOffer; error?: string }
  contact?: string
  invite?: { link?: string; error?: string }
} {
  const hash = location.hash.slice(1)
  if (hash.startsWith(`${INVITE_FRAGMENT}=`)) {
    history.replaceState(null, '', `${location.pathname}${location.search}#rooms`)
    try {
      readInviteLink(hash)
      return { invite: { link: `#${hash}` } }
    } catch (err: unknown) {
      return { invite: { error: (err as Error).message } }
    }
  }
  if (hash.startsWith(`${PAIRING_FRAGMENT}=`)) {
    history.replaceState(null, '', `${location.pathname}${location.search}#identity`)
    try {
      return { pair: { offer: readPairingLink(hash) } }
    } catch (err: unknown) {
      return { pair: { error: (err as Error).message } }
    }
  }
  if (hash.startsWith(`${CONTACT_FRAGMENT}=`)) {
    history.replaceState(null, '', `${location.pathname}${location.search}#contacts`)
    return { contact: hash.slice(CONTACT_FRAGMENT.length + 1) }
  }
  return {}
}

function useNodeView(node: DemoNode | undefined): NodeView | undefined {
  const [view, setView] = useState<NodeView | undefined>(node?.view())
  useEffect(() => {
    if (node == null) return
    setView(node.view())
    return node.subscribe(() => setView(node.view()))
  }, [node])
  return view
}

export function App() {
  const [link, setLink] = useState(takeLink)
  const [phase, setPhase] = useState<Phase>({ name: 'loading', step: 'Reading the relay configuration…' })
  const [viewId, setViewId] = useState<ViewId>(() => (location.hash.slice(1) as ViewId) || 'network')
  const [chatPeer, setChatPeer] = useState<string | undefined>()
  const [openRoom, setOpenRoom] = useState<string | undefined>()
  const node = phase.name === 'ready' ? phase.node : undefined
  const view = useNodeView(node)

  useEffect(() => {
    let stopped = false
    let started: DemoNode | undefined
    ;(async () => {
      const config = await loadConfig()
      if (stopped) return
      setPhase({
        name: 'loading',
        step: `Starting the peer and reserving a slot on ${config.relays.length} relay(s)…`
      })
      started = await DemoNode.start(config)
      if (stopped) return void started.stop()
      ;(window as unknown as { kith?: DemoNode }).kith = started
      setPhase({ name: 'ready', node: started })
    })().catch((err: unknown) => setPhase({ name: 'failed', error: (err as Error).message }))
    return () => {
      stopped = true
      void started?.stop()
    }
  }, [])

  useEffect(() => {
    location.hash = viewId
  }, [viewId])

  const reachable = view?.reachable ?? false
  const direct = view?.connections.filter((c) => c.kind === 'webrtc').length ?? 0
  return (
    <div class="shell">
      <header class="top">
        <div class="brand">
          <span class="logo" aria-hidden="true" />
          <span>Kith</span>
          <span class="tagline">peer-to-peer, no server in the middle</span>
        </div>
        <div class="status" data-testid="status">
          {phase.name === 'loading' && <span class="pill wait">Starting…</span>}
          {phase.name === 'failed' && <span class="pill bad">Not running</span>}
          {phase.name === 'ready' && (
            <>
              <span class={`pill ${reachable ? 'good' : 'wait'}`} data-testid="reachability">
                {reachable ? 'Reachable' : 'Looking for a relay'}
              </span>
              <span class="pill neutral">{direct} direct</span>
            </>
          )}
        </div>
      </header>
      <nav class="side">
        {VIEWS.map((v) => (
          <button
            type="button"
            class={v.id === viewId ? 'nav active' : 'nav'}
            data-testid={`nav-${v.id}`}
            onClick={() => setViewId(v.id)}
          >
            <span class="nav-label">{v.label}</span>
            <span class="nav-hint">{v.hint}</span>
          </button>
        ))}
      </nav>
      <main class="content">
        {phase.name === 'loading' && (
          <div class="card center">
            <div class="spinner" aria-hidden="true" />
            <p>{phase.step}</p>
          </div>
        )}
        {phase.name === 'failed' && (
          <div class="card error" role="alert" data-testid="fatal-error">
            <h2>The peer could not start</h2>
            <p>{phase.error}</p>
            <button type="button" onClick={() => location.reload()}>
              Try again
            </button>
          </div>
        )}
        {node != null && link.pair != null && (
          <PairView node={node} {...link.pair} dismiss={() => setLink({})} />
        )}
        {node != null && link.invite != null && (
          <JoinView
            node={node}
            {...link.invite}
            joined={(id) => {
              setLink({})
              setOpenRoom(id)
              setViewId('rooms')
            }}
            dismiss={() => setLink({})}
          />
        )}
        {node != null && <VerificationPanel node={node} />}
        {node != null && view != null && viewId === 'network' && <NetworkView view={view} />}
        {node != null && viewId === 'identity' && <IdentityView node={node} />}
        {node != null && viewId === 'contacts' && <ContactsView node={node} initialDevice={link.contact} />}
        {node != null && viewId === 'rooms' && (
          <RoomsView node={node} open={openRoom} setOpen={setOpenRoom} />
        )}
        {node != null && view != null && viewId === 'chat' && (
          <ChatView node={node} view={view} current={chatPeer} setCurrent={setChatPeer} />
        )}
      </main>
    </div>
  )
}
