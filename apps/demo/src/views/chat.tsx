import { peerIdFromString } from '@libp2p/peer-id'
import { useEffect, useMemo, useRef, useState } from 'preact/hooks'
import { MAX_CHAT_TEXT_LENGTH } from '../chat.ts'
import { short } from './network.tsx'
import type { ChatMessage } from '../chat.ts'
import type { DemoNode, NodeView } from '../node.ts'

function useMessages(node: DemoNode): ChatMessage[] {
  const [messages, setMessages] = useState<ChatMessage[]>([...node.chat.messages])
  useEffect(() => node.chat.subscribe(() => setMessages([...node.chat.messages])), [node])
  return messages
}

function checkPeerId(text: string, self: string): string | undefined {
  if (text === '') return undefined
  if (text === self) return 'That is this peer’s own id.'
  try {
    peerIdFromString(text)
    return undefined
  } catch {
    return 'That is not a peer id (they start with 12D3Koo…).'
  }
}

export interface ChatViewProps {
  node: DemoNode
  view: NodeView
  /** The open conversation; kept by the app so it survives switching views. */
  current: string | undefined
  setCurrent: (peer: string) => void
}

export function ChatView({ node, view, current, setCurrent }: ChatViewProps) {
  const messages = useMessages(node)
  const [draftPeer, setDraftPeer] = useState('')
  const [text, setText] = useState('')
  const peerError = checkPeerId(draftPeer.trim(), view.peerId)
  const listRef = useRef<HTMLOListElement>(null)

  const conversations = useMemo(() => {
    const peers = new Set<string>(messages.map((m) => m.peer))
    if (current != null) peers.add(current)
    return [...peers]
  }, [messages, current])
  const shown = messages.filter((m) => m.peer === current)
  const link = view.connections.find((c) => c.peer === current && c.kind === 'webrtc')

  useEffect(() => {
    listRef.current?.lastElementChild?.scrollIntoView({ block: 'end' })
  }, [shown.length])

  const open = (e: Event): void => {
    e.preventDefault()
    const id = draftPeer.trim()
    if (id === '' || peerError != null) return
    setCurrent(id)
    setDraftPeer('')
  }
  const send = (e: Event): void => {
    e.preventDefault()
    const body = text.trim()
    if (current == null || body === '') return
    setText('')
    void node.chat.send(current, body)
  }

  return (
    <div class="chat">
      <aside class="card conversations">
        <h2>Conversations</h2>
        <form onSubmit={open} class="stack tight">
          <label for="peer-input">Peer id</label>
          <input
            id="peer-input"
            data-testid="peer-input"
            placeholder="12D3Koo…"
            value={draftPeer}
            onInput={(e) => setDraftPeer((e.target as HTMLInputElement).value)}
            autocomplete="off"
            spellcheck={false}
          />
          {peerError != null && (
            <p class="field-error" role="alert">
              {peerError}
            </p>
          )}
          <button
            type="submit"
            data-testid="open-chat"
            disabled={draftPeer.trim() === '' || peerError != null}
          >
            Start chat
          </button>
        </form>
        <ul class="peers">
          {conversations.map((p) => (
            <li>
              <button
                type="button"
                class={p === current ? 'nav active' : 'nav'}
                data-testid="conversation"
                data-peer={p}
                onClick={() => setCurrent(p)}
              >
                <code>{short(p)}</code>
                <span class="nav-hint">
                  {view.connections.some((c) => c.peer === p && c.kind === 'webrtc')
                    ? 'connected directly'
                    : 'not connected'}
                </span>
              </button>
            </li>
          ))}
        </ul>
      </aside>
      <section class="card thread">
        {current == null ? (
          <div class="center muted">
            <p>Paste the peer id shown on another window’s Network page to start a conversation.</p>
            <p>
              Messages travel over a direct WebRTC connection; the relay only helps the two of you find each
              other.
            </p>
          </div>
        ) : (
          <>
            <header class="thread-head">
              <code title={current}>{short(current)}</code>
              <span class={`pill ${link != null ? 'good' : 'neutral'}`} data-testid="link-state">
                {link != null
                  ? `WebRTC direct${link.rttMs != null ? ` · ${link.rttMs} ms` : ''}`
                  : 'connects on first message'}
              </span>
            </header>
            <ol class="messages" ref={listRef} data-testid="messages">
              {shown.map((m) => (
                <li class={`message ${m.direction}`} data-testid="message" data-state={m.state}>
                  <span class="text">{m.text}</span>
                  <span class="meta">
                    {new Date(m.at).toLocaleTimeString()}
                    {m.direction === 'out' && m.state === 'sending' && ' · sending…'}
                    {m.direction === 'out' && m.state === 'delivered' && ' · delivered'}
                    {m.via != null && ` · ${m.via}`}
                  </span>
                  {m.state === 'failed' && (
                    <span class="field-error" role="alert">
                      Not delivered: {m.error}
                    </span>
                  )}
                </li>
              ))}
            </ol>
            <form class="compose" onSubmit={send}>
              <input
                data-testid="message-input"
                placeholder="Write a message"
                maxLength={MAX_CHAT_TEXT_LENGTH}
                value={text}
                onInput={(e) => setText((e.target as HTMLInputElement).value)}
              />
              <button type="submit" data-testid="send" disabled={text.trim() === ''}>
                Send
              </button>
            </form>
          </>
        )}
      </section>
    </div>
  )
}
