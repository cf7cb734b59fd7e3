/**
 * The user's labtrack settings (schema/plugin.json, plugin `labtrack:plugin`) for any panel:
 * every plugin reads the same ones, so one `refreshInterval` paces every panel.
 */
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { DEFAULT_SETTINGS, ILabtrackSettings, PLUGIN_ID } from './tokens';

/** Call `apply` with the settings now and whenever they change (defaults when unavailable). */
export function watchSettings(
  registry: ISettingRegistry | null,
  apply: (settings: ILabtrackSettings) => void
): void {
  if (!registry) {
    apply({ ...DEFAULT_SETTINGS });
    return;
  }
  const read = (loaded: ISettingRegistry.ISettings) =>
    apply({ ...DEFAULT_SETTINGS, ...(loaded.composite as unknown as Partial<ILabtrackSettings>) });
  registry
    .load(PLUGIN_ID)
    .then(loaded => {
      read(loaded);
      loaded.changed.connect(read);
    })
    .catch(reason => {
      console.warn('labtrack: could not load settings, using defaults', reason);
      apply({ ...DEFAULT_SETTINGS });
    });
}
