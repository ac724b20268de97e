// Formatting helpers: UTC timestamps with relative time, numbers, bytes, durations.

/** A Date from an ISO string, epoch milliseconds or epoch seconds; null when unknown. */
export function toDate(value) {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  if (typeof value === 'number') return new Date(value > 1e11 ? value : value * 1000);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');

/** "2026-11-25 19:40:12 UTC" */
export function fmtUtc(value) {
  const d = toDate(value);
  if (!d) return '—';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

/** "45s", "3m", "2h 05m", "3d 4h" */
export function fmtSpan(seconds) {
  let s = Math.abs(Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${pad(m % 60)}m`;
  s = Math.floor(h / 24);
  return `${s}d ${h % 24}h`;
}

/** "3m ago", "in 2h 05m", "just now" */
export function fmtRelative(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '';
  const delta = (now - d.getTime()) / 1000;
  if (Math.abs(delta) < 3) return 'just now';
  return delta > 0 ? `${fmtSpan(delta)} ago` : `in ${fmtSpan(delta)}`;
}

/** "2026-11-25 19:40:12 UTC · 3m ago" */
export function fmtWhen(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '—';
  return `${fmtUtc(d)} · ${fmtRelative(d, now)}`;
}

export function fmtInt(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  return Number(n).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v >= 100 || i === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}

/** Milliseconds as "850ms", "42s", "7.5m", "2h 05m". */
export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  const v = Number(ms);
  if (v < 1000) return `${Math.round(v)}ms`;
  const s = v / 1000;
  if (s < 120) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) return `${(s / 60).toFixed(1)}m`;
  return fmtSpan(s);
}

/** A finding's value/threshold with its unit, like the CLI's _fmt_value. */
export function fmtValue(value, unit) {
  if (value === null || value === undefined) return '—';
  switch (unit) {
    case 'ms': return fmtMs(value);
    case 'percent': return `${Number(value).toFixed(1)}%`;
    case 'ratio': return `${(Number(value) * 100).toFixed(2)}%`;
    case 'bytes': return fmtBytes(value);
    default: return Number.isInteger(Number(value)) ? fmtInt(value) : Number(value).toFixed(2);
  }
}
