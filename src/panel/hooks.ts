/**
 * Small React hooks for the panel.
 */
import type { ISignal } from '@lumino/signaling';
import * as React from 'react';

/** Re-render when a Lumino signal fires, at most once per animation frame. */
export function useSignal(
  signal: ISignal<any, any> | null | undefined
): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    if (!signal) {
      return;
    }
    let frame: number | null = null;
    const onSignal = () => {
      if (frame === null) {
        frame = requestAnimationFrame(() => {
          frame = null;
          setTick(t => t + 1);
        });
      }
    };
    signal.connect(onSignal);
    return () => {
      signal.disconnect(onSignal);
      if (frame !== null) {
        cancelAnimationFrame(frame);
      }
    };
  }, [signal]);
  return tick;
}

/** `value`, once it stopped changing for `delay` ms. */
export function useDebounced<T>(value: T, delay: number): T {
  const [debounced, setDebounced] = React.useState(value);
  React.useEffect(() => {
    const timer = setTimeout(() => setDebounced(value), delay);
    return () => clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

/** Re-render every `ms` while `active`. */
export function useTicker(active: boolean, ms = 1000): number {
  const [now, setNow] = React.useState(() => Date.now());
  React.useEffect(() => {
    if (!active) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [active, ms]);
  return now;
}
