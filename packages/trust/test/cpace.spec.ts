// CPace over ristretto255 against draft-irtf-cfrg-cpace's test vectors ("Test vector for CPace using group
// ristretto255 and hash SHA-512"), then as two parties would run it.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  calculateGenerator,
  CPACE_DSI,
  CPaceError,
  CPaceSession,
  deriveIsk,
  generatorString,
  sampleScalar,
  scalarMult,
  scalarMultVfy,
  transcriptIr,
  transcriptOc
} from '../src/index.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

const V = {
  prs: text('Password'),
  ci: hex('6f630b425f726573706f6e6465720b415f696e69746961746f72'),
  sid: hex('7e4b4791d6a8ef019b936c79fb7f2c57'),
  generatorString: `11435061636552697374726574746f3235350850617373776f726464${'00'.repeat(100)}1a6f630b425f726573706f6e6465720b415f696e69746961746f72107e4b4791d6a8ef019b936c79fb7f2c57`,
  g: 'a6fc82c3b8968fbb2e06fee81ca858586dea50d248f0c7ca6a18b0902a30b36b',
  ya: 'da3d23700a9e5699258aef94dc060dfda5ebb61f02a5ea77fad53f4ff0976d08',
  adA: text('ADa'),
  Ya: 'd40fb265a7abeaee7939d91a585fe59f7053f982c296ec413c624c669308f87a',
  yb: 'd2316b454718c35362d83d69df6320f38578ed5984651435e2949762d900b80d',
  adB: text('ADb'),
  Yb: '08bcf6e9777a9c313a3db6daa510f2d398403319c2341bd506a92e672eb7e307',
  K: 'e22b1ef7788f661478f3cddd4c600774fc0f41e6b711569190ff88fa0e607e09',
  transcriptIr:
    '20d40fb265a7abeaee7939d91a585fe59f7053f982c296ec413c624c669308f87a034144612008bcf6e9777a9c313a3db6daa510f2d398403319c2341bd506a92e672eb7e30703414462',
  iskIr:
    '4c5469a16b2364c4b944ebc1a79e51d1674ad47db26e8718154f59faebfaa52d8346f30aa58377117eb20d527f2cbc5c76381f7fd372e89df8239f87f2e02ed1',
  iskOc:
    '980dcc5a1c52ceea031e75f38ed266586616488c5c5780285fcbcf79087c7bcdbd993502eee606b718ba31e840a000a7b7befe15ea427c5cfe88344fa1237f35',
  mult: {
    s: '7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05',
    X: '2c3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c',
    sX: '7c13645fe790a468f62c39beb7388e541d8405d1ade69d1778c5fe3e7f6b600e',
    invalid: '2b3c6b8c4f3800e7aef6864025b4ed79bd599117e427c41bd47d93d654b4a51c'
  }
}

describe('CPace ristretto255 / SHA-512: the draft test vectors', () => {
  it('generator_string and calculate_generator', () => {
    expect(toHex(generatorString(CPACE_DSI, V.prs, V.ci, V.sid))).toBe(V.generatorString)
    expect(toHex(calculateGenerator(V.prs, V.ci, V.sid))).toBe(V.g)
  })

  it('messages from A and B', () => {
    expect(toHex(scalarMult(hex(V.ya), hex(V.g)))).toBe(V.Ya)
    expect(toHex(scalarMult(hex(V.yb), hex(V.g)))).toBe(V.Yb)
  })

  it('secret point K, the same on both sides', () => {
    expect(toHex(scalarMultVfy(hex(V.ya), hex(V.Yb)))).toBe(V.K)
    expect(toHex(scalarMultVfy(hex(V.yb), hex(V.Ya)))).toBe(V.K)
  })

  it('ISK for initiator/responder and for parallel execution', () => {
    const ir = transcriptIr(hex(V.Ya), V.adA, hex(V.Yb), V.adB)
    expect(toHex(ir)).toBe(V.transcriptIr)
    expect(toHex(deriveIsk(V.sid, hex(V.K), ir))).toBe(V.iskIr)
    const oc = transcriptOc(hex(V.Ya), V.adA, hex(V.Yb), V.adB)
    expect(toHex(deriveIsk(V.sid, hex(V.K), oc))).toBe(V.iskOc)
  })

  it('scalar_mult_vfy: a valid input, and the neutral element for an invalid encoding and for the identity', () => {
    expect(toHex(scalarMultVfy(hex(V.mult.s), hex(V.mult.X)))).toBe(V.mult.sX)
    expect(toHex(scalarMultVfy(hex(V.mult.s), hex(V.mult.invalid)))).toBe('00'.repeat(32))
    expect(toHex(scalarMultVfy(hex(V.mult.s), new Uint8Array(32)))).toBe('00'.repeat(32))
  })

  it('a whole run with the vector scalars gives the vector ISK on both sides', () => {
    const init = { prs: V.prs, ci: V.ci, sid: V.sid }
    const a = new CPaceSession({ ...init, ad: V.adA, role: 'initiator' }, hex(V.ya))
    const b = new CPaceSession({ ...init, ad: V.adB, role: 'responder' }, hex(V.yb))
    expect(toHex(a.share)).toBe(V.Ya)
    expect(toHex(a.finish(b.share, V.adB))).toBe(V.iskIr)
    expect(toHex(b.finish(a.share, V.adA))).toBe(V.iskIr)
  })
})

describe('CPace between two parties', () => {
  const run = (pinA: string, pinB: string): [Uint8Array, Uint8Array] => {
    const sid = sampleScalar().slice(0, 16)
    const a = new CPaceSession({ prs: text(pinA), ci: text('ab'), sid, ad: text('A'), role: 'initiator' })
    const b = new CPaceSession({ prs: text(pinB), ci: text('ab'), sid, ad: text('B'), role: 'responder' })
    return [a.finish(b.share, text('B')), b.finish(a.share, text('A'))]
  }

  it('should agree on a key with the same PIN and disagree with another (property)', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^\d{4,8}$/), fc.stringMatching(/^\d{4,8}$/), (pin, other) => {
        const [ka, kb] = run(pin, pin)
        expect(toHex(ka)).toBe(toHex(kb))
        if (other !== pin) {
          const [xa, xb] = run(pin, other)
          expect(toHex(xa)).not.toBe(toHex(xb))
        }
      }),
      { numRuns: 20 }
    )
  })

  it('should refuse an identity share, an invalid encoding, a wrong length, and a second finish', () => {
    const make = (): CPaceSession =>
      new CPaceSession({
        prs: text('1234'),
        ci: text('ab'),
        sid: text('sid'),
        ad: text('A'),
        role: 'initiator'
      })
    expect(() => make().finish(new Uint8Array(32), text('B'))).toThrow(CPaceError)
    expect(() => make().finish(hex(V.mult.invalid), text('B'))).toThrow(CPaceError)
    expect(() => make().finish(new Uint8Array(31), text('B'))).toThrow(CPaceError)
    const once = make()
    const peer = new CPaceSession({
      prs: text('1234'),
      ci: text('ab'),
      sid: text('sid'),
      ad: text('B'),
      role: 'responder'
    })
    once.finish(peer.share, text('B'))
    expect(() => once.finish(peer.share, text('B'))).toThrow(/one key/)
  })

  it('should bind the key to the channel: another CI gives another key', () => {
    const sid = text('sid')
    const a = new CPaceSession({
      prs: text('1234'),
      ci: text('alice|bob'),
      sid,
      ad: text('A'),
      role: 'initiator'
    })
    const b = new CPaceSession({
      prs: text('1234'),
      ci: text('mallory|bob'),
      sid,
      ad: text('B'),
      role: 'responder'
    })
    expect(toHex(a.finish(b.share, text('B')))).not.toBe(toHex(b.finish(a.share, text('A'))))
  })
})
