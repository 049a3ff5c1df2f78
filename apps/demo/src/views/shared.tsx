import { memo } from 'preact/compat'
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks'
import * as Y from 'yjs'
import type { DemoNode } from '../node.ts'
import type { SyncStatus } from '@kith/sync'
import type { Room } from '@kith/trust'
import type { Awareness } from 'y-protocols/awareness'

type Tab = 'notes' | 'list' | 'canvas'

const COLOURS = ['#3d5a80', '#e07a5f', '#2a9d6f', '#c9a227', '#8e5ea2', '#1f2430']

/** A stable colour per device, so a person's cursor and strokes look the same on every screen. */
export function colourOf(id: string): string {
  let h = 0
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) >>> 0
  return COLOURS[h % COLOURS.length] as string
}

/**
 * Calls `fn` at most once a frame however often it is asked (a catch-up or a burst of peers' edits is drawn once),
 * and within `ms` when no frame comes (a hidden tab gets no animation frames).
 */
function coalesced(fn: () => void, ms = 250): { ask: () => void; cancel: () => void } {
  let frame: number | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const cancel = (): void => {
    if (frame != null) cancelAnimationFrame(frame)
    clearTimeout(timer)
    frame = undefined
    timer = undefined
  }
  const run = (): void => {
    cancel()
    fn()
  }
  return {
    ask: () => {
      if (timer != null) return
      frame = requestAnimationFrame(run)
      timer = setTimeout(run, ms)
    },
    cancel
  }
}

/** Re-renders when `doc` changes (from here or from a peer), at most once a frame. */
function useDoc(doc: Y.Doc | undefined): number {
  const [version, setVersion] = useState(0)
  useEffect(() => {
    if (doc == null) return
    const bump = coalesced(() => setVersion((v) => v + 1))
    doc.on('update', bump.ask)
    return () => {
      doc.off('update', bump.ask)
      bump.cancel()
    }
  }, [doc])
  return version
}

function useAwareness(awareness: Awareness): Map<number, Record<string, unknown>> {
  const [, setVersion] = useState(0)
  useEffect(() => {
    const bump = coalesced(() => setVersion((v) => v + 1))
    awareness.on('change', bump.ask)
    return () => {
      awareness.off('change', bump.ask)
      bump.cancel()
    }
  }, [awareness])
  return awareness.getStates()
}

/** The room's shared documents: notes, a list and a canvas, with the sync status under them. */
export function SharedSpace({ node, room }: { node: DemoNode; room: Room }) {
  const [tab, setTab] = useState<Tab>('notes')
  // the document with the tab it belongs to: right after a tab click, the last tab's document must not render
  const [opened, setOpened] = useState<{ name: Tab; doc: Y.Doc }>()
  const doc = opened?.name === tab ? opened.doc : undefined
  const [error, setError] = useState<string>()
  const awareness = node.sync.awareness(room)
  useEffect(() => {
    let live = true
    node.sync
      .doc(room, tab)
      .then((d) => live && setOpened({ name: tab, doc: d }))
      .catch((err: unknown) => setError((err as Error).message))
    return () => {
      live = false
    }
  }, [room.id, tab])
  useEffect(() => {
    const me = node.identity.deviceId.toString()
    awareness.setLocalStateField('user', { name: room.me?.name ?? 'me', colour: colourOf(me), device: me })
  }, [awareness, room.id])
  return (
    <div class="stack shared" data-testid="shared">
      <h3>Shared space</h3>
      <p class="muted">
        Yjs documents every member edits, sealed under the room's key and synced directly between members.
        They stay on this browser, work offline and merge when you are back.
      </p>
      <div class="tabs" role="tablist">
        {(['notes', 'list', 'canvas'] as const).map((t) => (
          <button
            type="button"
            role="tab"
            aria-selected={tab === t}
            class={tab === t ? 'tab active' : 'tab'}
            data-testid={`tab-${t}`}
            onClick={() => setTab(t)}
          >
            {t === 'notes' ? 'Notes' : t === 'list' ? 'Shopping list' : 'Canvas'}
          </button>
        ))}
      </div>
      {error != null && <p class="field-error">{error}</p>}
      {doc == null && error == null && <p class="muted">Opening…</p>}
      {doc != null && tab === 'notes' && <NotesEditor doc={doc} awareness={awareness} />}
      {doc != null && tab === 'list' && <ShoppingList doc={doc} />}
      {doc != null && tab === 'canvas' && <Canvas doc={doc} awareness={awareness} />}
      <StatusBar node={node} room={room} />
    </div>
  )
}

const ago = (at?: number): string => {
  if (at == null) return 'never'
  const s = Math.round((Date.now() - at) / 1000)
  return s < 2 ? 'just now' : s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`
}

function StatusBar({ node, room }: { node: DemoNode; room: Room }) {
  const status: SyncStatus = node.sync.status(room)
  const label = {
    online: 'online',
    connecting: 'connecting to members…',
    alone: 'no other member device yet',
    asleep: 'asleep (battery mode)'
  }[status.state]
  const rejected = node.syncRejected.get(room.id)
  return (
    <div class="status-bar" data-testid="sync-status" data-state={status.state}>
      <span
        class={`pill ${status.state === 'online' ? 'good' : status.state === 'asleep' ? 'neutral' : 'wait'}`}
      >
        {label}
      </span>
      <span data-testid="sync-peers">
        {status.peers.length} peer{status.peers.length === 1 ? '' : 's'} linked
      </span>
      <span>last change from a peer: {ago(status.lastSync)}</span>
      <span data-testid="sync-pending" data-pending={status.unconfirmed}>
        {status.unconfirmed === 0
          ? 'all changes confirmed'
          : `${status.unconfirmed} changes not yet confirmed`}
      </span>
      {status.catchingUp.map((c) => (
        <span data-testid="sync-progress">
          catching up “{c.doc}”: <progress max={c.total} value={c.received} /> {(c.received / 1e6).toFixed(1)}{' '}
          of {(c.total / 1e6).toFixed(1)} MB
        </span>
      ))}
      {rejected != null && (
        <span class="field-error" title={rejected.at.toString()}>
          {rejected.text}
        </span>
      )}
      {status.state === 'asleep' ? (
        <button type="button" data-testid="sync-wake" onClick={() => node.sync.wake()}>
          Wake
        </button>
      ) : (
        <button type="button" data-testid="sync-sleep" onClick={() => node.sync.sleep()}>
          Sleep now
        </button>
      )}
    </div>
  )
}

/** The smallest edit that turns `before` into `after`: one deletion and one insertion at a common point. */
export function diff(before: string, after: string): { at: number; remove: number; insert: string } {
  let start = 0
  while (start < before.length && start < after.length && before[start] === after[start]) start++
  let end = 0
  while (
    end < before.length - start &&
    end < after.length - start &&
    before[before.length - 1 - end] === after[after.length - 1 - end]
  )
    end++
  return { at: start, remove: before.length - start - end, insert: after.slice(start, after.length - end) }
}

interface Caret {
  client: number
  name: string
  colour: string
  index: number
}

/**
 * A textarea bound to a Y.Text, with everyone else's caret drawn in a mirror behind it. The mirror holds the text
 * only up to the last remote caret (what follows moves no caret), so a megabyte of notes is not laid out twice; it
 * follows the textarea's scrolling by a transform.
 */
const NotesEditor = memo(function NotesEditor({ doc, awareness }: { doc: Y.Doc; awareness: Awareness }) {
  const text = useMemo(() => doc.getText('body'), [doc])
  const area = useRef<HTMLTextAreaElement>(null)
  const mirror = useRef<HTMLDivElement>(null)
  const version = useDoc(doc)
  const states = useAwareness(awareness)
  const value = useMemo(() => text.toJSON(), [text, version])

  // keep this browser's caret where it was when a peer's edit arrives
  useEffect(() => {
    const observer = (event: Y.YTextEvent, tx: Y.Transaction): void => {
      const el = area.current
      if (el == null || tx.local) return
      let start = el.selectionStart
      let end = el.selectionEnd
      let at = 0
      for (const op of event.delta) {
        if (op.retain != null) at += op.retain
        else if (op.insert != null) {
          const n = (op.insert as string).length
          if (at <= start) start += n
          if (at <= end) end += n
          at += n
        } else if (op.delete != null) {
          if (at < start) start -= Math.min(op.delete, start - at)
          if (at < end) end -= Math.min(op.delete, end - at)
        }
      }
      el.value = text.toJSON()
      el.setSelectionRange(start, end)
    }
    text.observe(observer)
    return () => text.unobserve(observer)
  }, [text])

  const follow = (): void => {
    if (mirror.current != null && area.current != null)
      mirror.current.style.transform = `translateY(${-area.current.scrollTop}px)`
  }
  // a new value can move the textarea's scroll position
  useLayoutEffect(follow)

  const publishCaret = (): void => {
    const el = area.current
    if (el == null) return
    awareness.setLocalStateField('notes', {
      caret: Y.relativePositionToJSON(
        Y.createRelativePositionFromTypeIndex(text, el.selectionStart)
      ) as unknown
    })
  }

  const onInput = (): void => {
    const el = area.current
    if (el == null) return
    const change = diff(text.toJSON(), el.value)
    doc.transact(() => {
      if (change.remove > 0) text.delete(change.at, change.remove)
      if (change.insert !== '') text.insert(change.at, change.insert)
    })
    publishCaret()
  }

  const carets: Caret[] = []
  for (const [client, state] of states) {
    if (client === awareness.clientID) continue
    const user = state.user as { name?: string; colour?: string } | undefined
    const caret = (state.notes as { caret?: unknown } | undefined)?.caret
    if (user == null || caret == null) continue
    const abs = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(caret), doc)
    if (abs == null || abs.type !== text) continue
    carets.push({ client, name: user.name ?? '?', colour: user.colour ?? '#888', index: abs.index })
  }
  carets.sort((a, b) => a.index - b.index)
  const pieces: Array<string | Caret> = []
  let from = 0
  for (const c of carets) {
    pieces.push(value.slice(from, c.index), c)
    from = c.index
  }

  return (
    <div class="editor">
      <div class="editor-mirror" aria-hidden="true">
        <div ref={mirror} data-testid="notes-mirror">
          {pieces.map((p) =>
            typeof p === 'string' ? (
              p
            ) : (
              <span class="remote-caret" style={{ borderColor: p.colour }} data-testid="remote-caret">
                <span class="remote-caret-name" style={{ background: p.colour }}>
                  {p.name}
                </span>
              </span>
            )
          )}
        </div>
      </div>
      <textarea
        ref={area}
        data-testid="notes-editor"
        value={value}
        placeholder="Write together…"
        spellcheck={false}
        onInput={onInput}
        onSelect={publishCaret}
        onKeyUp={publishCaret}
        onClick={publishCaret}
        onScroll={follow}
      />
    </div>
  )
})

interface Item {
  text: string
  done: boolean
  order: number
}

/** A shopping list: items in a Y.Map by id, ordered by a number moved between neighbours. */
const ShoppingList = memo(function ShoppingList({ doc }: { doc: Y.Doc }) {
  const items = useMemo(() => doc.getMap<Y.Map<unknown>>('items'), [doc])
  const [draft, setDraft] = useState('')
  useDoc(doc)
  const list = [...items.entries()]
    .map(([id, m]) => ({ id, ...(m.toJSON() as Item) }))
    .filter((i) => typeof i.text === 'string')
    .sort((a, b) => a.order - b.order || (a.id < b.id ? -1 : 1))
  const add = (e: Event): void => {
    e.preventDefault()
    const text = draft.trim().slice(0, 200)
    if (text === '') return
    const item = new Y.Map<unknown>()
    item.set('text', text)
    item.set('done', false)
    item.set('order', (list.at(-1)?.order ?? 0) + 1)
    items.set(crypto.randomUUID(), item)
    setDraft('')
  }
  const move = (index: number, by: -1 | 1): void => {
    const target = index + by
    const other = list[target]
    if (other == null) return
    // place it just beyond its neighbour: between the neighbour and the one after it
    const beyond = list[target + by]
    const order = beyond == null ? other.order + by : (other.order + beyond.order) / 2
    items.get((list[index] as { id: string }).id)?.set('order', order)
  }
  return (
    <div class="stack">
      <form class="row" onSubmit={add}>
        <input
          data-testid="list-input"
          value={draft}
          maxLength={200}
          placeholder="Add an item"
          onInput={(e) => setDraft((e.target as HTMLInputElement).value)}
        />
        <button type="submit" data-testid="list-add">
          Add
        </button>
      </form>
      {list.length === 0 && <p class="muted">Nothing on the list yet.</p>}
      <ul class="shopping" data-testid="list">
        {list.map((item, i) => (
          <li data-testid="list-item" data-text={item.text} data-done={String(item.done)}>
            <label class="check">
              <input
                type="checkbox"
                data-testid="list-check"
                checked={item.done}
                onChange={(e) => items.get(item.id)?.set('done', (e.target as HTMLInputElement).checked)}
              />
              <span class={item.done ? 'done' : ''}>{item.text}</span>
            </label>
            <span class="row-actions">
              <button
                type="button"
                aria-label="Move up"
                data-testid="list-up"
                disabled={i === 0}
                onClick={() => move(i, -1)}
              >
                ↑
              </button>
              <button
                type="button"
                aria-label="Move down"
                data-testid="list-down"
                disabled={i === list.length - 1}
                onClick={() => move(i, 1)}
              >
                ↓
              </button>
              <button
                type="button"
                aria-label="Delete"
                data-testid="list-delete"
                onClick={() => items.delete(item.id)}
              >
                ✕
              </button>
            </span>
          </li>
        ))}
      </ul>
    </div>
  )
})

const CANVAS_W = 640
const CANVAS_H = 400

/** Freehand strokes: each a Y.Map with a colour and a Y.Array of points that grows while the pen moves. */
const Canvas = memo(function Canvas({ doc, awareness }: { doc: Y.Doc; awareness: Awareness }) {
  const strokes = useMemo(() => doc.getArray<Y.Map<unknown>>('strokes'), [doc])
  const canvas = useRef<HTMLCanvasElement>(null)
  const drawing = useRef<Y.Array<number> | undefined>(undefined)
  const me = awareness.getLocalState()?.user as { colour?: string } | undefined
  const [colour, setColour] = useState(me?.colour ?? (COLOURS[0] as string))
  const version = useDoc(doc)

  useEffect(() => {
    const ctx = canvas.current?.getContext('2d')
    if (ctx == null) return
    ctx.clearRect(0, 0, CANVAS_W, CANVAS_H)
    ctx.lineCap = 'round'
    ctx.lineJoin = 'round'
    for (const stroke of strokes) {
      const points = stroke.get('points') as Y.Array<number> | undefined
      if (points == null || points.length < 2) continue
      const p = points.toArray()
      const c = stroke.get('colour')
      ctx.strokeStyle = typeof c === 'string' ? c : '#000'
      ctx.lineWidth = Number(stroke.get('width') ?? 3)
      ctx.beginPath()
      ctx.moveTo(p[0] as number, p[1] as number)
      for (let i = 2; i + 1 < p.length; i += 2) ctx.lineTo(p[i] as number, p[i + 1] as number)
      if (p.length === 2) ctx.lineTo((p[0] as number) + 0.1, p[1] as number)
      ctx.stroke()
    }
  }, [version, strokes])

  const point = (e: PointerEvent): [number, number] => {
    const rect = (e.target as HTMLCanvasElement).getBoundingClientRect()
    return [
      Math.round(((e.clientX - rect.left) / rect.width) * CANVAS_W),
      Math.round(((e.clientY - rect.top) / rect.height) * CANVAS_H)
    ]
  }
  const down = (e: PointerEvent): void => {
    ;(e.target as HTMLCanvasElement).setPointerCapture(e.pointerId)
    const stroke = new Y.Map<unknown>()
    const points = new Y.Array<number>()
    points.push(point(e))
    stroke.set('colour', colour)
    stroke.set('width', 3)
    stroke.set('points', points)
    strokes.push([stroke])
    drawing.current = points
  }
  const move = (e: PointerEvent): void => {
    drawing.current?.push(point(e))
  }
  const up = (): void => {
    drawing.current = undefined
  }
  return (
    <div class="stack">
      <div class="row">
        {COLOURS.map((c) => (
          <button
            type="button"
            class={c === colour ? 'swatch active' : 'swatch'}
            style={{ background: c }}
            aria-label={`Colour ${c}`}
            onClick={() => setColour(c)}
          />
        ))}
        <button type="button" data-testid="canvas-clear" onClick={() => strokes.delete(0, strokes.length)}>
          Clear
        </button>
        <span class="muted" data-testid="canvas-strokes" data-count={strokes.length}>
          {strokes.length} stroke{strokes.length === 1 ? '' : 's'}
        </span>
      </div>
      <canvas
        ref={canvas}
        class="drawing"
        data-testid="canvas"
        width={CANVAS_W}
        height={CANVAS_H}
        onPointerDown={down}
        onPointerMove={move}
        onPointerUp={up}
        onPointerCancel={up}
      />
    </div>
  )
})
