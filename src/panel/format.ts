/**
 * Small, pure formatting helpers shared by the panel's components.
 */

/** 1234567 → "1.2M", 1234 → "1.2k". */
export function compactNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !isFinite(value)) {
    return '–';
  }
  const abs = Math.abs(value);
  if (abs >= 1e9) {
    return `${(value / 1e9).toFixed(1).replace(/\.0$/, '')}B`;
  }
  if (abs >= 1e6) {
    return `${(value / 1e6).toFixed(1).replace(/\.0$/, '')}M`;
  }
  if (abs >= 1e3) {
    return `${(value / 1e3).toFixed(1).replace(/\.0$/, '')}k`;
  }
  return String(value);
}

/** Seconds → "0.6s" (under ten: tenths, so a short run is not "0s"), "42s", "3m 05s", "1h 02m". */
export function formatDuration(seconds: number): string {
  if (isFinite(seconds) && seconds < 10) {
    return `${(Math.floor(Math.max(0, seconds) * 10) / 10).toFixed(1)}s`;
  }
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) {
    return `${s}s`;
  }
  const m = Math.floor(s / 60);
  if (m < 60) {
    return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  }
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** US dollars with enough precision for small LLM bills. */
export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !isFinite(usd)) {
    return '–';
  }
  if (usd === 0) {
    return '$0';
  }
  return usd < 0.01 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function shortCommit(commit: string | null | undefined): string {
  return commit ? commit.slice(0, 7) : '';
}

/** Parses an ISO date or epoch seconds into a Date (or null). */
export function toDate(value: string | number | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') {
    return null;
  }
  const date =
    typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return isNaN(date.getTime()) ? null : date;
}

/**
 * Dependencies come from several manifest formats; flatten whatever shape the
 * server sends (strings, `{name, spec}` objects, or a mapping) into lines.
 */
export function describeDependencies(deps: unknown): string[] {
  if (!deps) {
    return [];
  }
  if (typeof deps === 'string') {
    return [deps];
  }
  if (Array.isArray(deps)) {
    return deps.flatMap(item => {
      if (typeof item === 'string') {
        return [item];
      }
      if (item && typeof item === 'object') {
        const obj = item as Record<string, unknown>;
        const name = obj.name ?? obj.package ?? obj.requirement;
        if (typeof name === 'string') {
          const spec = obj.spec ?? obj.specifier ?? obj.version;
          return [typeof spec === 'string' && spec ? `${name} ${spec}` : name];
        }
        return [JSON.stringify(item)];
      }
      return [];
    });
  }
  if (typeof deps === 'object') {
    const obj = deps as Record<string, unknown>;
    // The ingester's shape: {python, packages: [{name, spec, source}], files}.
    if (Array.isArray(obj.packages)) {
      const lines = describeDependencies(obj.packages);
      return typeof obj.python === 'string' && obj.python
        ? [`python ${obj.python}`, ...lines]
        : lines;
    }
    return Object.entries(deps as Record<string, unknown>).flatMap(
      ([key, value]) => {
        if (value === null || value === undefined || value === false) {
          return [];
        }
        if (Array.isArray(value) || typeof value === 'object') {
          return describeDependencies(value);
        }
        return [
          value === true || value === '' ? key : `${key} ${String(value)}`
        ];
      }
    );
  }
  return [String(deps)];
}

/** Warnings may be strings or `{message}` objects. */
export function describeWarnings(warnings: unknown): string[] {
  if (!Array.isArray(warnings)) {
    return [];
  }
  return warnings.map(w => {
    if (typeof w === 'string') {
      return w;
    }
    if (w && typeof w === 'object' && 'message' in w) {
      return String((w as { message: unknown }).message);
    }
    return JSON.stringify(w);
  });
}

/** The last segment of a path. */
export function basename(path: string): string {
  const parts = path.split('/').filter(Boolean);
  return parts[parts.length - 1] ?? path;
}

/** A generation's time as a history entry shows it ("13:46" today, else the date and time). */
export function shortTime(date: Date, now = new Date()): string {
  const sameDay = date.toDateString() === now.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleString([], {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit'
      });
}
