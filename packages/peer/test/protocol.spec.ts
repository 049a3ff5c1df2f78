import { describe, expect, it } from 'vitest'
import { InvalidParametersError, protocolId } from '../src/index.ts'

describe('protocolId', () => {
  it('should namespace a protocol under /kith/<appId>', () => {
    expect(protocolId('notes', 'sync', '1.2.3')).toBe('/kith/notes/sync/1.2.3')
  })

  it('should keep two apps apart', () => {
    expect(protocolId('a', 'chat', '1.0.0')).not.toBe(protocolId('b', 'chat', '1.0.0'))
  })

  it.each([
    ['', 'chat', '1.0.0'],
    ['Notes', 'chat', '1.0.0'],
    ['no/slash', 'chat', '1.0.0'],
    ['-dash-first', 'chat', '1.0.0'],
    ['a'.repeat(64), 'chat', '1.0.0'],
    ['notes', 'chat/evil', '1.0.0'],
    ['notes', 'chat', '1.0'],
    ['notes', 'chat', 'v1.0.0'],
    ['notes', 'chat', '1.0.0/extra']
  ])('should refuse appId %j, name %j, version %j with InvalidParametersError', (appId, name, version) => {
    expect(() => protocolId(appId, name, version)).toThrow(
      expect.objectContaining({ name: InvalidParametersError.name })
    )
  })
})
