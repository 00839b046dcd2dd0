/** A message in the flow of the page: errors are announced at once (role=alert), the rest politely. */
import { type JSX, Show } from 'solid-js';

export type Tone = 'error' | 'warning' | 'info' | 'success';

export function Notice(props: { tone: Tone; title?: string; children?: JSX.Element; action?: JSX.Element; testid?: string }) {
  return (
    <div class={`notice notice-${props.tone}`} role={props.tone === 'error' ? 'alert' : 'status'} data-testid={props.testid}>
      <div class="notice-body">
        <Show when={props.title}>
          <strong class="notice-title">{props.title}</strong>
        </Show>
        <Show when={props.children}>
          <div>{props.children}</div>
        </Show>
      </div>
      <Show when={props.action}>
        <div class="notice-action">{props.action}</div>
      </Show>
    </div>
  );
}
