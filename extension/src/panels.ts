/**
 * What the datasets, models (and later queues) plugins share: a left panel with its icon that
 * loads on its first show and refreshes only while visible, main-area pages tracked for the
 * layout restorer (one per id), and the show / refresh / open commands.
 */
import { ILayoutRestorer, JupyterFrontEnd } from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget, WidgetTracker } from '@jupyterlab/apputils';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { LabIcon } from '@jupyterlab/ui-components';

import { SidePanel } from './components/panel';
import { watchSettings } from './settings';

/** A main-area page of one item (a dataset version, a model), keyed by its id. */
export interface IItemPage extends MainAreaWidget {
  readonly itemId: string;
}

export interface IPanelSpec<P extends IItemPage> {
  app: JupyterFrontEnd;
  restorer: ILayoutRestorer | null;
  palette: ICommandPalette | null;
  settingRegistry: ISettingRegistry | null;
  /** Left-area id, also the restorer's name. */
  icon: LabIcon;
  rank: number;
  /** The panel's main-area pages, if it has any (the queues panel has none). */
  pages?: { namespace: string; create(id: string): P; open: { id: string; label: string } };
  createPanel(open: (id: string) => void): SidePanel;
  load(): Promise<void>;
  startPolling(seconds: number, isVisible: () => boolean): void;
  commands: {
    show: { id: string; label: string };
    refresh: { id: string; label: string };
  };
}

/** Add the panel, its pages and commands; returns the function that opens a page. */
export function addPanel<P extends IItemPage>(spec: IPanelSpec<P>): (id: string) => void {
  const { app, restorer, palette, commands: ids } = spec;
  const open = spec.pages ? addPages(app, restorer, spec.pages) : () => undefined;
  const panel = spec.createPanel(open);
  panel.title.icon = spec.icon;
  app.shell.add(panel, 'left', { rank: spec.rank });
  restorer?.add(panel, panel.id);

  // Nothing is read until the panel is first shown; afterwards it refreshes while visible.
  let loaded = false;
  const loadOnce = () => {
    if (!loaded) {
      loaded = true;
      void spec.load();
    }
  };
  void app.restored.then(() => panel.isVisible && loadOnce());
  panel.shown.connect(loadOnce);
  watchSettings(spec.settingRegistry, settings =>
    spec.startPolling(settings.refreshInterval, () => panel.isVisible)
  );

  app.commands.addCommand(ids.show.id, {
    label: ids.show.label,
    execute: () => app.shell.activateById(panel.id)
  });
  app.commands.addCommand(ids.refresh.id, {
    label: ids.refresh.label,
    execute: () => {
      loaded = true;
      return spec.load();
    }
  });
  for (const command of [ids.show.id, ids.refresh.id]) {
    palette?.addItem({ command, category: 'labtrack' });
  }
  return open;
}

/** Main-area pages, one per id, reopened after a reload; their open command. */
function addPages<P extends IItemPage>(
  app: JupyterFrontEnd,
  restorer: ILayoutRestorer | null,
  pages: NonNullable<IPanelSpec<P>['pages']>
): (id: string) => void {
  const tracker = new WidgetTracker<P>({ namespace: pages.namespace });
  const open = (id: string) => {
    let page = tracker.find(p => p.itemId === id);
    if (!page) {
      page = pages.create(id);
      app.shell.add(page, 'main');
      void tracker.add(page);
    }
    app.shell.activateById(page.id);
  };
  restorer?.restore(tracker, {
    command: pages.open.id,
    args: page => ({ id: page.itemId }),
    name: page => page.itemId
  });
  app.commands.addCommand(pages.open.id, {
    label: pages.open.label,
    isVisible: args => !!args.id,
    execute: args => {
      if (args.id) {
        open(String(args.id));
      }
    }
  });
  return open;
}
