// Shared form helpers.

import { useState } from "react";
import { fieldErrors } from "../api/problem";

/** Submitting state of a form: busy flag, per-field and form-level errors. */
export function useSubmit(fields: readonly string[]) {
  const [busy, setBusy] = useState(false);
  const [errors, setErrors] = useState<{ fields: Record<string, string>; form?: string }>({ fields: {} });
  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setErrors({ fields: {} });
    try {
      await work();
    } catch (failure) {
      setErrors(fieldErrors(failure, fields));
    } finally {
      setBusy(false);
    }
  };
  return { busy, errors, run, field: (name: string) => errors.fields[name] };
}

/** "5 minutes ago" for a timestamp, or "never". */
export function ago(timestamp: string | null | undefined, now = Date.now()): string {
  if (!timestamp) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(timestamp)) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function when(timestamp: string | null | undefined): string {
  return timestamp ? new Date(timestamp).toLocaleString() : "—";
}
