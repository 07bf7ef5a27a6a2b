// The dashboard's charts, drawn as SVG: a line chart of the last minute (one
// point a second, several series, optional guide lines such as a budget or a
// queue's capacity) and a bar chart (the latency histogram). Each call
// redraws its chart whole: a few hundred elements a second at most.

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 480;
const HEIGHT = 170;
const PAD = { left: 52, right: 10, top: 10, bottom: 24 };
const PLOT_W = WIDTH - PAD.left - PAD.right;
const PLOT_H = HEIGHT - PAD.top - PAD.bottom;

function svg(name, attributes = {}, text) {
  const element = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** A round top for an axis holding values up to `max` (1, 2 or 5 times a power of ten). */
export function niceMax(max) {
  if (!(max > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  return [1, 2, 5, 10].map((step) => step * power).find((top) => top >= max);
}

/** The chart's frame: a fresh <svg> in `host` with its y axis from 0 to `top`. */
function frame(host, top, format, xLabels) {
  const root = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", class: "chart" });
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + PLOT_H * (1 - fraction);
    root.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: PAD.left - 6, y: y + 4, "text-anchor": "end", class: "axis" }, format(top * fraction)));
  }
  const [left, right] = xLabels;
  root.append(svg("text", { x: PAD.left, y: HEIGHT - 6, class: "axis" }, left));
  root.append(svg("text", { x: WIDTH - PAD.right, y: HEIGHT - 6, "text-anchor": "end", class: "axis" }, right));
  host.replaceChildren(root);
  return root;
}

/**
 * Draws series of up to `capacity` points (oldest first, null for a gap) into
 * `host`. `guides` are horizontal lines with a label (a capacity, a budget);
 * `max` fixes the top of the axis (e.g. 1 for ratios).
 */
export function drawLines(host, { series, capacity, format, max, guides = [] }) {
  const highest = Math.max(0, ...guides.map((guide) => guide.value), ...series.flatMap((line) => line.points.filter((p) => p !== null)));
  const top = max ?? niceMax(highest);
  const root = frame(host, top, format, [`${capacity} s ago`, "now"]);
  const x = (index, count) => PAD.left + PLOT_W * ((capacity - count + index) / Math.max(1, capacity - 1));
  const y = (value) => PAD.top + PLOT_H * (1 - Math.min(value, top) / top);
  for (const guide of guides) {
    root.append(svg("line", { x1: PAD.left, x2: WIDTH - PAD.right, y1: y(guide.value), y2: y(guide.value), class: "guide" }));
    root.append(svg("text", { x: WIDTH - PAD.right - 4, y: y(guide.value) - 4, "text-anchor": "end", class: "guide-label" }, guide.label));
  }
  for (const line of series) {
    let path = "";
    line.points.forEach((value, index) => {
      if (value === null) return;
      const gap = index === 0 || line.points[index - 1] === null;
      path += `${gap ? "M" : "L"}${x(index, line.points.length).toFixed(1)},${y(value).toFixed(1)}`;
    });
    root.append(svg("path", { d: path, fill: "none", stroke: line.color, "stroke-width": 2, "data-series": line.name }));
  }
}

/** Draws one bar per `{ label, value }` into `host`, every other label shown. */
export function drawBars(host, { bars, color, format }) {
  const top = niceMax(Math.max(0, ...bars.map((bar) => bar.value)));
  const root = frame(host, top, format, ["", ""]);
  const slot = PLOT_W / Math.max(1, bars.length);
  bars.forEach((bar, index) => {
    const height = (PLOT_H * bar.value) / top;
    const left = PAD.left + slot * index;
    const rect = svg("rect", { x: left + 1, y: PAD.top + PLOT_H - height, width: Math.max(1, slot - 2), height, fill: color });
    rect.append(svg("title", {}, `${bar.label}: ${format(bar.value)}`));
    root.append(rect);
    if (index % 2 === 0) {
      root.append(svg("text", { x: left + slot / 2, y: HEIGHT - 6, "text-anchor": "middle", class: "axis" }, bar.label));
    }
  });
}

/** A legend of coloured names (and each series' latest value) under a chart. */
export function drawLegend(host, series, format) {
  host.replaceChildren(
    ...series.map((line) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      item.style.setProperty("--swatch", line.color);
      const latest = line.points.at(-1);
      item.textContent = `${line.name} ${latest === null || latest === undefined ? "—" : format(latest)}`;
      return item;
    }),
  );
}
