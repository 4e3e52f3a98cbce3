/** Errors of the api layer: a file or object that is not a valid NotifyPipeline. */

export interface SpecIssue {
  /** Field path as people write it: `spec.retry.ladder[2]`. */
  path: string;
  message: string;
}

/** An invalid NotifyPipeline. `ladder` exits with code 2 on it; the operator reports it as a condition. */
export class SpecError extends Error {
  readonly code = 'LADDER_INVALID_SPEC';
  constructor(
    readonly source: string,
    readonly issues: SpecIssue[],
    options?: { cause?: unknown },
  ) {
    super(`${source} is not a valid NotifyPipeline:\n${issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, options);
    this.name = 'SpecError';
  }
}

/** `['spec', 'retry', 'ladder', 2]` → `spec.retry.ladder[2]`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}
