// Summaries of repeated measurements.

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Per-key medians of a list of { key: number } records. */
export function medianRecord(records) {
  const keys = Object.keys(records[0] ?? {});
  return Object.fromEntries(keys.map((key) => [key, median(records.map((record) => record[key]))]));
}
