/** The app's stores, made once under the root and read by every screen. */
import { createContext, useContext } from 'solid-js';
import type { Jobs } from './createJobs.ts';
import type { Session } from './createSession.ts';
import type { Wardrobe } from './createWardrobe.ts';

export interface AppStores {
  session: Session;
  jobs: Jobs;
  wardrobe: Wardrobe;
}

export const AppContext = createContext<AppStores>();

export function useApp(): AppStores {
  const stores = useContext(AppContext);
  if (!stores) throw new Error('useApp() outside <AppContext.Provider>');
  return stores;
}
