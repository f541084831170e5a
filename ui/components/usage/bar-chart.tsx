import { type Bar, niceMax } from "@/lib/usage";

const WIDTH = 640;
const HEIGHT = 200;
const LEFT = 56;
const BOTTOM = 36;

/** A bar chart in plain SVG (no chart library): one bar per entry, a round axis with three
 * ticks, each bar's value in its title; the same numbers follow as a table for screen readers
 * and copying. */
export function BarChart({ title, bars, unit, horizontalLabels }: { title: string; bars: Bar[]; unit: string; horizontalLabels?: boolean }) {
  const max = niceMax(Math.max(0, ...bars.map((b) => b.value)));
  const plotWidth = WIDTH - LEFT - 8;
  const plotHeight = HEIGHT - BOTTOM - 8;
  const step = bars.length ? plotWidth / bars.length : plotWidth;
  const barWidth = Math.max(2, Math.min(48, step * 0.7));
  const every = Math.max(1, Math.ceil(bars.length / 12));
  return (
    <figure className="flex flex-col gap-2">
      <figcaption className="text-sm font-medium">{title}</figcaption>
      {bars.length === 0 ? (
        <p className="text-sm text-muted-foreground">No usage in this range.</p>
      ) : (
        <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} className="h-auto w-full max-w-3xl" role="img" aria-label={`${title}: ${bars.map((b) => `${b.label} ${b.text}`).join(", ")} ${unit}`}>
          {[0, 0.5, 1].map((tick) => {
            const y = 8 + plotHeight * (1 - tick);
            return (
              <g key={tick}>
                <line x1={LEFT} x2={WIDTH - 8} y1={y} y2={y} className="stroke-border" strokeWidth={1} />
                <text x={LEFT - 6} y={y + 4} textAnchor="end" className="fill-muted-foreground text-[11px]">
                  {(max * tick).toLocaleString()}
                </text>
              </g>
            );
          })}
          {bars.map((bar, index) => {
            const height = (bar.value / max) * plotHeight;
            const x = LEFT + index * step + (step - barWidth) / 2;
            return (
              <g key={bar.key} data-bar={bar.key}>
                <rect x={x} y={8 + plotHeight - height} width={barWidth} height={Math.max(height, bar.value > 0 ? 1 : 0)} className="fill-primary">
                  <title>{`${bar.label}: ${bar.text} ${unit}`}</title>
                </rect>
                {index % every === 0 ? (
                  <text
                    x={x + barWidth / 2}
                    y={HEIGHT - BOTTOM + 14}
                    textAnchor="middle"
                    className="fill-muted-foreground text-[11px]"
                  >
                    {horizontalLabels || bar.label.length <= 10 ? bar.label : `${bar.label.slice(0, 9)}…`}
                  </text>
                ) : null}
              </g>
            );
          })}
        </svg>
      )}
      {bars.length ? (
        <details className="text-sm">
          <summary className="cursor-pointer text-muted-foreground">As a table</summary>
          <table className="mt-2 text-sm">
            <caption className="sr-only">{title}</caption>
            <tbody>
              {bars.map((bar) => (
                <tr key={bar.key}>
                  <th scope="row" className="pr-4 text-left font-normal">
                    {bar.label}
                  </th>
                  <td className="text-right font-mono">
                    {bar.text} {unit}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </figure>
  );
}
