// Markdown tables, so that a run's output can be pasted into the README as is.

/** A Markdown table; columns whose `align` is "right" are right-aligned. */
export function markdownTable(columns, rows) {
  const widths = columns.map((column, i) => Math.max(column.title.length, 3, ...rows.map((row) => row[i].length)));
  const pad = (text, i) => (columns[i].align === "right" ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (cells) => `| ${cells.map(pad).join(" | ")} |`;
  const rule = `|${widths.map((width, i) => (columns[i].align === "right" ? `${"-".repeat(width + 1)}:` : "-".repeat(width + 2))).join("|")}|`;
  return [line(columns.map((column) => column.title)), rule, ...rows.map(line)].join("\n");
}

const grouped = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Operations per second: whole numbers with separators, a decimal below 100. */
export const formatRate = (rate) => (rate < 100 ? rate.toFixed(1) : grouped.format(rate));

/** A ratio with two significant digits: "0.41×", "1.3×", "12×". */
export const formatRatio = (ratio) => `${ratio >= 10 ? ratio.toFixed(0) : ratio.toPrecision(2)}×`;

export const formatMiB = (bytes) => (bytes / 1024 / 1024).toFixed(1);

export const formatKiB = (bytes) => (bytes / 1024).toFixed(1);

/** "rate (ratio)" for a row against its baseline's rate; the baseline itself shows only its rate. */
export function rateWithRatio(rate, baselineRate, isBaseline) {
  if (rate === undefined) return "failed";
  if (isBaseline || baselineRate === undefined) return formatRate(rate);
  return `${formatRate(rate)} (${formatRatio(rate / baselineRate)})`;
}
