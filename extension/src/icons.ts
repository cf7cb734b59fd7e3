/**
 * The left-bar icons of labtrack's panels (one per panel; theme-aware through `jp-icon3`).
 */
import { LabIcon } from '@jupyterlab/ui-components';

function svg(body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161">${body}</g></svg>`;
}

/** Experiments: a rising chart. */
export const labtrackIcon = new LabIcon({
  name: 'labtrack:icon',
  svgstr: svg(`<path d="M3 20h18v2H3z"/><path d="M5 17l4-6 4 3 5-8 2 1.3-6.2 9.9-4-3L6.7 18z"/>
<circle cx="9" cy="11" r="1.6"/><circle cx="13" cy="14" r="1.6"/><circle cx="18" cy="6" r="1.6"/>`)
});

/** Datasets: a stack of disks (a database). */
export const datasetsIcon = new LabIcon({
  name: 'labtrack:datasets',
  svgstr: svg(`<path d="M12 2C7.6 2 4 3.3 4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.6 0
6 .9 6 1s-2.4 1-6 1-6-.9-6-1 2.4-1 6-1zM6 7.4C7.5 8 9.6 8.3 12 8.3s4.5-.3 6-.9V10c0 .1-2.4 1-6 1s-6-.9-6-1V7.4zm0
5C7.5 13 9.6 13.3 12 13.3s4.5-.3 6-.9V15c0 .1-2.4 1-6 1s-6-.9-6-1v-2.6zm0 5c1.5.6 3.6.9 6 .9s4.5-.3 6-.9V19c0 .1-2.4
1-6 1s-6-.9-6-1v-1.6z"/>`)
});

/** Models: a cube (the weights of a trained model). */
export const modelsIcon = new LabIcon({
  name: 'labtrack:models',
  svgstr: svg(`<path d="M12 1.8 3 6.9v10.2l9 5.1 9-5.1V6.9l-9-5.1zm0 2.3 6.6 3.7L12 11.5 5.4 7.8 12 4.1zM5
9.5l6 3.4v6.8l-6-3.4V9.5zm8 10.2v-6.8l6-3.4v6.8l-6 3.4z"/>`)
});

/** Queues: lines waiting in order. */
export const queuesIcon = new LabIcon({
  name: 'labtrack:queues',
  svgstr: svg(`<path d="M3 4h14v3H3zM3 10.5h14v3H3zM3 17h14v3H3z"/><path d="M19 9l3 3-3 3z"/>`)
});
