import { describe, expect, it } from 'vitest'
import { ChatError, MAX_CHAT_TEXT_LENGTH, parseWire } from '../src/chat.ts'

const encode = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))

describe('parseWire', () => {
  it('should read a well-formed message', () => {
    expect(parseWire(encode({ id: 'a1', text: 'hello', at: 1 }))).toEqual({ id: 'a1', text: 'hello', at: 1 })
  })

  it.each([
    ['invalid UTF-8', new Uint8Array([0xff, 0xfe, 0xfd])],
    ['not JSON', new TextEncoder().encode('{"id":')],
    ['null', encode(null)],
    ['a missing id', encode({ text: 'x', at: 1 })],
    ['an empty text', encode({ id: 'a', text: '', at: 1 })],
    ['a text too long', encode({ id: 'a', text: 'x'.repeat(MAX_CHAT_TEXT_LENGTH + 1), at: 1 })],
    ['an id too long', encode({ id: 'x'.repeat(65), text: 'x', at: 1 })],
    ['a time that is not a number', encode({ id: 'a', text: 'x', at: 'now' })]
  ])('should refuse %s with a ChatError', (_, bytes) => {
    expect(() => parseWire(bytes)).toThrow(expect.objectContaining({ name: ChatError.name }))
  })
})
