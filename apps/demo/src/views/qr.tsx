import { encode } from 'uqr'

/** A QR code drawn as SVG squares (no HTML injection: every module is an element). */
export function QrCode({
  data,
  label,
  size = 180
}: {
  data: string | Uint8Array
  label: string
  size?: number
}) {
  const { data: modules } = encode(typeof data === 'string' ? data : Array.from(data), { border: 2 })
  const n = modules.length
  const cells: preact.JSX.Element[] = []
  modules.forEach((row, y) =>
    row.forEach((on, x) => {
      if (on) cells.push(<rect x={x} y={y} width="1" height="1" />)
    })
  )
  return (
    <svg
      class="qr"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${n} ${n}`}
      width={size}
      height={size}
      shape-rendering="crispEdges"
    >
      <rect width={n} height={n} fill="#fff" />
      <g fill="#111">{cells}</g>
    </svg>
  )
}
