/** A progress bar screen readers can read; without `value` it is indeterminate. */
export function ProgressBar(props: { value?: number | undefined; label: string; testid?: string }) {
  const percent = () => (props.value === undefined ? undefined : Math.round(Math.min(1, Math.max(0, props.value)) * 100));
  return (
    <div
      class="progress"
      classList={{ indeterminate: percent() === undefined }}
      role="progressbar"
      aria-label={props.label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={percent()}
      data-testid={props.testid}
    >
      <div class="progress-fill" style={{ width: percent() === undefined ? '40%' : `${percent()}%` }} />
    </div>
  );
}
