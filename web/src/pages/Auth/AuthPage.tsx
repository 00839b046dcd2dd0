/** Sign in and sign up: one form, the api's own rules (password 12 to 128 characters) said up front. */
import { createSignal, For, Show } from 'solid-js';
import { ApiError } from '../../api/problem.ts';
import { Link } from '../../components/Link.tsx';
import { Notice } from '../../components/Notice.tsx';
import { navigate } from '../../router.ts';
import { useApp } from '../../stores/context.ts';

export const MIN_PASSWORD = 12;
export const MAX_PASSWORD = 128;

function authMessage(error: unknown, mode: 'signin' | 'signup'): string {
  if (!(error instanceof ApiError)) return 'Something went wrong. Try again.';
  if (error.kind === 'unauthorized') return 'That e-mail and password do not match an account.';
  if (error.kind === 'conflict' && mode === 'signup') return 'An account with this e-mail exists already. Sign in instead.';
  if (error.kind === 'rate-limited') return `Too many attempts. Try again${error.retryAfterS ? ` in ${error.retryAfterS} s` : ' later'}.`;
  return error.message;
}

export function AuthPage(props: { mode: 'signin' | 'signup' }) {
  const { session } = useApp();
  const [error, setError] = createSignal<unknown>();
  const [busy, setBusy] = createSignal(false);
  const signup = () => props.mode === 'signup';

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const email = String(form.get('email') ?? '').trim();
    const password = String(form.get('password') ?? '');
    setError(undefined);
    setBusy(true);
    try {
      if (signup()) await session.signUp(email, password, String(form.get('displayName') ?? '').trim() || undefined);
      else await session.signIn(email, password);
      navigate('/wardrobe', { replace: true });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const fieldErrors = () => (error() instanceof ApiError ? (error() as ApiError).fields : []);

  return (
    <main id="main" class="auth">
      <div class="auth-card">
        <p class="brand auth-brand">
          <span class="brand-mark" aria-hidden="true">
            ◐
          </span>{' '}
          Proteus
        </p>
        <h1>{signup() ? 'Create your account' : 'Welcome back'}</h1>
        <p class="lede">See a garment on you, live, then get a photoreal try-on.</p>
        <form onSubmit={submit} class="form" novalidate={false}>
          <Show when={signup()}>
            <label class="field">
              <span>Name (optional)</span>
              <input name="displayName" autocomplete="nickname" maxLength={100} />
            </label>
          </Show>
          <label class="field">
            <span>E-mail</span>
            <input name="email" type="email" required autocomplete="email" />
          </label>
          <label class="field">
            <span>Password</span>
            <input
              name="password"
              type="password"
              required
              minLength={signup() ? MIN_PASSWORD : 1}
              maxLength={MAX_PASSWORD}
              autocomplete={signup() ? 'new-password' : 'current-password'}
              aria-describedby={signup() ? 'password-rule' : undefined}
            />
            <Show when={signup()}>
              <small id="password-rule">
                {MIN_PASSWORD} to {MAX_PASSWORD} characters.
              </small>
            </Show>
          </label>
          <Show when={error()}>
            <Notice tone="error" title={authMessage(error(), props.mode)} testid="auth-error">
              <Show when={fieldErrors().length}>
                <ul>
                  <For each={fieldErrors()}>
                    {(f) => (
                      <li>
                        {f.path}: {f.message}
                      </li>
                    )}
                  </For>
                </ul>
              </Show>
            </Notice>
          </Show>
          <button type="submit" class="button primary wide" disabled={busy()}>
            {busy() ? 'One moment…' : signup() ? 'Create account' : 'Sign in'}
          </button>
        </form>
        <p class="switch">
          {signup() ? 'Have an account? ' : 'New here? '}
          <Link href={signup() ? '/signin' : '/signup'}>{signup() ? 'Sign in' : 'Create an account'}</Link>
        </p>
      </div>
    </main>
  );
}
