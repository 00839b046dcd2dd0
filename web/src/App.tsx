/**
 * The web mirror: sign up or in, then the wardrobe (upload a garment, see it cut out), the
 * mirror (live preview and Snap), the results (live status, before and after) and, for
 * operators, the policy view. The mirror and operator screens load on first visit: the camera
 * pipeline (three.js, MediaPipe) is not part of the first download.
 */
import { createEffect, lazy, Match, Suspense, Switch } from 'solid-js';
import { Layout } from './components/Layout.tsx';
import { AuthPage } from './pages/Auth/AuthPage.tsx';
import { ResultsPage } from './pages/Results/ResultsPage.tsx';
import { WardrobePage } from './pages/Wardrobe/WardrobePage.tsx';
import { currentPath, navigate, routeOf } from './router.ts';
import { AppContext } from './stores/context.ts';
import { createJobs } from './stores/createJobs.ts';
import { createSession } from './stores/createSession.ts';
import { createWardrobe } from './stores/createWardrobe.ts';

const MirrorPage = lazy(() => import('./pages/Mirror/MirrorPage.tsx'));
const OpsPage = lazy(() => import('./pages/Ops/OpsPage.tsx'));

export function App() {
  const session = createSession();
  const jobs = createJobs(session);
  const wardrobe = createWardrobe(session, jobs);
  const route = () => routeOf(currentPath());

  // signed out: only the sign-in and sign-up screens; signed in: never those
  createEffect(() => {
    const r = route();
    const signedIn = session.user() !== undefined;
    if (!signedIn && r !== 'signin' && r !== 'signup') navigate('/signin', { replace: true });
    else if (signedIn && (r === undefined || r === 'signin' || r === 'signup')) navigate('/wardrobe', { replace: true });
  });

  createEffect(() => {
    const titles: Record<string, string> = {
      signin: 'Sign in',
      signup: 'Sign up',
      wardrobe: 'Wardrobe',
      mirror: 'Mirror',
      results: 'Results',
      ops: 'Operators',
    };
    const r = route();
    document.title = r ? `${titles[r]} · Proteus` : 'Proteus';
  });

  return (
    <AppContext.Provider value={{ session, jobs, wardrobe }}>
      <Switch>
        <Match when={route() === 'signin' || route() === 'signup'}>
          <AuthPage mode={route() === 'signup' ? 'signup' : 'signin'} />
        </Match>
        <Match when={session.user()}>
          <Layout>
            <Suspense fallback={<p class="loading">Loading…</p>}>
              <Switch>
                <Match when={route() === 'wardrobe'}>
                  <WardrobePage />
                </Match>
                <Match when={route() === 'mirror'}>
                  <MirrorPage />
                </Match>
                <Match when={route() === 'results'}>
                  <ResultsPage />
                </Match>
                <Match when={route() === 'ops'}>
                  <OpsPage />
                </Match>
              </Switch>
            </Suspense>
          </Layout>
        </Match>
      </Switch>
    </AppContext.Provider>
  );
}
