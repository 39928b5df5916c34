/**
 * Time charts over uPlot (loaded by a classic script tag from /assets, i.e. from node_modules:
 * the page needs no internet). Series names are ours; no gateway string reaches a chart.
 */
import type uPlot from 'uplot';
import { el } from './dom.js';

declare global {
  interface Window {
    uPlot: typeof uPlot;
  }
}

export interface SeriesSpec {
  label: string;
  color: string;
  /** Which y scale: the left one, or a second one on the right. */
  scale?: 'y' | 'y2';
  format: (v: number) => string;
}

/** Tick steps for counts and seconds: whole numbers only (no "0.5 readings"). */
const WHOLE_STEPS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9,
];

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export class TimeChart {
  readonly root: HTMLElement;
  private plot: uPlot | undefined;
  private readonly body: HTMLElement;
  private readonly resize: ResizeObserver;

  /** `whole`: the values are counts or seconds, so ticks fall on whole numbers. */
  constructor(
    title: string,
    private readonly series: SeriesSpec[],
    private readonly whole = false,
  ) {
    this.body = el('div');
    this.root = el('div', { class: 'chart' }, el('div', { class: 'chart-title', text: title }), this.body);
    this.resize = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.resize.observe(this.root);
  }

  /** x: epoch ms; ys: one column per series. */
  setData(x: number[], ys: number[][]): void {
    const data = [x, ...ys] as uPlot.AlignedData;
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    if (!window.uPlot || !this.root.isConnected) return;
    const axis = {
      stroke: cssVar('--muted'),
      grid: { stroke: cssVar('--line'), width: 1 },
      ticks: { stroke: cssVar('--line'), width: 1 },
    };
    const right = this.series.find((s) => s.scale === 'y2');
    const steps = this.whole ? { incrs: WHOLE_STEPS } : {};
    this.plot = new window.uPlot(
      {
        ...this.size(),
        ms: 1,
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
          y2: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
        },
        series: [
          {},
          ...this.series.map((s) => ({
            label: s.label,
            stroke: s.color,
            width: 1.6,
            scale: s.scale ?? 'y',
            fill: `${s.color}18`,
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : s.format(v)),
          })),
        ],
        axes: [
          axis,
          {
            ...axis,
            scale: 'y',
            size: 56,
            ...steps,
            values: (_u, ticks) => ticks.map((t) => this.series[0]!.format(t)),
          },
          ...(right
            ? [
                {
                  ...axis,
                  ...steps,
                  scale: 'y2',
                  side: 1 as const,
                  size: 56,
                  grid: { show: false },
                  values: (_u: uPlot, ticks: number[]) => ticks.map((t) => right.format(t)),
                },
              ]
            : []),
        ],
      },
      data,
      this.body,
    );
  }

  destroy(): void {
    this.resize.disconnect();
    this.plot?.destroy();
    this.plot = undefined;
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(240, this.root.clientWidth - 14), height: 170 };
  }
}
